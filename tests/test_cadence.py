"""The LLM cadence: one ask per window at most, the hybrid never asking more than LLM alone, the
view age bound, the keeper's saved windows, and the agent-relative threshold of "unsure"."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents import AgentError, DRLAgent
from envs import CostModel, EnvConfig, PreparedMarket, format_date
from llm import Action, MarketSnapshot, TradingDecision
from llm.team.schemas import RiskLevel
from orchestrator.errors import ConfigError, InvalidInputError
from orchestrator.execution.portfolio import PortfolioState
from orchestrator.trader import cadence as cadence_module
from orchestrator.trader.baselines import LLMAlone
from orchestrator.trader.cadence import (
    UNSURE_QUANTILE,
    LLMCadence,
    LLMView,
    LLMViewKeeper,
    confidences_along,
    drl_unsure_threshold,
    unsure_cut,
    validation_confidences,
)
from orchestrator.trader.combiner import CombinerConfig
from orchestrator.trader.drl_advisor import DRLAdvisor
from orchestrator.trader.hybrid_trader import HybridDRLLLMTrader, TraderConfig
from orchestrator.trader.market import TradingMarket, load_trading_market
from orchestrator.trader.snapshots import MarketSnapshots
from tests.engine_helpers import FeatureAgent, trading_market
from tests.paper_helpers import END, tiny_agent

FLAT = PortfolioState.opening(100_000.0)
WINDOW = 3  # the feature window of the hand-made markets: the first decision is at bar 2


BUY = TradingDecision(
    action=Action.BUY,
    size=0.5,
    confidence=0.5,
    risk_level=RiskLevel.LOW,
    reasoning="counting",
    cost_usd=0.0,
)


class CountingAnalyst:
    """Always BUY 0.5 at stated confidence 0.5; counts its asks."""

    def __init__(self) -> None:
        self.asks = 0

    def decide(self, snapshot: MarketSnapshot) -> TradingDecision:
        self.asks += 1
        return BUY


def market_with(confidences: list[float]) -> TradingMarket:
    n_bars = len(confidences)
    features = np.column_stack([np.full(n_bars, 0.5), confidences])
    return trading_market(
        open_=[100.0] * n_bars, close=[100.0] * n_bars, window=WINDOW, features=features
    )


def hybrid_on(market: TradingMarket, cadence: LLMCadence) -> HybridDRLLLMTrader:
    drl = DRLAdvisor(
        FeatureAgent(window=WINDOW, n_features=2),
        market.arrays.features,
        EnvConfig(window_size=WINDOW),
    )
    return HybridDRLLLMTrader(
        drl,
        CountingAnalyst(),
        MarketSnapshots(market, window=5),
        cost_model=CostModel(),
        config=TraderConfig(cadence=cadence),
    )


def asked_bars(keeper: LLMViewKeeper, confidences: list[float], first_bar: int) -> list[int]:
    """Bars the keeper asked at, shown every bar from `first_bar` with the given confidences."""
    asked = []
    for bar in range(first_bar, len(confidences)):
        view, fresh = keeper.view_at(bar, FLAT, 100.0, confidences[bar])
        assert fresh == (view.asked_at_bar == bar)
        if fresh:
            asked.append(bar)
    return asked


def keeper_for(confidences: list[float], cadence: LLMCadence) -> LLMViewKeeper:
    return LLMViewKeeper(CountingAnalyst(), MarketSnapshots(market_with(confidences), 5), cadence)


# ---- the rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(("per_year", "every"), [(252, 5), (365, 7), (7 * 252, 34), (12, 1)])
def test_the_default_window_is_a_week_of_the_markets_bars(per_year: int, every: int) -> None:
    keeper = keeper_for([0.9] * 3, LLMCadence())
    assert keeper.cadence.every_bars == 5  # the test market's bars are daily
    assert LLMCadence().for_market(per_year).every_bars == every
    assert LLMCadence(every_bars=3).for_market(per_year).every_bars == 3
    with pytest.raises(InvalidInputError, match="for_market"):
        LLMCadence().window(3, 0)


def test_llm_alone_asks_at_the_first_bar_of_each_window_from_the_first_decision() -> None:
    confidences = [0.9] * 15
    keeper = keeper_for(confidences, LLMCadence(every_bars=4))
    assert asked_bars(keeper, confidences, first_bar=2) == [2, 6, 10, 14]


def test_the_hybrid_asks_at_the_first_unsure_bar_of_a_window_or_at_its_last_bar() -> None:
    # Windows of 4 from bar 2: [2-5] [6-9] [10-13] [14-17] [18-19].
    confidences = [0.9] * 20
    for bar in (7, 8, 16, 18):
        confidences[bar] = 0.2  # unsure: 7 and 8 in the second window, 16 in the fourth, 18
    keeper = keeper_for(confidences, LLMCadence(every_bars=4, below_drl_confidence=0.5))
    # 2: no view yet; 7: the second window's first unsure bar (8 is not asked again); 13: the
    # third window was sure throughout, so its last bar; 16; 18: unsure in the last window.
    assert asked_bars(keeper, confidences, first_bar=2) == [2, 7, 13, 16, 18]
    assert keeper.asks == 5


def test_a_hybrid_without_a_threshold_keeps_the_llm_alone_calendar() -> None:
    confidences = [0.0] * 12  # unsure everywhere, but no threshold to tell
    keeper = keeper_for(confidences, LLMCadence(every_bars=3))
    assert asked_bars(keeper, confidences, first_bar=2) == [2, 5, 8, 11]


def test_a_window_the_keeper_was_not_shown_asks_at_once() -> None:
    keeper = keeper_for([0.9] * 20, LLMCadence(every_bars=3, below_drl_confidence=0.5))
    for bar in (2, 3):
        keeper.view_at(bar, FLAT, 100.0, 0.9)
    # Bars 4-10 not shown (the window [5-7] had no ask): the first bar shown asks, sure or not.
    assert keeper.view_at(11, FLAT, 100.0, 0.9)[1]
    assert not keeper.view_at(12, FLAT, 100.0, 0.1)[1]  # 11 and 12 share the window [11-13]


@pytest.mark.parametrize("every_bars", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("n_bars", [60, 203, 257])  # whole windows and runs ending mid-window
def test_the_hybrid_never_asks_more_than_llm_alone_and_its_view_is_never_2k_bars_old(
    every_bars: int, n_bars: int
) -> None:
    rng = np.random.default_rng(every_bars * 1000 + n_bars)
    confidences = list(rng.uniform(0.3, 0.9, n_bars))  # under 0.55 on ~40% of bars, in runs:
    for start in rng.integers(0, n_bars, n_bars // 10):
        confidences[start : start + 8] = [0.35] * len(confidences[start : start + 8])
    market = market_with(confidences)
    assert np.mean(np.asarray(confidences[market.first_bar :]) < 0.55) > 0.4
    hybrid = hybrid_on(market, LLMCadence(every_bars=every_bars, below_drl_confidence=0.55))
    alone = LLMAlone(CountingAnalyst(), MarketSnapshots(market, window=5), every_bars, COMBINER)
    hybrid_asks_per_window: dict[int, int] = {}
    for bar in range(market.first_bar, n_bars):
        step = hybrid.decide(bar, FLAT, 100.0)
        alone.decide(bar, FLAT, 100.0)
        assert step.llm_view is not None
        assert bar - step.llm_view.asked_at_bar < 2 * every_bars  # the age bound
        if step.llm_view.asked_at_bar == bar:
            window = (bar - market.first_bar) // every_bars
            hybrid_asks_per_window[window] = hybrid_asks_per_window.get(window, 0) + 1
        assert hybrid.llm.asks <= alone.llm.asks  # at every bar, not only at the end
    assert set(hybrid_asks_per_window.values()) == {1}
    windows = -(-(n_bars - market.first_bar) // every_bars)
    assert alone.llm.asks == windows
    assert windows - 1 <= hybrid.llm.asks <= windows


COMBINER = CombinerConfig(long_only=True)


def test_a_view_of_a_sure_agent_is_refreshed_at_the_end_of_each_window() -> None:
    # Never unsure: the asks fall on each window's last bar, 2 * every_bars - 1 apart at most.
    confidences = [0.9] * 40
    keeper = keeper_for(confidences, LLMCadence(every_bars=5, below_drl_confidence=0.5))
    asked = asked_bars(keeper, confidences, first_bar=2)
    assert asked == [2, 11, 16, 21, 26, 31, 36]
    assert max(b - a for a, b in itertools.pairwise(asked)) == 9  # 2 * 5 - 1


def test_the_keeper_resumes_with_the_same_windows() -> None:
    rng = np.random.default_rng(7)
    confidences = list(rng.uniform(0.0, 1.0, 40))
    cadence = LLMCadence(every_bars=4, below_drl_confidence=0.3)
    whole = keeper_for(confidences, cadence)
    expected = asked_bars(whole, confidences, first_bar=2)

    first = keeper_for(confidences, cadence)
    before = [b for b in range(2, 17) if first.view_at(b, FLAT, 100.0, confidences[b])[1]]
    state = json.loads(json.dumps(first.state_dict()))
    assert state == {"asks": len(before), "first_bar": 2}
    resumed = keeper_for(confidences, cadence)
    resumed.load_state_dict(state, first.view)
    after = asked_bars(resumed, confidences, first_bar=17)
    assert before + after == expected
    assert resumed.asks == whole.asks


def test_a_state_saved_before_windows_were_kept_starts_them_at_its_view() -> None:
    confidences = [0.9] * 20
    keeper = keeper_for(confidences, LLMCadence(every_bars=4))
    view = LLMView(asked_at_bar=6, decision=BUY)
    keeper.load_state_dict({"asks": 3}, view)
    assert asked_bars(keeper, confidences, first_bar=7) == [10, 14, 18]
    with pytest.raises(InvalidInputError, match=r"KeeperState\.first_bar"):
        keeper.load_state_dict({"asks": 3, "first_bar": -1}, view)


@pytest.mark.parametrize(
    "cadence",
    [
        {"every_bars": 0},
        {"below_drl_confidence": 1.5},
        {"unsure_quantile": 0.0},
        {"unsure_quantile": 1.0},
    ],
)
def test_bad_cadence_settings_are_refused(cadence: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="LLMCadence"):
        LLMCadence(**cadence)  # type: ignore[arg-type]


# ---- the threshold of "unsure" ----------------------------------------------------------------


def test_the_unsure_cut_is_the_quantile_of_confidences_that_rarely_tie() -> None:
    confidences = np.random.default_rng(0).uniform(0.3, 0.7, 1000)
    cut = unsure_cut(confidences, 0.2)
    assert np.mean(confidences < cut) == pytest.approx(0.2)
    assert cut == pytest.approx(np.quantile(confidences, 0.2), abs=1e-3)


def test_the_unsure_cut_falls_between_tied_values() -> None:
    # A zero-slope calibration map: one confidence per action. The plain 20% quantile is 0.49,
    # under which only the 11% at 0.13 lie; 30% at the lowest value would leave none under it.
    few = np.repeat([0.13, 0.49, 0.52], [11, 67, 22])
    assert unsure_cut(few, 0.2) == pytest.approx((0.13 + 0.49) / 2)
    heavy = np.repeat([0.13, 0.49, 0.52], [30, 48, 22])
    assert np.quantile(heavy, 0.2) == 0.13  # nothing is strictly under the plain quantile
    assert np.mean(heavy < unsure_cut(heavy, 0.2)) == 0.3
    assert unsure_cut(np.full(10, 0.4), 0.2) == 0.4  # all equal: none unsure
    with pytest.raises(InvalidInputError, match="quantile"):
        unsure_cut(few, 1.0)
    with pytest.raises(InvalidInputError, match="confidences"):
        unsure_cut(np.array([]), 0.2)


@pytest.fixture(scope="module")
def trained_agent(tmp_path_factory: pytest.TempPathFactory) -> DRLAgent:
    """The paper tests' tiny DQN on synthetic up to END (trained once per session)."""
    return DRLAgent.load(tiny_agent(tmp_path_factory))


def test_the_default_quantile_splits_a_real_agents_confidences(trained_agent: DRLAgent) -> None:
    agent = trained_agent
    validation = validation_confidences(agent)
    # One decision per validation bar: the first at the close of the last train bar.
    assert 50 < len(validation) < 200
    threshold = drl_unsure_threshold(agent)
    assert validation.min() < threshold < validation.max()
    assert 0.0 < np.mean(validation < threshold) <= 2 * UNSURE_QUANTILE
    assert LLMCadence().for_agent(agent).below_drl_confidence == threshold

    test = confidences_along(agent, load_trading_market(agent, "synthetic", end=END).arrays)
    unsure = test < threshold
    assert unsure.any() and not unsure.all()


def test_the_threshold_reads_no_bar_after_the_validation_split(
    trained_agent: DRLAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    last_days: list[str] = []
    original = cadence_module.prepare_market

    def spy(*args: Any, **kwargs: Any) -> PreparedMarket:
        prepared = original(*args, **kwargs)
        last_days.append(format_date(prepared.bars.index[-1]))
        return prepared

    monkeypatch.setattr(cadence_module, "prepare_market", spy)
    drl_unsure_threshold(trained_agent)
    assert last_days == [trained_agent.manifest.splits["validation"][1]]


def test_a_source_that_no_longer_gives_the_validation_dates_is_refused(
    trained_agent: DRLAgent, tmp_path: Path
) -> None:
    manifest = trained_agent.manifest.model_copy(
        update={
            "splits": {**trained_agent.manifest.splits, "validation": ("2006-08-19", "2006-12-29")}
        }
    )
    moved = DRLAgent(trained_agent.models, manifest, source=str(tmp_path))
    with pytest.raises(AgentError, match="calibrated on"):
        validation_confidences(moved)
