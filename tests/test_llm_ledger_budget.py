"""Ledger totals per UTC day and month, restarts, parallel writers; budget status and alerts."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llm import Budget, Ledger, LedgerEntry
from llm.gateway.budget import BudgetAlert, Period
from tests.gateway_helpers import ManualClock
from tests.llm_helpers import ledger_rows, spend_totals


def _paid(cost: float, model: str = "m1", task: str = "narrative_analysis") -> LedgerEntry:
    return LedgerEntry(task, model, model, input_tokens=100, output_tokens=10, cost_usd=cost)


def test_spend_is_summed_per_utc_day_and_month(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 3, 31, 23, 0, tzinfo=UTC))
    with Ledger(tmp_path / "ledger.sqlite", clock=clock) as ledger:
        ledger.record(_paid(0.25))
        clock.advance(hours=2)  # 01:00 on April 1st: a new day and a new month
        ledger.record(_paid(0.5))
        ledger.record(_paid(0.125, model="m2"))
        assert spend_totals(ledger) == (pytest.approx(0.625), pytest.approx(0.625))
        assert ledger.spend_since(datetime(2026, 3, 1, tzinfo=UTC)) == pytest.approx(0.875)
        usage = {row.name: row for row in ledger.usage_by_model()}
        assert (usage["m1"].calls, usage["m1"].cost_usd) == (2, pytest.approx(0.75))
        assert (usage["m2"].calls, usage["m2"].input_tokens) == (1, 100)


def test_restart_keeps_the_days_spend(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "ledger.sqlite"
    with Ledger(path, clock=clock) as ledger:
        ledger.record(_paid(0.3))
    with Ledger(path, clock=clock) as reopened:
        assert spend_totals(reopened)[0] == pytest.approx(0.3)
        assert [e.cost_usd for e in ledger_rows(path)] == [pytest.approx(0.3)]


def test_failures_and_cache_hits_are_counted_apart(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite", clock=ManualClock()) as ledger:
        ledger.record(_paid(0.1))
        ledger.record(LedgerEntry("narrative_analysis", "m1", None, error="timeout"))
        ledger.record(LedgerEntry("narrative_analysis", "m1", "m1", cache_hit=True))
        ledger.record(LedgerEntry("narrative_analysis", "m1", "m1", cache_hit=True))
        (row,) = ledger.usage_by_model()
        assert (row.calls, row.errors, row.cache_hits) == (1, 1, 2)
        assert ledger.cache_hit_rate() == pytest.approx(2 / 3)


def test_parallel_writers_lose_nothing(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite", clock=ManualClock()) as ledger:

        def write() -> None:
            for _ in range(50):
                ledger.record(_paid(0.001))

        threads = [threading.Thread(target=write) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(ledger_rows(tmp_path / "ledger.sqlite")) == 400
        assert spend_totals(ledger)[0] == pytest.approx(0.4)


def test_alert_fires_once_at_the_threshold_and_not_again_after_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    path = tmp_path / "ledger.sqlite"
    alerts: list[BudgetAlert] = []
    with Ledger(path, clock=clock) as ledger:
        budget = Budget(ledger, daily_usd=1.0, monthly_usd=100.0, on_alert=alerts.append)
        for _ in range(3):
            ledger.record(_paid(0.25))
            assert budget.check_alerts() == []  # 0.25, 0.50, 0.75: under 80%
        ledger.record(_paid(0.25))  # 1.00 >= 0.80
        with caplog.at_level(logging.WARNING, logger="llm.gateway.budget"):
            (alert,) = budget.check_alerts()
        assert "daily budget alert for 2026-03-10" in caplog.text
        assert (alert.period, alert.period_key) == (Period.DAILY, "2026-03-10")
        assert alert.spent_usd == pytest.approx(1.0)
        ledger.record(_paid(0.25))
        assert budget.check_alerts() == []
        assert budget.status().is_exhausted
    with Ledger(path, clock=clock) as reopened:
        assert Budget(reopened, 1.0, 100.0, on_alert=alerts.append).check_alerts() == []
        clock.advance(days=1)  # a new day may alert again
        reopened.record(_paid(0.9))
        assert [a.period_key for a in Budget(reopened, 1.0, 100.0).check_alerts()] == ["2026-03-11"]
    assert len(alerts) == 1


def test_budget_status_low_and_exhausted() -> None:
    with Ledger(":memory:", clock=ManualClock()) as ledger:
        budget = Budget(ledger, daily_usd=1.0, monthly_usd=2.0, alert_threshold=0.8)
        ledger.record(_paid(0.5))
        status = budget.status()
        assert (status.is_low, status.is_exhausted) == (False, False)
        assert status.remaining_usd == pytest.approx(0.5)
        ledger.record(_paid(0.35))
        assert budget.status().is_low
        assert not budget.status().is_exhausted
        zero = Budget(ledger, daily_usd=0.0, monthly_usd=2.0).status()
        assert zero.is_exhausted and zero.remaining_usd == 0.0
