"""The account value the risk manager reads: day rolls, peaks, fills, entry prices, persistence."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest

from envs import CostModel, execute
from orchestrator.errors import InvalidInputError
from orchestrator.execution.portfolio import PortfolioState

FREE = CostModel(commission_bps=0.0, slippage_bps=0.0)
DAY1, DAY2 = dt.date(2020, 1, 2), dt.date(2020, 1, 3)


def test_opening_is_flat_with_peak_and_day_start_at_the_cash() -> None:
    state = PortfolioState.opening(100_000.0)
    assert (state.cash, state.shares, state.entry_price) == (100_000.0, 0.0, None)
    assert state.peak_equity == state.start_of_day_equity == 100_000.0
    assert state.equity(123.0) == 100_000.0


def test_fill_charges_the_env_costs_and_sets_the_entry_at_the_fill_price() -> None:
    costs = CostModel(commission_bps=1.0, slippage_bps=2.0)
    state = PortfolioState.opening(100_000.0).filled(500.0, 100.0, costs)
    expected = execute(100_000.0, 0.0, 500.0, 100.0, costs)
    assert state.cash == expected.cash
    assert state.shares == 500.0
    assert state.entry_price == pytest.approx(100.0 * 1.0002)
    assert state.trades_today == 1


def test_entry_price_averages_up_keeps_on_reduction_resets_on_flip_and_clears_on_close() -> None:
    state = PortfolioState.opening(100_000.0).filled(100.0, 100.0, FREE)
    state = state.filled(100.0, 110.0, FREE)
    assert state.entry_price == pytest.approx(105.0)
    state = state.filled(-50.0, 120.0, FREE)
    assert state.entry_price == pytest.approx(105.0)
    state = state.filled(-250.0, 90.0, FREE)
    assert (state.shares, state.entry_price) == (-100.0, 90.0)
    state = state.filled(100.0, 95.0, FREE)
    assert (state.shares, state.entry_price) == (0.0, None)
    assert state.trades_today == 5


def test_marking_raises_the_peak_and_a_new_day_starts_from_the_last_mark() -> None:
    state = PortfolioState.opening(10_000.0).filled(100.0, 100.0, FREE)
    state = state.marked(120.0, DAY1)  # equity 12,000: a new peak
    assert state.peak_equity == state.last_equity == 12_000.0
    assert state.start_of_day_equity == 10_000.0  # a fresh account starts from its cash
    state = state.filled(-50.0, 110.0, FREE)  # cash 5,500 and 50 shares, filled next morning
    state = state.marked(90.0, DAY2)
    # Close to close: yesterday's 12,000 starts the day, whatever the morning's fill did.
    assert state.start_of_day_equity == 12_000.0
    assert (state.trades_today, state.day, state.peak_equity) == (0, DAY2, 12_000.0)
    assert state.last_equity == 5_500.0 + 50 * 90.0


def test_marking_the_same_day_keeps_trades_and_latches() -> None:
    state = PortfolioState.opening(10_000.0).marked(100.0, DAY1)
    state = state.filled(10.0, 100.0, FREE)
    state = state.copy_with(daily_loss_breached=True).marked(101.0, DAY1)
    assert (state.trades_today, state.daily_loss_breached) == (1, True)
    assert state.marked(101.0, DAY2).daily_loss_breached is False


def test_it_reads_back_from_its_json_values() -> None:
    state = PortfolioState.opening(10_000.0).filled(10.0, 100.0, FREE).marked(101.0, DAY1)
    saved = json.loads(json.dumps(state.model_dump(mode="json")))
    assert saved["day"] == "2020-01-02"
    assert PortfolioState.from_mapping(saved) == state


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.marked(0.0, DAY1), "price"),
        (lambda s: s.marked(100.0, "2020-01-02"), "day"),
        (lambda s: s.marked(100.0, DAY2).marked(100.0, DAY1), "back in time"),
        (lambda s: s.filled(0.0, 100.0, FREE), "non-zero"),
        (
            lambda s: PortfolioState(
                cash=1.0, peak_equity=1.0, start_of_day_equity=1.0, shares=2.0
            ),
            "entry_price",
        ),
        (lambda s: PortfolioState.from_mapping({"cash": 1.0}), "peak_equity: Field required"),
        (lambda s: s.copy_with(trades_today=True), "trades_today"),
    ],
)
def test_bad_inputs_are_refused(call: Callable[[PortfolioState], object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call(PortfolioState.opening(10_000.0))
