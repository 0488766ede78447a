"""HybridDRLLLMTrader: combined decisions, the LLM cadence, learning net of costs, saved state.

The DRL agent is a stand-in that reads its target and confidence off the features, and the
analysts answer a fixed decision, so every number below is computed by hand.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from envs import CostModel, EnvConfig
from llm import Action, MarketSnapshot, TradingDecision
from llm.team.schemas import RiskLevel
from orchestrator.errors import ConfigError, InvalidInputError
from orchestrator.execution.portfolio import PortfolioState
from orchestrator.trader.baselines import LLMAlone
from orchestrator.trader.cadence import LLMCadence
from orchestrator.trader.combiner import CombinerConfig, HybridAction
from orchestrator.trader.drl_advisor import DRLAdvisor
from orchestrator.trader.hybrid_trader import HybridDRLLLMTrader, TraderConfig, repositioning_cost
from orchestrator.trader.snapshots import MarketSnapshots
from tests.engine_helpers import FeatureAgent, trading_market

N_BARS = 12
B = CostModel().buy_cost_rate


@dataclass
class FixedAnalyst:
    """Always the same decision; remembers the timestamps it was asked at."""

    decision: TradingDecision
    asked: list[MarketSnapshot] = field(default_factory=list)

    def decide(self, snapshot: MarketSnapshot) -> TradingDecision:
        self.asked.append(snapshot)
        return self.decision


def llm(action: Action, size: float, confidence: float) -> TradingDecision:
    return TradingDecision(
        action=action,
        size=size,
        confidence=confidence,
        risk_level=RiskLevel.LOW,
        reasoning="fixed",
        cost_usd=0.0,
    )


def trader_for(
    targets: list[float],
    confidences: list[float],
    analyst: FixedAnalyst,
    config: TraderConfig | None = None,
) -> HybridDRLLLMTrader:
    features = np.column_stack([targets, confidences])
    market = trading_market(
        open_=[100.0] * len(targets), close=[100.0] * len(targets), features=features
    )
    drl = DRLAdvisor(
        FeatureAgent(window=2, n_features=2), market.arrays.features, EnvConfig(window_size=2)
    )
    return HybridDRLLLMTrader(
        drl, analyst, MarketSnapshots(market, window=5), cost_model=CostModel(), config=config
    )


FLAT = PortfolioState.opening(100_000.0)
# The seed rule with the agreement threshold these hand computations were made for.
SEED = TraderConfig(combiner=CombinerConfig(rule="seed", agree_threshold=0.7))


def weights_state(drl_weight: float) -> dict[str, object]:
    """A state of the default learner (delayed AdaHedge) whose DRL weight is `drl_weight`, now
    and for the decision it scores next (D = ln 2, so eta = 1)."""
    losses = [0.0, math.log(drl_weight / (1.0 - drl_weight))]
    return {
        "experts": ["drl", "llm"],
        "delay": 1,
        "cumulative_losses": [losses, losses],
        "scales": [math.log(2.0)] * 2,
        "scored_scale": math.log(2.0),
        "gap": math.log(2.0),
        "steps": 0,
    }


# Before the LLM has one complete outcome its calibrated confidence is 0.5, whatever it states.
NO_OUTCOME_YET = 0.5


def test_agreeing_confident_sources_take_a_larger_position() -> None:
    seed = SEED.copy_with(combiner=SEED.combiner.copy_with(agree_threshold=0.5))
    trader = trader_for([1.0, 1.0], [0.8, 0.8], FixedAnalyst(llm(Action.BUY, 0.6, 0.8)), seed)
    decision = trader.decide(1, FLAT, 100.0).hybrid
    assert decision is not None and decision.agreed
    assert decision.llm.confidence == NO_OUTCOME_YET  # not the stated 0.8
    score = 0.5 * 0.8 * 1.0 + 0.5 * NO_OUTCOME_YET * 0.6  # 0.55
    assert decision.score == pytest.approx(score)
    assert decision.target_position == pytest.approx(1.5 * score)  # 0.825: boosted x1.5
    unsure = trader_for([1.0, 1.0], [0.4, 0.4], FixedAnalyst(llm(Action.BUY, 0.6, 0.8)), seed)
    plain = unsure.decide(1, FLAT, 100.0).hybrid  # the same direction, the agent less sure
    assert plain is not None and not plain.agreed
    assert plain.target_position == pytest.approx(plain.score)  # 0.35
    assert plain.target_position < decision.target_position
    assert decision.drl_weight == decision.llm_weight == 0.5


def test_disagreement_is_the_confidence_weighted_signal() -> None:
    trader = trader_for([1.0, 1.0], [0.6, 0.6], FixedAnalyst(llm(Action.SELL, 0.5, 0.4)), SEED)
    decision = trader.decide(1, FLAT, 100.0).hybrid
    assert decision is not None and not decision.agreed
    assert decision.score == pytest.approx(0.5 * 0.6 * 1.0 - 0.5 * NO_OUTCOME_YET * 0.5)  # 0.175
    assert decision.action is HybridAction.BUY
    assert decision.target_position == pytest.approx(0.175)
    assert "LLM view asked now" in decision.reasoning


def test_the_current_weights_scale_each_vote() -> None:
    trader = trader_for([1.0, 1.0], [0.6, 0.6], FixedAnalyst(llm(Action.SELL, 0.5, 0.4)), SEED)
    state = trader.state_dict()
    trader.load_state_dict({**state, "weights": weights_state(0.8)})
    decision = trader.decide(1, FLAT, 100.0).hybrid
    assert decision is not None
    assert decision.drl_weight == pytest.approx(0.8)
    assert decision.score == pytest.approx(0.8 * 0.6 - 0.2 * NO_OUTCOME_YET * 0.5)  # 0.43


def test_the_llm_confidence_is_the_hit_rate_of_its_completed_views_only() -> None:
    # The LLM says BUY at stated 0.9, asked every 2 bars; the price rises 1% a bar: each view
    # is a hit once the next view replaces it.
    cadence = LLMCadence(every_bars=2, below_drl_confidence=0.0)
    config = TraderConfig(cadence=cadence, learn_weights=False)
    trader = trader_for(
        [1.0] * N_BARS, [0.9] * N_BARS, FixedAnalyst(llm(Action.BUY, 0.5, 0.9)), config
    )
    used = []
    for bar in range(1, N_BARS):
        trader.learn(bar, 0.01, label=str(bar))
        decision = trader.decide(bar, FLAT, 100.0).hybrid
        assert decision is not None
        used.append(decision.llm.confidence)
    # Views asked at 1, 3, 5, ...: the view of close 1 was held open 2 -> open 4 and is complete
    # once the view of close 3 has been held a whole interval, scored at bar 6.
    assert used[:5] == [NO_OUTCOME_YET] * 5
    assert used[5] == pytest.approx(2.0 / 3.0)  # one hit: (1 + 1) / (1 + 2)
    assert used[-1] == pytest.approx((3.0 + 1.0) / (3.0 + 2.0))
    assert trader.llm_calibrator.n_outcomes == 3


def test_the_default_rule_trades_the_weight_mixture_of_the_positions() -> None:
    trader = trader_for([1.0, 1.0], [0.3, 0.3], FixedAnalyst(llm(Action.SELL, 0.5, 0.9)))
    trader.load_state_dict({**trader.state_dict(), "weights": weights_state(0.8)})
    decision = trader.decide(1, FLAT, 100.0)
    # 0.8 * 1.0 + 0.2 * (-0.5) = 0.7, whatever the confidences
    assert decision.target_position == pytest.approx(0.7)


def asked_bars(trader: HybridDRLLLMTrader) -> list[int]:
    asked = []
    for bar in range(1, N_BARS):
        step = trader.decide(bar, FLAT, 100.0)
        assert step.llm_view is not None
        if step.llm_view.asked_at_bar == bar:
            asked.append(bar)
    return asked


@pytest.mark.parametrize(
    ("threshold", "expected"),
    # Windows of 3 from the first decision: [1-3] [4-6] [7-9] [10-11]. Under 0.55 the hybrid asks
    # at a window's first unsure bar (5, 9) instead of its first bar: once per window, as LLM
    # alone. (Before, an unsure bar asked on top of the calendar: [1, 4, 5, 8, 9], 5 asks for 4
    # windows.) The last window is cut short before its last bar, so it asks nothing.
    [(None, [1, 4, 7, 10]), (0.55, [1, 5, 9])],
)
def test_the_llm_is_asked_every_k_bars_and_when_the_agent_is_unsure(
    threshold: float | None, expected: list[int]
) -> None:
    confidences = [0.9] * N_BARS
    confidences[5] = confidences[9] = 0.3  # the agent is unsure at bars 5 and 9
    analyst = FixedAnalyst(llm(Action.BUY, 0.5, 0.5))
    cadence = LLMCadence(every_bars=3, below_drl_confidence=threshold)
    trader = trader_for([0.5] * N_BARS, confidences, analyst, TraderConfig(cadence=cadence))
    assert asked_bars(trader) == expected
    assert len(analyst.asked) == len(expected) == trader.llm.asks
    market = trader.llm.snapshots.market
    assert [s.timestamp for s in analyst.asked] == [
        market.timestamp(bar).to_pydatetime() for bar in expected
    ]


def test_llm_alone_keeps_the_calendar_cadence() -> None:
    analyst = FixedAnalyst(llm(Action.SELL, 0.5, 0.5))
    market = trading_market(open_=[100.0] * N_BARS, close=[100.0] * N_BARS)
    alone = LLMAlone(analyst, MarketSnapshots(market, window=5), 4, CombinerConfig(long_only=True))
    targets = [alone.decide(bar, FLAT, 100.0).target_position for bar in range(1, N_BARS)]
    assert len(analyst.asked) == 3  # bars 1, 5, 9
    assert targets == [0.0] * (N_BARS - 1)  # SELL is flat in long-only mode


def test_each_source_is_scored_by_its_own_book_over_the_interval_it_was_held() -> None:
    trader = trader_for([1.0] * 4, [0.9] * 4, FixedAnalyst(llm(Action.BUY, 0.6, 0.5)))
    trader.decide(1, FLAT, 100.0)
    # At bar 2 the decision of close 1 has only just filled (open 2): nothing to score yet.
    assert trader.learn(2, 0.05, label="day 2") is None
    trader.decide(2, FLAT, 100.0)
    # open 2 -> open 3 is the interval the positions decided at close 1 were held.
    update = trader.learn(3, 0.02, label="day 3")
    assert update is not None
    drl_cost = B / (1 + B)  # flat -> fully long, the env's fill model on a unit of equity
    llm_cost = 0.6 * B / (1 + 0.6 * B)
    assert update.drl_cost == pytest.approx(drl_cost) and update.llm_cost == pytest.approx(llm_cost)
    assert repositioning_cost(0.0, 1.0, CostModel()) == pytest.approx(drl_cost)
    assert update.drl_loss == pytest.approx(-math.log(1.0 + 1.0 * 0.02 - drl_cost))
    assert update.llm_loss == pytest.approx(-math.log(1.0 + 0.6 * 0.02 - llm_cost))
    assert update.drl_weight_after > 0.5 and trader.weights.drl_weight == update.drl_weight_after
    # The sources now hold their positions: the same recommendation again costs nothing.
    trader.decide(3, FLAT, 100.0)
    again = trader.learn(4, -0.01, label="day 4")
    assert again is not None and again.drl_cost == again.llm_cost == 0.0
    assert trader.learn(5, 0.01, label="no decision in between") is None


def test_frozen_weights_stay_at_50_50() -> None:
    config = TraderConfig(learn_weights=False)
    trader = trader_for([1.0] * 3, [0.9] * 3, FixedAnalyst(llm(Action.SELL, 0.6, 0.5)), config)
    trader.decide(1, FLAT, 100.0)
    assert trader.learn(2, 0.05, label="day 2") is None
    assert trader.weights.drl_weight == 0.5 and trader.weights.history == ()


def test_the_saved_state_restores_the_same_decisions() -> None:
    analyst = FixedAnalyst(llm(Action.BUY, 0.4, 0.6))
    targets, confidences = [1.0, 0.5, 1.0, 0.0, 1.0, 0.5] * 2, [0.9, 0.4, 0.8] * 4
    original = trader_for(targets, confidences, analyst)
    for bar in range(1, 6):
        original.learn(bar, 0.01 * (bar - 3), label=str(bar))
        original.decide(bar, FLAT, 100.0)
    state = json.loads(json.dumps(original.state_dict()))
    copy = trader_for(targets, confidences, FixedAnalyst(llm(Action.BUY, 0.4, 0.6)))
    copy.load_state_dict(state, weight_history=original.weights.history, llm_view=original.llm_view)
    for bar in range(6, N_BARS):
        a = original.learn(bar, 0.003 * bar, label=str(bar)), original.decide(bar, FLAT, 100.0)
        b = copy.learn(bar, 0.003 * bar, label=str(bar)), copy.decide(bar, FLAT, 100.0)
        assert a[0] == b[0] and a[1].hybrid == b[1].hybrid
    assert copy.llm.asks == original.llm.asks


def test_a_bad_saved_state_is_refused_naming_the_field() -> None:
    analyst = FixedAnalyst(llm(Action.BUY, 0.4, 0.6))
    trader = trader_for([1.0] * 3, [0.9] * 3, analyst)
    state = trader.state_dict()
    with pytest.raises(InvalidInputError, match=r"TraderState\.held"):
        trader.load_state_dict({**state, "held": [0.5]})
    with pytest.raises(InvalidInputError, match=r"TraderState\.unscored"):
        trader.load_state_dict({**state, "unscored": [[0.5, 2.0]]})
    with pytest.raises(InvalidInputError, match=r"KeeperState\.asks"):
        trader.load_state_dict({**state, "llm": {"asks": -1}})
    with pytest.raises(InvalidInputError, match=r"DelayedHedgeState\.scored_scale"):
        trader.load_state_dict({**state, "weights": {**weights_state(0.5), "scored_scale": -1.0}})
    # No absolute threshold by default: "unsure" is relative to the agent (`LLMCadence.for_agent`).
    assert TraderConfig().model_dump()["cadence"] == {
        "every_bars": None,  # a week of the market's bars, set by the view keeper
        "below_drl_confidence": None,
        "unsure_quantile": 0.2,
    }


@pytest.mark.parametrize(
    "cadence",
    [
        {"every_bars": 0},
        {"every_bars": 2.5},
        {"below_drl_confidence": 1.5},
        {"unsure_quantile": 1.0},
    ],
)
def test_bad_cadence_settings_are_refused(cadence: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="LLMCadence"):
        LLMCadence(**cadence)  # type: ignore[arg-type]


def test_the_agent_decides_from_its_own_book_not_the_hybrids_account() -> None:
    # The DRL wants fully long, the LLM fully short: the 50/50 mixture is flat, and the hybrid's
    # account stays flat. The agent must still see its own book: flat before its first fill,
    # then fully long (prices are constant, so no drift and no drawdown but the entry costs).
    trader = trader_for([1.0] * 6, [0.9] * 6, FixedAnalyst(llm(Action.SELL, 1.0, 0.9)))
    for bar in range(1, 4):
        decision = trader.decide(bar, FLAT, 100.0)
        assert decision.target_position == pytest.approx(0.0)
    agent = trader.drl.agent
    assert isinstance(agent, FeatureAgent)
    positions = [float(seen[-2]) for seen in agent.seen]
    drawdowns = [float(seen[-1]) for seen in agent.seen]
    assert positions[0] == 0.0
    assert positions[1:] == pytest.approx([1.0, 1.0])
    assert drawdowns[0] == 0.0 and -1e-3 < drawdowns[1] < 0.0  # the entry's costs, nothing more


def test_the_market_and_cash_experts_join_the_mixture_and_are_scored_like_the_sources() -> None:
    config = TraderConfig(extra_experts=("market", "cash"))
    trader = trader_for(
        [0.0] * N_BARS, [0.9] * N_BARS, FixedAnalyst(llm(Action.HOLD, 0.0, 0.5)), config
    )
    first = trader.decide(1, FLAT, 100.0).hybrid
    assert first is not None
    assert first.extra_weights == {"market": 0.25, "cash": 0.25} and first.llm_weight == 0.25
    assert first.target_position == pytest.approx(0.25)  # only the market expert is long
    assert "market +1.00 x weight 0.25" in first.reasoning
    for bar in range(2, N_BARS):  # every interval rises 1%: the market takes the weight
        update = trader.learn(bar, 0.01, label=str(bar))
        trader.decide(bar, FLAT, 100.0)
    assert update is not None and set(update.extras) == {"market", "cash"}
    market = update.extras["market"]
    assert market.position == 1.0 and market.cost == 0.0  # bought once, at the first interval
    assert market.loss == pytest.approx(-math.log(1.01))
    assert update.extras["cash"].loss == 0.0
    assert trader.weights.extra_weights["market"] > 0.9
    assert update.llm_weight_after == pytest.approx(trader.weights.llm_weight)
    with pytest.raises(ConfigError, match="mixture rule only"):
        TraderConfig(extra_experts=("cash",), combiner=CombinerConfig(rule="seed"))
