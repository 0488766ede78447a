"""The ledger's spend totals: right after a restart, across threads, across two connections on
one file (two processes), across day and month boundaries; only paid rows count; one alert per
period.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from llm import Budget, Ledger, LedgerEntry, LLMRequest, Task
from llm.gateway.budget import BudgetAlert, Period
from llm.testing.openai_server import FakeOpenAIServer
from tests.gateway_helpers import GatewayKit, ManualClock
from tests.llm_helpers import ledger_rows, spend_totals


def _paid(cost: float, at: datetime | None = None) -> LedgerEntry:
    return LedgerEntry("narrative_analysis", "m1", "m1", 100, 10, cost_usd=cost, at=at)


def test_only_paid_rows_count(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite", clock=ManualClock()) as ledger:
        ledger.record(_paid(0.25))
        ledger.record(LedgerEntry("narrative_analysis", "m1", None, error="timeout"))
        ledger.record(LedgerEntry("narrative_analysis", "m1", "m1", cache_hit=True))
        ledger.record(LedgerEntry("data_processor", "offline-analyst", "offline-analyst", 1_600))
        assert spend_totals(ledger) == (0.25, 0.25)
        assert len(ledger_rows(tmp_path / "ledger.sqlite")) == 4


def test_totals_are_identical_after_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "ledger.sqlite"
    costs = [0.1, 0.2, 0.3, 1e-7, 0.000141, 1 / 3] * 5
    with Ledger(path, clock=clock) as ledger:
        for cost in costs:
            ledger.record(_paid(cost))
        before = spend_totals(ledger)
    assert before == (pytest.approx(math.fsum(costs)), pytest.approx(math.fsum(costs)))
    with Ledger(path, clock=clock) as reopened:
        assert spend_totals(reopened) == before
        assert reopened.spend_since(datetime(2026, 3, 1, tzinfo=UTC)) == before[1]
        reopened.record(_paid(0.1))
        assert spend_totals(reopened)[0] == pytest.approx(math.fsum([*costs, 0.1]))


def test_totals_follow_the_clock_into_a_new_day_and_month(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 3, 31, 22, 0, tzinfo=UTC))
    with Ledger(tmp_path / "ledger.sqlite", clock=clock) as ledger:
        ledger.record(_paid(0.5))
        ledger.record(_paid(0.25, at=clock.now - timedelta(days=1)))  # March 30th
        assert spend_totals(ledger) == (0.5, 0.75)
        clock.advance(hours=1)  # 23:00, same day
        ledger.record(_paid(0.125))
        assert spend_totals(ledger) == (0.625, 0.875)
        clock.advance(hours=2)  # 01:00 on April 1st: a new day and a new month
        assert spend_totals(ledger) == (0.0, 0.0)
        ledger.record(_paid(0.1))
        clock.advance(days=1)  # April 2nd: a new day, the same month
        ledger.record(_paid(0.2))
        assert spend_totals(ledger) == (0.2, pytest.approx(0.3))


def test_parallel_writers_and_readers_end_on_the_total(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite", clock=ManualClock()) as ledger:
        budget = Budget(ledger, daily_usd=1000.0, monthly_usd=1000.0)
        seen: list[float] = []

        def write(worker: int) -> None:
            for _ in range(50):
                ledger.record(_paid(0.1 * (worker + 1)))
                seen.append(budget.status().spent_today_usd)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(write, range(8)))
        expected = pytest.approx(math.fsum(0.1 * (w + 1) for w in range(8) for _ in range(50)))
        assert spend_totals(ledger) == (expected, expected)
        assert max(seen) == expected  # the last reader saw every row
        assert len(ledger_rows(tmp_path / "ledger.sqlite")) == 400


def test_two_connections_on_one_file_see_each_others_rows(tmp_path: Path) -> None:
    """Two ledgers on one file stand for two processes: neither may miss the other's spend."""
    clock = ManualClock()
    path = tmp_path / "ledger.sqlite"
    with Ledger(path, clock=clock) as first, Ledger(path, clock=clock) as second:
        first.record(_paid(0.1))
        assert spend_totals(second) == (0.1, 0.1)  # the file changed under `second`
        second.record(_paid(0.2))
        first.record(_paid(0.3))
        assert spend_totals(first) == spend_totals(second) == (pytest.approx(0.6),) * 2
        for _ in range(20):
            first.record(_paid(0.1))
            second.record(_paid(0.1))
        total = pytest.approx(math.fsum([0.1, 0.2, 0.3, *[0.1] * 40]))
        assert spend_totals(first) == spend_totals(second) == (total, total)


def test_bad_cost_is_refused_before_it_is_written(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite", clock=ManualClock()) as ledger:
        with pytest.raises(ValueError, match="cost of nan"):
            ledger.record(_paid(float("nan")))
        assert ledger_rows(tmp_path / "ledger.sqlite") == []
        assert spend_totals(ledger) == (0.0, 0.0)


def test_alert_fires_once_when_threads_cross_the_threshold_together(tmp_path: Path) -> None:
    alerts: list[BudgetAlert] = []
    with Ledger(tmp_path / "ledger.sqlite", clock=ManualClock()) as ledger:
        budget = Budget(ledger, daily_usd=1.0, monthly_usd=100.0, on_alert=alerts.append)
        barrier = threading.Barrier(8)

        def spend_and_check(_: int) -> list[BudgetAlert]:
            barrier.wait()
            fired = []
            for _ in range(5):
                ledger.record(_paid(0.05))
                fired += budget.check_alerts()
            return fired

        with ThreadPoolExecutor(max_workers=8) as pool:
            fired = [a for batch in pool.map(spend_and_check, range(8)) for a in batch]
    assert [(a.period, a.period_key) for a in fired] == [(Period.DAILY, "2026-03-10")]
    assert alerts == fired
    assert 0.8 <= fired[0].spent_usd <= 2.0


def test_a_second_process_does_not_repeat_the_alert(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "ledger.sqlite"
    with Ledger(path, clock=clock) as first, Ledger(path, clock=clock) as second:
        first_alerts: list[BudgetAlert] = []
        second_alerts: list[BudgetAlert] = []
        first_budget = Budget(first, 1.0, 100.0, on_alert=first_alerts.append)
        second_budget = Budget(second, 1.0, 100.0, on_alert=second_alerts.append)
        first.record(_paid(0.9))
        assert [a.period_key for a in first_budget.check_alerts()] == ["2026-03-10"]
        second.record(_paid(0.01))
        assert second_budget.status().spent_today_usd == pytest.approx(0.91)
        assert second_budget.check_alerts() == []
        assert (len(first_alerts), len(second_alerts)) == (1, 0)


def test_gateway_called_from_threads_alerts_exactly_once(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    kit = GatewayKit.build(openai_server, tmp_path, env={"DAILY_LLM_BUDGET": "1"})
    openai_server.configure("primary-a", cost=0.1)

    def call(index: int) -> float:
        request = LLMRequest(
            Task.NARRATIVE_ANALYSIS,
            [SystemMessage("You are an analyst."), HumanMessage(f"prompt {index}")],
        )
        return kit.gateway.complete(request).cost_usd

    with ThreadPoolExecutor(max_workers=6) as pool:
        costs = list(pool.map(call, range(12)))
    assert [(a.period, a.period_key) for a in kit.alerts] == [(Period.DAILY, "2026-03-10")]
    assert kit.gateway.budget.status().spent_today_usd == pytest.approx(math.fsum(costs))
