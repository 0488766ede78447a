"""End to end through the bar engine: an oracle DRL source against a noise LLM source.

The oracle knows the next interval's move (its feature column is built from the future, which only
a test may do): it is long exactly over the open-to-open intervals that rise. The LLM answers BUY or
HOLD at random. The hybrid must give the oracle the weight, and its account's log-wealth should end
within the learner's printed regret bound of the oracle's own book.

Feedback comes one decision late: the decision at close t is held from open t+1 to open t+2, so
the learner has moved its weights once more (on decision t-1's outcome) before it scores decision
t, and the account traded the weights before that move. Delayed AdaHedge (`hedge_delayed`) scores
each decision with the weights it was traded with and prints a bound on those: the account ends
within it (oracle 1.5205, account 1.5127, bound 0.0133: 0.0056 to spare; the account earns 0.0007
more than the traded mixture of the two books, 1.5120, because a mixture of positions earns at
least the mixture of their log returns). Plain AdaHedge's bound (`hedge`) covers the mixture
scored with its current weights, and the account misses it (a strict xfail records by how much).

Each open equals the previous close, so an order sized at the decision close fills on target.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import pytest

from envs import CostModel, EnvConfig
from llm import Action, MarketSnapshot, TradingDecision
from llm.team.schemas import RiskLevel
from orchestrator.execution.paper_broker import PaperBroker
from orchestrator.execution.risk import RiskManager
from orchestrator.runs.bar_engine import BarEngine
from orchestrator.runs.engine_state import EngineState
from orchestrator.trader.cadence import LLMCadence
from orchestrator.trader.combiner import HybridDecision
from orchestrator.trader.drl_advisor import DRLAdvisor
from orchestrator.trader.hedge import LearnerName, WeightUpdate
from orchestrator.trader.hybrid_trader import HybridDRLLLMTrader, TraderConfig
from orchestrator.trader.snapshots import MarketSnapshots
from tests.engine_helpers import FeatureAgent, ListRecorder, trading_market

CASH = 100_000.0
N_BARS = 400
WINDOW = 2


class NoiseAnalyst:
    """BUY (fully) or HOLD (flat) by a coin seeded with the snapshot's date: no skill at all."""

    def decide(self, snapshot: MarketSnapshot) -> TradingDecision:
        coin = np.random.default_rng(int(snapshot.timestamp.timestamp())).random()
        buy = coin < 0.5
        return TradingDecision(
            action=Action.BUY if buy else Action.HOLD,
            size=1.0 if buy else 0.0,
            confidence=0.9,
            risk_level=RiskLevel.MEDIUM,
            reasoning="a coin",
            models=["noise"],
            cost_usd=0.0,
        )


def run_oracle_against_noise(
    learner: LearnerName = "hedge",
) -> tuple[HybridDRLLLMTrader, float, ListRecorder]:
    """The hybrid over the whole market; returns the trader, the account's log-wealth and what
    the engine recorded."""
    rng = np.random.default_rng(11)
    opens = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, N_BARS)))
    closes = np.append(opens[1:], opens[-1])  # no overnight gap
    # Decided at close t, held from open t+1 to open t+2: long when that interval rises.
    rises = np.append(opens[2:] > opens[1:-1], [False, False]).astype(float)
    features = np.column_stack([rises, np.full(N_BARS, 0.9)])
    market = trading_market(open_=opens, close=closes, window=WINDOW, features=features)
    drl = DRLAdvisor(
        FeatureAgent(window=WINDOW, n_features=2),
        market.arrays.features,
        EnvConfig(window_size=WINDOW),
    )
    config = TraderConfig(cadence=LLMCadence(every_bars=1), learner=learner).copy_with(
        combiner=TraderConfig().combiner.copy_with(long_only=True)
    )
    trader = HybridDRLLLMTrader(
        drl,
        NoiseAnalyst(),
        MarketSnapshots(market, window=5),
        cost_model=CostModel(),
        config=config,
    )
    engine = BarEngine(
        market,
        trader,
        PaperBroker(CASH, symbol="TEST"),
        RiskManager(),
        run_id="oracle",
        state=EngineState.opening(CASH),
    )
    recorder = ListRecorder()
    for bar in range(market.first_bar, N_BARS):
        engine.step(bar, recorder)

    equity = engine.state.portfolio.equity(float(closes[-1]))
    return trader, math.log(equity / CASH), recorder


@pytest.mark.parametrize("learner", ["hedge", "hedge_delayed"])
def test_the_hybrid_gives_an_oracle_the_weight(learner: LearnerName) -> None:
    trader, hybrid, _ = run_oracle_against_noise(learner)
    weights = trader.weights
    assert weights.drl_weight > 0.99
    books = weights.book_log_wealth
    assert books["drl"] > books["llm"] + 1.0  # the oracle's book is far ahead
    assert 0.0 < weights.regret_bound < 0.5
    assert hybrid > books["llm"] + 1.0  # the account followed the oracle, not the coin


PLAIN_ADAHEDGE_MISS = (
    "AdaHedge's bound covers the mixture scored with its current weights, not the weights each"
    " decision was traded with one bar earlier: its Hedge gain (1.5173) is within its bound"
    " (0.0050) of the oracle's book (1.5205); with the weights actually traded the mixture earns"
    " 1.5153 over the scored intervals, the account 1.5152 there and 1.5149 in all (the last fill"
    " is never scored), so it trails the oracle by 0.0056"
)


@pytest.mark.parametrize(
    "learner",
    [
        pytest.param("hedge", marks=pytest.mark.xfail(strict=True, reason=PLAIN_ADAHEDGE_MISS)),
        "hedge_delayed",
    ],
)
def test_the_account_stays_within_the_printed_bound_of_the_oracle(learner: LearnerName) -> None:
    trader, hybrid, _ = run_oracle_against_noise(learner)
    weights = trader.weights
    assert hybrid >= weights.book_log_wealth["drl"] - weights.regret_bound


def test_delayed_adahedge_scores_each_decision_with_the_weights_it_was_traded_with() -> None:
    trader, _, recorder = run_oracle_against_noise("hedge_delayed")
    made = [cast(HybridDecision, d) for d in recorder.of("decision")]
    updates = [cast(WeightUpdate, u) for u in recorder.of("weight_update")]
    assert len(updates) == trader.weights.n_updates == len(made) - 2  # the last two unscored
    assert [u.step for u in updates] == list(range(1, len(updates) + 1))
    # the k-th update scores the k-th decision, with the DRL weight that decision traded
    for decision, update in zip(made, updates, strict=False):
        assert update.drl_weight_before == decision.drl_weight
    assert len({u.drl_weight_before for u in updates}) > 10  # the weights did move
