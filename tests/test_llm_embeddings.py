"""Embeddings for lesson retrieval: the local hashing embedder, and the gateway's `/embeddings`
model against the local OpenAI-compatible server (its vectors, its ledger row, its failures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llm import GatewayEmbedder, HashingEmbedder, ModelStack, embedder_for
from llm.gateway.types import LLMCallError
from llm.testing.openai_server import EMBEDDING_DIMENSIONS, FakeOpenAIServer, Fault
from tests.gateway_helpers import GatewayKit, small_stack_data
from tests.llm_helpers import ledger_rows

EMBED_MODEL = "embed-e"
PRICE_PER_MILLION = 0.02


def embedding_stack() -> ModelStack:
    data = small_stack_data()
    data["embedding_model"] = EMBED_MODEL
    data["models"][EMBED_MODEL] = {
        "input_per_million": PRICE_PER_MILLION,
        "output_per_million": 0.0,
        "context_tokens": 8_000,
    }
    return ModelStack.from_mapping(data, source="test stack")


def test_the_local_embedding_is_deterministic_unit_length_and_reads_wording() -> None:
    texts = ["bull regime, go long", "bull regime, go long again", "bear regime: short"]
    first, again = HashingEmbedder().embed(texts), HashingEmbedder().embed(texts)
    assert np.array_equal(first, again) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0)
    similarity = first @ first.T
    assert similarity[0, 1] > similarity[0, 2]
    assert not HashingEmbedder().embed([""]).any()  # nothing to hash: the zero vector


def test_the_gateway_embeds_through_the_stack_model_and_charges_the_ledger(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = GatewayKit.build(openai_server, tmp_path, stack=embedding_stack())
    openai_server.configure(EMBED_MODEL, prompt_tokens=50)
    embedder = embedder_for(kit.gateway)
    assert isinstance(embedder, GatewayEmbedder) and embedder.model == EMBED_MODEL

    vectors = embedder.embed(["bull regime, go long", "bear regime"])

    assert vectors.shape == (2, EMBEDDING_DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    (request,) = openai_server.requests
    assert request.model == EMBED_MODEL and request.body["input"] == [
        "bull regime, go long",
        "bear regime",
    ]
    (row,) = ledger_rows(kit.settings.ledger_path)
    assert (row.task, row.model_requested, row.input_tokens) == ("embedding", EMBED_MODEL, 100)
    assert row.cost_usd == pytest.approx(100 * PRICE_PER_MILLION / 1e6)


def test_a_failed_embedding_is_a_ledger_row_and_an_error_never_a_made_up_vector(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = GatewayKit.build(openai_server, tmp_path, stack=embedding_stack())
    openai_server.script(EMBED_MODEL, Fault.server_error())
    with pytest.raises(LLMCallError, match="embedding by embed-e failed"):
        kit.gateway.embed(["bull regime"])
    (row,) = ledger_rows(kit.settings.ledger_path)
    assert row.task == "embedding" and row.error is not None and row.cost_usd == 0.0


def test_without_an_embedding_model_lessons_are_embedded_locally(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = GatewayKit.build(openai_server, tmp_path)
    assert isinstance(embedder_for(kit.gateway), HashingEmbedder)
