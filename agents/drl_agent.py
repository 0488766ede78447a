"""A trained agent at decision time: load it, check it fits the data, decide with a confidence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm

from agents.decision import DRLDecision
from agents.errors import AgentError
from agents.manifest import AgentManifest, env_config_from_dict
from agents.policy_scores import (
    ensemble_scores,
    member_scores,
    observation_shape,
    sticky_actions,
    uses_log_probabilities,
)
from agents.storage import load_model, read_manifest, write_manifest
from envs import EnvConfig, FeatureNormalizer, MarketDataError


class DRLAgent:
    """SB3 DQN or PPO models (one, or a seed ensemble) with their manifest; every decision is
    deterministic.

    DQN acts greedily on its Q-values, PPO takes the mode of its action distribution; both are the
    argmax of the scores in `agents.policy_scores`, an ensemble's being the mean Q-values or mean
    probabilities of its members, after the manifest's switch margin is added to the score of the
    action held (the position the observation shows). The confidence is the calibration map of
    the manifest applied to the members' scores at the chosen action (see `agents.confidence`), so
    that the members' disagreement lowers it.
    """

    def __init__(
        self, models: Sequence[BaseAlgorithm], manifest: AgentManifest, source: str
    ) -> None:
        self.models = tuple(models)
        self.manifest = manifest
        self.source = source  # where it was loaded from, named in errors
        self.env_config: EnvConfig = env_config_from_dict(manifest.env_config, where=source)
        self._targets = np.asarray(self.env_config.target_positions)
        if len(self._targets) != manifest.n_actions:
            raise AgentError(
                f"{source}: manifest has {manifest.n_actions} actions but its env config maps"
                f" {len(self._targets)}"
            )
        if len(manifest.calibration.map.intercepts) != manifest.n_actions:
            raise AgentError(
                f"{source}: manifest has {manifest.n_actions} actions but its confidence"
                f" calibration has {len(manifest.calibration.map.intercepts)} intercepts"
            )
        if len(self.models) != len(manifest.model_files):
            raise AgentError(
                f"{source}: the manifest lists {len(manifest.model_files)} model(s)"
                f" ({', '.join(manifest.model_files)}), {len(self.models)} were given"
            )
        for model, name in zip(self.models, manifest.model_files, strict=True):
            if getattr(model.action_space, "n", None) != manifest.n_actions:
                raise AgentError(
                    f"{source}: {name} has action space {model.action_space}, the manifest says"
                    f" {manifest.n_actions} actions"
                )
            if observation_shape(model) != manifest.observation_shape:
                raise AgentError(
                    f"{source}: {name} expects observations of shape"
                    f" {observation_shape(model)}, the manifest says {manifest.observation_shape}"
                )

    def save(self, directory: str | Path) -> None:
        """Write the models and the manifest into `directory`, as `load` reads them back.

        Training writes its other files (checkpoints, logs, the test evaluation) beside them.
        """
        root = Path(directory)
        for model, name in zip(self.models, self.manifest.model_files, strict=True):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            model.save(root / name)
        write_manifest(root, self.manifest)

    @classmethod
    def load(cls, directory: str | Path) -> DRLAgent:
        """Load an agent directory written by `save`; any problem is an AgentError, a model
        file that the manifest lists but the directory lacks included."""
        root = Path(directory)
        manifest = read_manifest(root)
        models = [load_model(root / name, manifest.algorithm) for name in manifest.model_files]
        return cls(models, manifest, source=str(root))

    @property
    def algorithm(self) -> str:
        return self.manifest.algorithm

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.manifest.feature_names

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return self.manifest.observation_shape

    def feature_normalizer(self) -> FeatureNormalizer | None:
        """The normalisation fitted on the agent's training split, to apply to any new data; None
        for an agent trained on several sources, each normalised on its own train split: pass
        None on (`envs.prepare_market(..., normalizer=None)`) and new data is normalised on its
        own train split too."""
        if self.manifest.normalizer is None:
            return None
        try:
            return FeatureNormalizer.from_dict(self.manifest.normalizer)
        except MarketDataError as exc:
            raise AgentError(f"{self.source}: {exc}") from None

    def check_compatible(
        self, feature_names: Sequence[str], observation_shape: Sequence[int] | None = None
    ) -> None:
        """Refuse data whose features (names and order) or observation shape differ from training.

        Nothing else is checked: an agent trained on one source runs on any other source whose
        features match, which is how it is tested out of sample.
        """
        given = tuple(feature_names)
        if given != self.feature_names:
            raise AgentError(f"{self.source}: {_feature_difference(self.feature_names, given)}")
        if observation_shape is not None and tuple(observation_shape) != self.observation_shape:
            raise AgentError(
                f"{self.source}: the agent expects observations of shape"
                f" {self.observation_shape}, got {tuple(observation_shape)}"
            )

    def decide(self, observation: np.ndarray) -> DRLDecision:
        """The deterministic decision for one observation."""
        observation = np.asarray(observation, dtype=np.float32)
        if observation.shape != self.observation_shape:
            raise AgentError(
                f"{self.source}: observation has shape {observation.shape}, the agent expects"
                f" {self.observation_shape}"
            )
        return self.decide_many(observation[None, :])[0]

    def decide_many(self, observations: np.ndarray) -> list[DRLDecision]:
        """Decisions for a batch of observations (n, *observation_shape), in one forward pass."""
        observations = np.asarray(observations, dtype=np.float32)
        if observations.shape[1:] != self.observation_shape:
            raise AgentError(
                f"{self.source}: observations have shape {observations.shape}, the agent expects"
                f" (n, {', '.join(map(str, self.observation_shape))})"
            )
        finite = np.isfinite(observations)
        if not finite.all():
            row, column = np.argwhere(~finite)[0]
            raise AgentError(
                f"{self.source}: observation {row} holds {observations[row, column]} at index"
                f" {column}; an agent decides on finite numbers only"
            )
        members = member_scores(self.models, observations)
        log_probs = uses_log_probabilities(self.models[0])  # all members share the algorithm
        scores = ensemble_scores(members, log_probs)
        actions = sticky_actions(scores, observations, self._targets, self.manifest.switch_margin)
        confidences = self.manifest.calibration.confidence(members, actions)
        return [
            DRLDecision(
                action=int(action),
                target_position=float(self._targets[action]),
                confidence=float(np.clip(confidence, 0.0, 1.0)),
                q_values=None if log_probs else row,
                action_probs=np.exp(row) if log_probs else None,
            )
            for action, confidence, row in zip(actions, confidences, scores, strict=True)
        ]

    def act(self, observation: np.ndarray) -> int:
        """Only the action index of `decide`: the policy function for a rollout."""
        return self.decide(observation).action


def _feature_difference(expected: tuple[str, ...], given: tuple[str, ...]) -> str:
    missing = [name for name in expected if name not in given]
    unexpected = [name for name in given if name not in expected]
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected {', '.join(unexpected)}")
    if not parts:
        parts.append(f"same features in another order: expected {', '.join(expected)}")
    return "feature mismatch with the agent's training data: " + "; ".join(parts)
