"""The `train` command, defined once: `python train.py` and `hybrid-trader train` both use it."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from agents.config import DQNParams, PPOParams, TrainConfig, parse_layers, parse_seeds
from agents.errors import AgentError
from envs import EnvSetupError, MarketDataError

if TYPE_CHECKING:
    from agents.training.trainer import SeedResult

USER_ERRORS: tuple[type[Exception], ...] = (AgentError, MarketDataError, EnvSetupError)
USER_ERROR_EXIT_CODE = 2
_DQN, _PPO = DQNParams(), PPOParams()
_DATA, _ENV, _TRAIN, _DQN_PANEL, _PPO_PANEL = "Data", "Env and costs", "Training", "DQN", "PPO"


class Algo(StrEnum):
    DQN = "dqn"
    PPO = "ppo"


class Mode(StrEnum):
    LONG_ONLY = "long_only"
    LONG_SHORT = "long_short"


def train_command(
    *,
    algo: Annotated[Algo, typer.Option(help="RL algorithm.", rich_help_panel=_TRAIN)] = Algo.DQN,
    data: Annotated[
        str,
        typer.Option(
            help="sp500, nasdaq, synthetic, or a CSV/Parquet path.", rich_help_panel=_DATA
        ),
    ] = "sp500",
    out: Annotated[
        Path, typer.Option(help="Agent directory to write.", rich_help_panel=_TRAIN)
    ] = Path("runs/agent"),
    timesteps: Annotated[
        int, typer.Option(help="Env steps per seed, over all envs.", rich_help_panel=_TRAIN)
    ] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed.", rich_help_panel=_TRAIN)] = 0,
    seeds: Annotated[
        str | None,
        typer.Option(help="Several seeds, e.g. 0,1,2 (overrides --seed).", rich_help_panel=_TRAIN),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First date of data used.", rich_help_panel=_DATA)
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last date of data used.", rich_help_panel=_DATA)
    ] = None,
    validation_start: Annotated[
        str | None,
        typer.Option(help="First validation date (default: the source's).", rich_help_panel=_DATA),
    ] = None,
    test_start: Annotated[
        str | None,
        typer.Option(help="First test date (default: the source's).", rich_help_panel=_DATA),
    ] = None,
    commission_bps: Annotated[
        float, typer.Option(help="Commission, bp of traded notional.", rich_help_panel=_ENV)
    ] = 1.0,
    slippage_bps: Annotated[
        float, typer.Option(help="Slippage, bp of the fill price.", rich_help_panel=_ENV)
    ] = 2.0,
    mode: Annotated[
        Mode, typer.Option(help="Allowed positions.", rich_help_panel=_ENV)
    ] = Mode.LONG_ONLY,
    window_size: Annotated[
        int, typer.Option(help="Bars of features per observation.", rich_help_panel=_ENV)
    ] = 30,
    episode_length: Annotated[
        int, typer.Option(help="Bars per training episode.", rich_help_panel=_ENV)
    ] = 252,
    n_envs: Annotated[
        int, typer.Option(help="Parallel envs of the batched env.", rich_help_panel=_TRAIN)
    ] = 8,
    learning_rate: Annotated[
        float | None,
        typer.Option(help="Default: 1e-4 (DQN), 3e-4 (PPO).", rich_help_panel=_TRAIN),
    ] = None,
    gamma: Annotated[float, typer.Option(help="Discount factor.", rich_help_panel=_TRAIN)] = 0.9,
    net_arch: Annotated[
        str, typer.Option(help="Hidden layer sizes of the MLP.", rich_help_panel=_TRAIN)
    ] = "64,64",
    eval_freq: Annotated[
        int, typer.Option(help="Validate every N timesteps.", rich_help_panel=_TRAIN)
    ] = 10_000,
    checkpoint_freq: Annotated[
        int, typer.Option(help="Checkpoint every N timesteps.", rich_help_panel=_TRAIN)
    ] = 50_000,
    buffer_size: Annotated[
        int, typer.Option(help="Replay buffer size.", rich_help_panel=_DQN_PANEL)
    ] = _DQN.buffer_size,
    dqn_batch_size: Annotated[
        int, typer.Option(help="Minibatch size.", rich_help_panel=_DQN_PANEL)
    ] = _DQN.batch_size,
    exploration_fraction: Annotated[
        float,
        typer.Option(help="Share of training to decay epsilon.", rich_help_panel=_DQN_PANEL),
    ] = _DQN.exploration_fraction,
    exploration_final_eps: Annotated[
        float, typer.Option(help="Final epsilon.", rich_help_panel=_DQN_PANEL)
    ] = _DQN.exploration_final_eps,
    target_update_interval: Annotated[
        int, typer.Option(help="Steps between target syncs.", rich_help_panel=_DQN_PANEL)
    ] = _DQN.target_update_interval,
    n_steps: Annotated[
        int, typer.Option(help="Rollout steps per env.", rich_help_panel=_PPO_PANEL)
    ] = _PPO.n_steps,
    ppo_batch_size: Annotated[
        int, typer.Option(help="Minibatch size.", rich_help_panel=_PPO_PANEL)
    ] = _PPO.batch_size,
    n_epochs: Annotated[
        int, typer.Option(help="Epochs per update.", rich_help_panel=_PPO_PANEL)
    ] = _PPO.n_epochs,
    ent_coef: Annotated[
        float, typer.Option(help="Entropy bonus.", rich_help_panel=_PPO_PANEL)
    ] = _PPO.ent_coef,
    progress: Annotated[
        bool, typer.Option(help="Show a progress bar.", rich_help_panel=_TRAIN)
    ] = True,
) -> None:
    """Train DQN or PPO agents, keep the best on validation, and evaluate them on the test split."""
    config = TrainConfig(
        algo=algo.value,
        data=data,
        out=out,
        timesteps=timesteps,
        seeds=parse_seeds(seeds) if seeds is not None else (seed,),
        start=start,
        end=end,
        validation_start=validation_start,
        test_start=test_start,
        commission_bps=commission_bps,
        slippage_bps=slippage_bps,
        mode=mode.value,
        window_size=window_size,
        episode_length=episode_length,
        n_envs=n_envs,
        gamma=gamma,
        net_arch=parse_layers(net_arch),
        eval_freq=eval_freq,
        checkpoint_freq=checkpoint_freq,
        dqn=DQNParams(
            buffer_size=buffer_size,
            batch_size=dqn_batch_size,
            exploration_fraction=exploration_fraction,
            exploration_final_eps=exploration_final_eps,
            target_update_interval=target_update_interval,
        ),
        ppo=PPOParams(
            n_steps=n_steps, batch_size=ppo_batch_size, n_epochs=n_epochs, ent_coef=ent_coef
        ),
    ).with_learning_rate(learning_rate)
    from agents.training.trainer import train_agents  # torch and SB3 load only when training runs

    results = train_agents(config, progress_bar=progress)
    print_results(results, Console())


def print_results(results: list[SeedResult], console: Console) -> None:
    """Each seed's test table and calibration line, then the summary over seeds if several."""
    from agents.training.evaluation import evaluation_table
    from agents.training.seed_summary import summarize_seeds, summary_table

    for result in results:
        console.print(evaluation_table(result.test, label=f"seed {result.seed}: "))
        console.print(f"agent written to {result.directory}", soft_wrap=True)
    if len(results) > 1:
        console.print(summary_table(summarize_seeds(results)))


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python train.py`, handling errors as `hybrid-trader` does.

    A user error (bad data, bad option value, unusable agent directory) prints one line and exits
    with USER_ERROR_EXIT_CODE; an option Typer itself cannot parse gets Typer's usage message.
    """
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(train_command)
    try:
        app(args=argv, standalone_mode=True)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(USER_ERROR_EXIT_CODE) from None
