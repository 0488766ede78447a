"""How well the online DRL/LLM weights did, read back from a paper-trade journal.

Every figure comes from the journal's weight updates: at each update, each source's position p
(decided at an earlier close), the realized return r of the interval it was held over (open to
open), and its cost c (as a fraction of equity), so each source's net return is n = p * r - c and
its loss is -ln(1 + n).

- Hit rate: among updates where a source held a position (p != 0; flat is ignored), the share
  where p * r > 0. The hybrid's position is its decision's target at the same bar.
- PnL attribution: each source's net return compounded over the updates, had you followed it
  alone: prod(1 + n) - 1, and in currency on the run's equity at the first scored decision. The
  "hedge mix" is the Hedge-weighted mix w_t * n_drl + (1 - w_t) * n_llm, what the learned weights
  earned as such; the hybrid is the journal's actual equity (combiner, risk manager, real fills).
- Regret against the best fixed weight in hindsight, over a grid of w in [0, 1]:
  * net return: the best fixed mix's compounded net return minus the learned mix's (concave in w,
    so the best fixed weight can be inside the interval);
  * Hedge loss: the learned weights' summed losses minus the best fixed weight's (linear in w, so
    best at an end: the better single source). The learned weights are those each decision was
    traded with where the learner knows them (`hedge_delayed`); AdaHedge's are its weights when
    it scored the decision. The run's AdaHedge learner bounds it (`hedge`: 2 * Delta, its
    cumulative mixability gap; `hedge_delayed`: the gap with the weights' drift over the delay,
    plus ln N / eta), which the report recomputes from the same updates (`regret_bound`; a
    Thompson run shows AdaHedge's).
  Positive regret: the learned weights did worse than some fixed weight.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from envs import infer_bar_size
from orchestrator.errors import ReportError
from orchestrator.journal import JournalQueries
from orchestrator.reports.backtest import strategy_metrics
from orchestrator.runs import BacktestResult, journaled_account
from orchestrator.trader import (
    LEARNERS,
    LLMConfidenceCalibrator,
    ReliabilityRow,
    make_learner,
)

SOURCES = ("drl", "llm", "hybrid")
BOOKS = ("drl", "llm")  # the books every learner is replayed on
WEIGHT_GRID = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True)
class HitRate:
    """hits of calls (non-flat positions); rate is None when a source never took a position."""

    hits: int
    calls: int
    rate: float | None


@dataclass(frozen=True)
class Attribution:
    """Compounded net return over the scored bars, and that return on the starting equity."""

    net_return: float
    pnl: float


@dataclass(frozen=True)
class Regret:
    """Learned weights against every fixed DRL weight of the grid, on one objective."""

    objective: str
    learned: float
    best_fixed: float
    best_fixed_drl_weight: float
    regret: float
    grid: tuple[float, ...]
    fixed: tuple[float, ...]


@dataclass(frozen=True)
class LearnerReplay:
    """One weight learner replayed on the run's two source books, from equal weights: its final
    DRL weight and the log-wealth of its weight mixture of the two books (each interval's
    weights set before its outcome). `as_run`: the learner the run traded with."""

    final_drl_weight: float
    mix_log_wealth: float
    as_run: bool


@dataclass(frozen=True)
class WeightsReport:
    """Everything the `weights` command writes (see the module docstring for the definitions)."""

    journal: str
    run: dict[str, object]
    periods_per_year: int  # bars in a year, for the annualised metrics
    account: dict[str, Any]  # the journal's account, metric for metric as the backtest's rows
    sources_alone: dict[str, dict[str, Any]]  # the backtest's reference rows ({}: not run)
    n_updates: int
    start_equity: float
    final_weights: dict[str, float]
    hit_rates: dict[str, HitRate]
    attribution: dict[str, Attribution]
    regret_net_return: Regret
    regret_hedge_loss: Regret
    regret_bound: float  # the run's AdaHedge learner's bound on regret_hedge_loss.regret
    llm_spend_usd: float
    hybrid_costs_paid: float
    trajectory: pd.DataFrame  # per update: step, bar_index, timestamp, weights before and after
    cumulative: pd.DataFrame  # from the first scored decision (all 0), then one row per update
    llm_reliability: tuple[ReliabilityRow, ...]  # the LLM's calibrator at the journal's last bar
    bars_traded: int  # bars the journal holds
    bars_to_trade: int | None  # bars its data held to trade when the last one was traded
    learners: dict[str, LearnerReplay]  # every learner (`LEARNERS`) side by side

    @property
    def unfinished(self) -> bool:
        """Whether the run stopped before the last bar its data held when it last traded."""
        return self.bars_to_trade is not None and self.bars_traded < self.bars_to_trade

    def to_dict(self) -> dict[str, object]:
        """JSON-ready values (the trajectory as one record per update)."""
        trajectory = self.trajectory.assign(timestamp=self.trajectory["timestamp"].astype(str))
        return {
            "journal": self.journal,
            "run": self.run,
            "periods_per_year": self.periods_per_year,
            "account": self.account,
            "sources_alone": self.sources_alone,
            "n_updates": self.n_updates,
            "start_equity": self.start_equity,
            "final_weights": self.final_weights,
            "hit_rates": {name: asdict(hit) for name, hit in self.hit_rates.items()},
            "attribution": {name: asdict(part) for name, part in self.attribution.items()},
            "regret": {
                "net_return": asdict(self.regret_net_return),
                "hedge_loss": asdict(self.regret_hedge_loss),
                "hedge_loss_bound": self.regret_bound,
            },
            "llm_spend_usd": self.llm_spend_usd,
            "hybrid_costs_paid": self.hybrid_costs_paid,
            "llm_reliability": [row.model_dump() for row in self.llm_reliability],
            "bars_traded": self.bars_traded,
            "bars_to_trade": self.bars_to_trade,
            "learners": {name: asdict(replay) for name, replay in self.learners.items()},
            "trajectory": trajectory.to_dict(orient="records"),
        }


def build_weights_report(
    journal: JournalQueries, sources_alone: BacktestResult | None = None
) -> WeightsReport:
    """Evaluate the weights of the run journaled in `journal` (read-only), beside the account and,
    where given, `sources_alone` (`orchestrator.runs.backtest_sources_alone` of the journal): all
    of them measured by the backtest's own `strategy_metrics`."""
    updates = journal.table("weight_updates")
    if updates.empty:
        raise ReportError(f"journal {journal.path} has no weight updates yet: nothing to evaluate")
    bars = journal.table("bars").set_index("bar_index")
    if sources_alone is None:
        per_year = infer_bar_size(pd.DatetimeIndex(pd.to_datetime(bars["timestamp"])))
        periods_per_year = per_year.periods_per_year
    else:
        periods_per_year = sources_alone.periods_per_year
    equity = journal.table("positions").set_index("bar_index")["equity"]
    targets = journal.table("decisions").set_index("bar_index")["target_position"]
    fills = journal.table("fills")

    bar_return = updates["bar_return"].to_numpy()
    positions = {
        "drl": updates["drl_position"].to_numpy(),
        "llm": updates["llm_position"].to_numpy(),
        "hybrid": targets.loc[updates["decision_bar"]].to_numpy(),
    }
    net = {
        name: positions[name] * bar_return - updates[f"{name}_cost"].to_numpy()
        for name in ("drl", "llm")
    }
    learned_weight = updates["drl_weight_before"].to_numpy()
    run_learner = str(journal.identity.config.get("trader", {}).get("learner", "hedge"))
    start_equity = float(equity.loc[updates["decision_bar"].iloc[0]])
    hybrid_curve = equity.loc[updates["bar_index"]].to_numpy() / start_equity - 1.0
    mix = learned_weight * net["drl"] + (1.0 - learned_weight) * net["llm"]
    cumulative = {
        "drl": _compounded(net["drl"], "drl"),
        "llm": _compounded(net["llm"], "llm"),
        "hedge_mix": _compounded(mix, "hedge mix"),
        "hybrid": hybrid_curve,
    }
    final_drl = float(updates["drl_weight_after"].iloc[-1])
    final_extras = {
        name: float(score["weight_after"])
        for name, score in json.loads(updates["extras_json"].iloc[-1]).items()
    }
    timestamps = pd.to_datetime(bars.loc[updates["bar_index"], "timestamp"]).to_numpy()
    return WeightsReport(
        journal=str(journal.path),
        run={"run_id": journal.run_id, "created_at": journal.created_at, **_identity(journal)},
        periods_per_year=periods_per_year,
        account=strategy_metrics(journaled_account(journal), periods_per_year),
        sources_alone={
            name: strategy_metrics(run, periods_per_year)
            for name, run in ({} if sources_alone is None else sources_alone.strategies).items()
        },
        n_updates=len(updates),
        start_equity=start_equity,
        final_weights={
            "drl": final_drl,
            "llm": 1.0 - final_drl - sum(final_extras.values()),
            **final_extras,
        },
        hit_rates={name: hit_rate(positions[name], bar_return) for name in SOURCES},
        attribution={
            name: Attribution(float(curve[-1]), float(curve[-1]) * start_equity)
            for name, curve in cumulative.items()
        },
        regret_net_return=net_return_regret(learned_weight, net["drl"], net["llm"]),
        regret_hedge_loss=hedge_loss_regret(
            learned_weight, updates["drl_loss"].to_numpy(), updates["llm_loss"].to_numpy()
        ),
        regret_bound=adahedge_bound(
            updates["drl_loss"].to_numpy(), updates["llm_loss"].to_numpy(), run_learner
        ),
        llm_spend_usd=journal.llm_spend(),
        hybrid_costs_paid=float(fills["commission"].sum() + fills["slippage_cost"].fillna(0).sum()),
        trajectory=pd.DataFrame(
            {
                "step": updates["step"].to_numpy(),
                "bar_index": updates["bar_index"].to_numpy(),
                "timestamp": timestamps,
                "drl_weight_before": learned_weight,
                "drl_weight_after": updates["drl_weight_after"].to_numpy(),
            }
        ),
        cumulative=_from_zero(bars, updates["decision_bar"].iloc[0], timestamps, cumulative),
        llm_reliability=_llm_reliability(journal),
        bars_traded=len(bars),
        bars_to_trade=journal.bars_to_trade(),
        learners=replay_learners(
            updates["drl_loss"].to_numpy(), updates["llm_loss"].to_numpy(), run_learner
        ),
    )


def _llm_reliability(journal: JournalQueries) -> tuple[ReliabilityRow, ...]:
    """The reliability table of the LLM's confidence calibrator as the last bar saved it."""
    row = journal.connection.execute(
        "SELECT loop_state_json FROM states ORDER BY bar_index DESC LIMIT 1"
    ).fetchone()
    calibrator = LLMConfidenceCalibrator()
    if row is not None:
        saved = json.loads(row[0]).get("strategy", {}).get("llm_calibrator")
        if saved is not None:
            calibrator.load_state_dict(saved)
    return calibrator.reliability()


def hit_rate(positions: np.ndarray, returns: np.ndarray) -> HitRate:
    """Share of non-flat positions whose sign matched the return (a zero return is a miss)."""
    calls = int(np.count_nonzero(positions))
    hits = int(np.count_nonzero(positions * returns > 0.0))
    return HitRate(hits=hits, calls=calls, rate=hits / calls if calls else None)


def net_return_regret(
    learned_weight: np.ndarray, drl_net: np.ndarray, llm_net: np.ndarray
) -> Regret:
    """Best fixed mix's compounded net return minus the learned mix's."""
    fixed = [
        float(_compounded(w * drl_net + (1.0 - w) * llm_net, f"fixed weight {w:g}")[-1])
        for w in WEIGHT_GRID
    ]
    mix = learned_weight * drl_net + (1.0 - learned_weight) * llm_net
    learned = float(_compounded(mix, "hedge mix")[-1])
    best = int(np.argmax(fixed))
    return Regret(
        objective="compounded net return (higher is better)",
        learned=learned,
        best_fixed=fixed[best],
        best_fixed_drl_weight=float(WEIGHT_GRID[best]),
        regret=fixed[best] - learned,
        grid=tuple(float(w) for w in WEIGHT_GRID),
        fixed=tuple(fixed),
    )


def hedge_loss_regret(
    learned_weight: np.ndarray, drl_loss: np.ndarray, llm_loss: np.ndarray
) -> Regret:
    """The learned weights' summed Hedge losses minus the best fixed weight's."""
    fixed = [float(np.sum(w * drl_loss + (1.0 - w) * llm_loss)) for w in WEIGHT_GRID]
    learned = float(np.sum(learned_weight * drl_loss + (1.0 - learned_weight) * llm_loss))
    best = int(np.argmin(fixed))
    return Regret(
        objective="sum of Hedge losses, -ln of each book's gross relative (lower is better)",
        learned=learned,
        best_fixed=fixed[best],
        best_fixed_drl_weight=float(WEIGHT_GRID[best]),
        regret=learned - fixed[best],
        grid=tuple(float(w) for w in WEIGHT_GRID),
        fixed=tuple(fixed),
    )


def adahedge_bound(drl_loss: np.ndarray, llm_loss: np.ndarray, learner: str = "hedge") -> float:
    """The regret bound of the AdaHedge `learner` ("hedge": 2 * Delta; "hedge_delayed": its bound
    on the weights traded) after these losses, replayed through it; AdaHedge's for a learner
    without a bound (Thompson sampling)."""
    replayed = make_learner("hedge_delayed" if learner == "hedge_delayed" else "hedge", BOOKS)
    for drl, llm in zip(drl_loss, llm_loss, strict=True):
        replayed.update(
            {"drl": 0.0, "llm": 0.0}, {"drl": float(np.exp(-drl)), "llm": float(np.exp(-llm))}
        )
    bound = replayed.regret_bound
    assert bound is not None  # both AdaHedge learners print one
    return bound


def replay_learners(
    drl_loss: np.ndarray, llm_loss: np.ndarray, run_learner: str
) -> dict[str, LearnerReplay]:
    """Every learner (`LEARNERS`) replayed on the same losses of the two sources' books, each
    interval's mix with the weights the learner traded it with: the side-by-side comparison of
    the learners on one run's outcomes (the extra experts, if the run had any, are left out: the
    sources are what every learner weighs)."""
    replays: dict[str, LearnerReplay] = {}
    for name in LEARNERS:
        learner = make_learner(name, BOOKS)
        log_wealth = 0.0
        for drl, llm in zip(drl_loss, llm_loss, strict=True):
            relatives = {"drl": float(np.exp(-drl)), "llm": float(np.exp(-llm))}
            weight = learner.update({"drl": 0.0, "llm": 0.0}, relatives).weights_before["drl"]
            log_wealth += float(
                np.log(weight * relatives["drl"] + (1.0 - weight) * relatives["llm"])
            )
        replays[name] = LearnerReplay(learner.weights["drl"], log_wealth, name == run_learner)
    return replays


def _compounded(net_returns: np.ndarray, what: str) -> np.ndarray:
    """Cumulative compounded return after each bar: prod(1 + n) - 1."""
    growth = 1.0 + net_returns
    if np.any(growth <= 0.0):
        step = int(np.argmax(growth <= 0.0)) + 1
        raise ReportError(
            f"{what} lost everything at update {step} (net return <= -100%): compounding stops"
        )
    return np.expm1(np.cumsum(np.log(growth)))


def _from_zero(
    bars: pd.DataFrame, first_bar: int, timestamps: np.ndarray, curves: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Cumulative curves starting at 0 at the first scored decision's bar, then per update."""
    start = pd.to_datetime(pd.Series([bars.loc[first_bar, "timestamp"]])).to_numpy()
    return pd.DataFrame(
        {
            "timestamp": np.concatenate([start, timestamps]),
            **{name: np.concatenate([[0.0], curve]) for name, curve in curves.items()},
        }
    )


def _identity(journal: JournalQueries) -> dict[str, object]:
    identity = journal.identity
    return {
        "agent_hash": identity.agent_hash,
        "data_source": identity.data_source,
        "data_hash": identity.data_hash,
        "config": dict(identity.config),
    }
