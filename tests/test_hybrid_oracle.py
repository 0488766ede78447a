"""End to end through the bar engine: an oracle DRL source against a noise LLM source.

The oracle knows the next interval's move (its feature column is built from the future, which only
a test may do): it is long exactly over the open-to-open intervals that rise. The LLM answers BUY or
HOLD at random. The hybrid must give the oracle the weight. Its account's log-wealth should end
within the learner's printed regret bound of the oracle's own book; it does not yet (a strict
xfail records by how much): the learner's mixture of the two books is within the bound, and the
account earns a little less than that mixture, because feedback comes one decision late: the
decision at close t is held from open t+1 to open t+2, so the learner has moved its weights once
more (on decision t-1's outcome) before it scores decision t with them, and the account traded
the weights before that move. Scored with the weights it was traded with, the mixture earns what
the account earns to 0.0001.

Each open equals the previous close, so an order sized at the decision close fills on target.
"""

from __future__ import annotations

import math

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
from orchestrator.trader.drl_advisor import DRLAdvisor
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


def run_oracle_against_noise() -> tuple[HybridDRLLLMTrader, float]:
    """The hybrid over the whole market; returns the trader and the account's log-wealth."""
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
    config = TraderConfig(cadence=LLMCadence(every_bars=1)).copy_with(
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
    for bar in range(market.first_bar, N_BARS):
        engine.step(bar, ListRecorder())

    equity = engine.state.portfolio.equity(float(closes[-1]))
    return trader, math.log(equity / CASH)


def test_the_hybrid_gives_an_oracle_the_weight() -> None:
    trader, hybrid = run_oracle_against_noise()
    weights = trader.weights
    assert weights.drl_weight > 0.99
    books = weights.book_log_wealth
    assert books["drl"] > books["llm"] + 1.0  # the oracle's book is far ahead
    assert 0.0 < weights.regret_bound < 0.5
    assert hybrid > books["llm"] + 1.0  # the account followed the oracle, not the coin


@pytest.mark.xfail(
    strict=True,
    reason="the bound covers the mixture scored with the learner's current weights, not the"
    " weights each decision was traded with one bar earlier: the learner's Hedge gain (1.5173) is"
    " within the bound (0.0050) of the oracle's book (1.5205); with the weights actually traded"
    " the mixture earns 1.5153 over the scored intervals, the account 1.5152 there and 1.5149 in"
    " all (the last fill is never scored), so it trails the oracle by 0.0056",
)
def test_the_account_stays_within_the_printed_bound_of_the_oracle() -> None:
    trader, hybrid = run_oracle_against_noise()
    weights = trader.weights
    assert hybrid >= weights.book_log_wealth["drl"] - weights.regret_bound
