"""`TeamConfig.parallel_analysts`: the analysts at once, or chained; the analysis is the same.

Concurrency is shown with a barrier, not with timings: each analyst call waits there for the
others, so analysts that may run at the same time are all in flight before any goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading

import pytest

from llm import AnalystTeam, LLMRequest, LLMResponse, Task
from llm.gateway.types import LLMCallError
from llm.team.analysts.offline import OfflineAnalystChatModel
from llm.team.graph import TeamConfig
from llm.testing.in_process_gateway import InProcessGateway
from tests.llm_helpers import trend_snapshot

ANALYST_TASKS = {Task.CHART_ANALYSIS, Task.NARRATIVE_ANALYSIS, Task.DATA_PROCESSOR}
# Summed in another order these give another float: 0.1 + 0.6 + 0.2 != 0.1 + 0.2 + 0.6.
COSTS = {Task.CHART_ANALYSIS: 0.1, Task.NARRATIVE_ANALYSIS: 0.2, Task.DATA_PROCESSOR: 0.6}


class ScriptedGateway:
    """The offline analyst in process, with a cost per task and tasks that fail.

    Each analyst call waits at `barrier` for its parties (going on when it times out), so calls
    that may overlap do; the most calls in flight at once and the order of tasks are recorded.
    """

    def __init__(
        self,
        barrier: threading.Barrier | None = None,
        failing: frozenset[Task] = frozenset(),
    ) -> None:
        self.inner = InProcessGateway(OfflineAnalystChatModel())
        self.barrier = barrier
        self.failing = failing
        self.tasks: list[Task] = []
        self.most_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()

    def complete(self, request: LLMRequest) -> LLMResponse:
        with self._lock:
            self.tasks.append(request.task)
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
        try:
            if self.barrier is not None and request.task in ANALYST_TASKS:
                with contextlib.suppress(threading.BrokenBarrierError):
                    self.barrier.wait()
            if request.task in self.failing:
                raise LLMCallError(f"{request.task.value}: every model failed")
            response = self.inner.complete(request)
            return dataclasses.replace(response, cost_usd=COSTS.get(request.task, 0.0))
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self) -> None:
        """Nothing to release."""


def _config(parallel: bool) -> TeamConfig:
    return TeamConfig(chart_images=False, parallel_analysts=parallel)


def test_parallel_analysts_are_in_flight_together() -> None:
    gateway = ScriptedGateway(threading.Barrier(3, timeout=10))
    with AnalystTeam(gateway, _config(parallel=True)) as team:
        result = team.analyse(trend_snapshot(0.004))
    assert gateway.most_in_flight == 3
    assert [s.analyst for s in result.signals] == ["chart", "data", "narrative"]


def test_chained_analysts_run_one_at_a_time_in_order() -> None:
    gateway = ScriptedGateway(threading.Barrier(2, timeout=0.5))  # a second party never comes
    with AnalystTeam(gateway, _config(parallel=False)) as team:
        result = team.analyse(trend_snapshot(0.004))
    assert gateway.most_in_flight == 1
    assert gateway.tasks == [
        Task.CHART_ANALYSIS,
        Task.DATA_PROCESSOR,
        Task.NARRATIVE_ANALYSIS,
        Task.META_ORCHESTRATOR,
    ]
    assert result.decided_by == "meta"


@pytest.mark.parametrize(
    "failing",
    [frozenset(), frozenset({Task.NARRATIVE_ANALYSIS, Task.DATA_PROCESSOR})],
    ids=["all answer", "two fail"],
)
@pytest.mark.parametrize("drift", [-0.004, 0.004])
def test_chaining_changes_nothing_in_the_analysis(drift: float, failing: frozenset[Task]) -> None:
    snapshot = trend_snapshot(drift, news="Record profits; analysts upgrade the stock.")
    results = []
    for parallel in (True, False):
        with AnalystTeam(ScriptedGateway(failing=failing), _config(parallel)) as team:
            results.append(team.analyse(snapshot))
    parallel_result, chained_result = results
    assert chained_result == parallel_result  # errors in the same order, the same float cost
    assert len(parallel_result.errors) == len(failing)
