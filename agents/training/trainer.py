"""Train one agent per seed and write its agent directory (see `agents.storage`).

For each seed: SB3 learns on the batched env over the train split less its last
`calibration_bars` bars (random-start episodes), while an EvalCallback runs the deterministic
policy over the whole validation split (costs on) and keeps the best model; the final model
replaces it only if it does better there. Then the agent is finished (`finish_agent`): its switch
margin is chosen on validation (`agents.training.selection`), its confidence map fitted on the
held-out calibration bars, which neither trained nor selected it, and it is saved with its
manifest and evaluated once on the test split beside buy-and-hold. With several seeds, the kept
models are finished once more together, as the seed ensemble in the output directory. Test
numbers never feed back into any choice.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback, EvalCallback
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor

from agents.confidence import calibrate
from agents.config import TrainConfig
from agents.drl_agent import DRLAgent
from agents.errors import AgentError
from agents.manifest import (
    MANIFEST_FORMAT_VERSION,
    AgentManifest,
    env_config_to_dict,
    library_versions,
)
from agents.policy_scores import ensemble_policy, member_scores, observation_shape
from agents.storage import (
    SEEDS_SUMMARY_FILE,
    AgentPaths,
    check_output_directory,
    load_model,
    model_files,
    seed_dir,
    write_json,
)
from agents.training.evaluation import evaluate_agent, rollout_metrics
from agents.training.market_data import (
    hold_out_calibration,
    split_date_ranges,
    split_with_history,
    training_setup,
)
from agents.training.pooled_env import PooledVecEnv, copies_per_source
from agents.training.rollout import run_policy, sequential_config
from agents.training.sb3_models import build_model
from agents.training.seed_summary import AgentResult, TrainingRun, summarize_seeds
from agents.training.selection import choose_switch_margin
from envs import (
    BatchedTradingEnv,
    EnvConfig,
    EnvSetupError,
    MarketArrays,
    PreparedMarket,
    TradingEnv,
    canonical_source,
)


def train_agents(
    config: TrainConfig,
    progress_bar: bool = True,
    on_validation: ValidationListener | None = None,
) -> TrainingRun:
    """Train every seed of `config`; one seed writes `config.out`, several write `out/seed_<n>/`
    and their seed ensemble in `out` itself. `on_validation(timesteps, score)` hears each
    validation run during training (score: the validation split's summed net log return), e.g.
    for a hyperparameter search that stops poor trials early."""
    check_output_directory(config.out, "--out", force=config.force)
    markets, env_config = training_setup(config)
    for earlier in AgentPaths(config.out).written():  # --force: the old agent goes whole
        if earlier.is_dir():
            shutil.rmtree(earlier)
        else:
            earlier.unlink()
    prepared = markets[0]
    if len(config.seeds) == 1:
        member = train_seed(
            config,
            markets,
            env_config=env_config,
            seed=config.seeds[0],
            out=config.out,
            progress_bar=progress_bar,
            on_validation=on_validation,
        )
        return TrainingRun([member], None)
    members = [
        train_seed(
            config,
            markets,
            env_config=env_config,
            seed=seed,
            out=seed_dir(config.out, seed),
            progress_bar=progress_bar,
            on_validation=on_validation,
        )
        for seed in config.seeds
    ]
    models = [load_model(AgentPaths(m.directory).model, config.algo) for m in members]
    ensemble = finish_agent(
        config, prepared, env_config=env_config, models=models, seeds=config.seeds, out=config.out
    )
    write_json(config.out / SEEDS_SUMMARY_FILE, summarize_seeds(members, ensemble))
    return TrainingRun(members, ensemble)


def train_seed(
    config: TrainConfig,
    markets: list[PreparedMarket],
    *,
    env_config: EnvConfig,
    seed: int,
    out: Path,
    progress_bar: bool,
    on_validation: ValidationListener | None = None,
) -> AgentResult:
    """Train and select the model of one seed on `markets` (pooled; the first validates), then
    finish its agent (see module docstring)."""
    set_random_seed(seed)
    torch.set_num_threads(config.torch_threads)
    paths = AgentPaths(out)
    prepared = markets[0]
    validation = split_with_history(prepared, "validation", env_config.window_size)
    try:
        train_env = VecMonitor(_training_env(config, markets, env_config))
        eval_env = VecMonitor(
            DummyVecEnv([lambda: TradingEnv(validation, sequential_config(env_config))])
        )
    except EnvSetupError as exc:
        raise AgentError(f"{config.data}: {exc}") from None
    model = build_model(config, train_env, seed, paths.tensorboard)
    evaluation = EvalCallback(
        eval_env,
        n_eval_episodes=1,
        eval_freq=max(1, config.eval_freq // config.n_envs),
        best_model_save_path=str(paths.best_model_dir),
        log_path=str(paths.eval_log),
        deterministic=True,
        verbose=0,
        callback_after_eval=None if on_validation is None else _Listener(on_validation),
    )
    checkpoints = CheckpointCallback(
        save_freq=max(1, config.checkpoint_freq // config.n_envs),
        save_path=str(paths.checkpoints),
        name_prefix=config.algo,
    )
    model.learn(
        total_timesteps=config.timesteps,
        callback=[evaluation, checkpoints],
        progress_bar=progress_bar,
        tb_log_name=config.algo,
    )
    model = _best_on_validation(
        model,
        evaluation.best_mean_reward,
        paths=paths,
        validation=validation,
        env_config=env_config,
        algorithm=config.algo,
    )
    return finish_agent(
        config, prepared, env_config=env_config, models=[model], seeds=(seed,), out=out
    )


ValidationListener = Callable[[int, float], None]


class _Listener(BaseCallback):
    """Tells `listener` the timesteps and the validation score after each validation run."""

    def __init__(self, listener: ValidationListener) -> None:
        super().__init__()
        self.listener = listener

    def _on_step(self) -> bool:
        assert isinstance(self.parent, EvalCallback)
        self.listener(self.num_timesteps, float(self.parent.last_mean_reward))
        return True


def _training_env(
    config: TrainConfig, markets: list[PreparedMarket], env_config: EnvConfig
) -> VecEnv:
    """The batched env over each market's train split less its calibration hold-out (every
    source's, so that no source trains on the calibration years), pooled if several."""
    try:
        counts = copies_per_source(config.n_envs, len(markets))
    except ValueError as exc:
        raise AgentError(f"--n-envs: {exc}") from None
    envs: list[VecEnv] = []
    for market, n_envs in zip(markets, counts, strict=True):
        train, _ = hold_out_calibration(market, config.calibration_bars, env_config.window_size)
        envs.append(BatchedTradingEnv(train, env_config, n_envs))
    return envs[0] if len(envs) == 1 else PooledVecEnv(envs)


def finish_agent(
    config: TrainConfig,
    prepared: PreparedMarket,
    *,
    env_config: EnvConfig,
    models: Sequence[BaseAlgorithm],
    seeds: tuple[int, ...],
    out: Path,
) -> AgentResult:
    """Choose the switch margin on validation, fit the confidence on the calibration hold-out,
    save the agent directory and evaluate it once on the test split."""
    window = env_config.window_size
    validation = split_with_history(prepared, "validation", window)
    chosen, trials, validation_rollout = choose_switch_margin(
        models, validation, env_config, config.max_trades_per_year
    )
    _, held_out = hold_out_calibration(prepared, config.calibration_bars, window)
    targets = np.asarray(env_config.target_positions)
    calibration = run_policy(held_out, env_config, ensemble_policy(models, targets, chosen.margin))
    scores = member_scores(models, calibration.observations)
    manifest = AgentManifest(
        algorithm=config.algo,
        feature_names=prepared.normalizer.feature_names,
        observation_shape=observation_shape(models[0]),
        n_actions=len(targets),
        normalizer=None if len(config.sources) > 1 else prepared.normalizer.to_dict(),
        training_sources=tuple(canonical_source(source) for source in config.sources),
        env_config=env_config_to_dict(env_config),
        data_source=canonical_source(prepared.source),
        data_hash=prepared.data_hash,
        splits=split_date_ranges(prepared, config.calibration_bars),
        seeds=seeds,
        model_files=model_files(seeds),
        switch_margin=chosen.margin,
        switch_margin_search=trials,
        train_config=config.model_dump(mode="json"),
        library_versions=library_versions(),
        validation_metrics=rollout_metrics(validation_rollout, prepared.periods_per_year),
        calibration=calibrate(scores, calibration.actions, calibration.correct),
        format_version=MANIFEST_FORMAT_VERSION,
    )
    agent = DRLAgent(models, manifest, source=str(out))
    agent.save(out)
    test = evaluate_agent(agent, split_with_history(prepared, "test", window), "test")
    write_json(AgentPaths(out).evaluation, test.to_dict())
    return AgentResult(seeds, out, manifest.validation_metrics, test)


def _best_on_validation(
    final: BaseAlgorithm,
    best_reward: float,
    *,
    paths: AgentPaths,
    validation: MarketArrays,
    env_config: EnvConfig,
    algorithm: str,
) -> BaseAlgorithm:
    """The EvalCallback's best model, or the final one if it did better on validation (both
    without a switch margin, as the callback ran it)."""
    policy = ensemble_policy([final], np.asarray(env_config.target_positions), 0.0)
    final_reward = run_policy(validation, env_config, policy).reward_sum
    if not paths.best_model.is_file() or final_reward > best_reward:
        return final
    return load_model(paths.best_model, algorithm)
