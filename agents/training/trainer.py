"""Train one agent per seed and write its agent directory (see `agents.storage`).

For each seed: SB3 learns on the batched env over the train split less its last
`calibration_bars` bars (random-start episodes), while an EvalCallback runs the deterministic
policy over the whole validation split (costs on) and keeps the best model; the final model
replaces it only if it does better there. The kept model's confidence map is then fitted on the
held-out calibration bars, which neither trained nor selected it; the agent is saved with its
manifest and evaluated once on the test split beside buy-and-hold. Test numbers never feed back
into any choice.
"""

from __future__ import annotations

from pathlib import Path

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

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
from agents.policy_scores import greedy_policy, observation_shape, policy_scores
from agents.storage import SEEDS_SUMMARY_FILE, AgentPaths, load_model, seed_dir, write_json
from agents.training.evaluation import evaluate_agent, rollout_metrics
from agents.training.market_data import (
    hold_out_calibration,
    prepare_training_market,
    split_date_ranges,
    split_with_history,
)
from agents.training.rollout import Rollout, run_policy, sequential_config
from agents.training.sb3_models import build_model
from agents.training.seed_summary import SeedResult, summarize_seeds
from envs import (
    BatchedTradingEnv,
    CostModel,
    EnvConfig,
    EnvSetupError,
    MarketArrays,
    PreparedMarket,
    TradingEnv,
)


def train_agents(config: TrainConfig, progress_bar: bool = True) -> list[SeedResult]:
    """Train every seed of `config`; one seed writes `config.out`, several `out/seed_<n>/`."""
    prepared = prepare_training_market(config)
    env_config = training_env_config(config)
    single = len(config.seeds) == 1
    results = [
        train_seed(
            config,
            prepared,
            env_config=env_config,
            seed=seed,
            out=config.out if single else seed_dir(config.out, seed),
            progress_bar=progress_bar,
        )
        for seed in config.seeds
    ]
    if not single:
        write_json(config.out / SEEDS_SUMMARY_FILE, summarize_seeds(results))
    return results


def training_env_config(config: TrainConfig) -> EnvConfig:
    """The env of training: random-start episodes of `episode_length` bars, costs as given."""
    try:
        return EnvConfig(
            window_size=config.window_size,
            mode=config.mode,
            cost_model=CostModel(config.commission_bps, config.slippage_bps),
            rebalance_band=config.rebalance_band,
            turnover_penalty=config.turnover_penalty,
            episode_length=config.episode_length,
        )
    except (EnvSetupError, ValueError) as exc:
        raise AgentError(str(exc)) from None


def train_seed(
    config: TrainConfig,
    prepared: PreparedMarket,
    *,
    env_config: EnvConfig,
    seed: int,
    out: Path,
    progress_bar: bool,
) -> SeedResult:
    """Train, select, calibrate, save and evaluate the agent of one seed (see module docstring)."""
    set_random_seed(seed)
    torch.set_num_threads(config.torch_threads)
    paths = AgentPaths(out)
    validation = split_with_history(prepared, "validation", env_config.window_size)
    train_market, calibration_market = hold_out_calibration(
        prepared, config.calibration_bars, env_config.window_size
    )
    try:
        train_env = VecMonitor(BatchedTradingEnv(train_market, env_config, config.n_envs))
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
    model, validation_rollout = _best_on_validation(
        model,
        evaluation.best_mean_reward,
        paths=paths,
        validation=validation,
        env_config=env_config,
        algorithm=config.algo,
    )
    manifest = _manifest(
        config,
        prepared,
        env_config=env_config,
        seed=seed,
        model=model,
        validation=validation_rollout,
        calibration=run_policy(calibration_market, env_config, greedy_policy(model)),
    )
    agent = DRLAgent(model, manifest, source=str(out))
    agent.save(out)
    test = evaluate_agent(
        agent, split_with_history(prepared, "test", env_config.window_size), "test"
    )
    write_json(paths.evaluation, test.to_dict())
    return SeedResult(seed, out, manifest.validation_metrics, test)


def _best_on_validation(
    final: BaseAlgorithm,
    best_reward: float,
    *,
    paths: AgentPaths,
    validation: MarketArrays,
    env_config: EnvConfig,
    algorithm: str,
) -> tuple[BaseAlgorithm, Rollout]:
    """The EvalCallback's best model, or the final one if it did better on validation."""
    final_rollout = run_policy(validation, env_config, greedy_policy(final))
    if not paths.best_model.is_file() or final_rollout.reward_sum > best_reward:
        return final, final_rollout
    best = load_model(paths.best_model, algorithm)
    return best, run_policy(validation, env_config, greedy_policy(best))


def _manifest(
    config: TrainConfig,
    prepared: PreparedMarket,
    *,
    env_config: EnvConfig,
    seed: int,
    model: BaseAlgorithm,
    validation: Rollout,
    calibration: Rollout,
) -> AgentManifest:
    scores = policy_scores(model, calibration.observations)
    return AgentManifest(
        algorithm=config.algo,
        feature_names=prepared.normalizer.feature_names,
        observation_shape=observation_shape(model),
        n_actions=len(env_config.target_positions),
        normalizer=prepared.normalizer.to_dict(),
        env_config=env_config_to_dict(env_config),
        data_source=config.data,
        data_hash=prepared.data_hash,
        splits=split_date_ranges(prepared, config.calibration_bars),
        seed=seed,
        train_config=config.model_dump(mode="json"),
        library_versions=library_versions(),
        validation_metrics=rollout_metrics(validation),
        calibration=calibrate(scores, calibration.actions, calibration.correct),
        format_version=MANIFEST_FORMAT_VERSION,
    )
