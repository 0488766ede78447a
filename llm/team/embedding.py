"""Text embeddings for retrieving lessons: a deterministic local one that needs no download.

`HashingEmbedder` hashes each word and each pair of adjacent words (blake2b: the same in every
process, unlike `hash`) into signed buckets of a fixed-size vector, L2-normalised, so that the
cosine of two lessons is the overlap of their wording. It needs no model file and no network and is
exact across runs, so a resumed run retrieves exactly what an uninterrupted one did. A gateway's
`/embeddings` model is the other `Embedder` (`GatewayEmbedder`, over `llm.gateway.Gateway.embed`),
used when the model stack names an `embedding_model` (`embedder_for`).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from llm.gateway import Gateway

DEFAULT_DIMENSIONS = 256
_TOKEN = re.compile(r"[a-z]+")


class Embedder(Protocol):
    """Turns texts into unit vectors, one row per text; `model` names how (stored with them)."""

    @property
    def model(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class HashingEmbedder:
    """Feature hashing of words and word pairs (see the module docstring)."""

    def __init__(self, dimensions: int = DEFAULT_DIMENSIONS) -> None:
        self.dimensions = dimensions

    @property
    def model(self) -> str:
        return f"local-hashing-{self.dimensions}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _TOKEN.findall(text.lower())
            for token in (*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))):
                digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest())
                sign = 1.0 if digest & 1 else -1.0
                vectors[row, (digest >> 1) % self.dimensions] += sign
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0.0, norms, 1.0)


class GatewayEmbedder:
    """The stack's `embedding_model` through the gateway: each call in the ledger, with its cost;
    a failed call raises (`LLMCallError`) and the caller does without (fail closed)."""

    def __init__(self, gateway: Gateway) -> None:
        if gateway.stack.embedding_model is None:
            raise ValueError("the gateway's model stack names no embedding_model")
        self.gateway = gateway
        self._model = gateway.stack.embedding_model

    @property
    def model(self) -> str:
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.gateway.embed(texts)


def embedder_for(gateway: object) -> Embedder:
    """The gateway's embedding model when its stack names one, else the local embedder."""
    if isinstance(gateway, Gateway) and gateway.stack.embedding_model is not None:
        return GatewayEmbedder(gateway)
    return HashingEmbedder()
