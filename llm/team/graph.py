"""The analyst graph: three analysts in parallel, then the meta orchestrator decides.

    START -> chart, narrative, data (parallel) -> meta -> END
    START -> chart -> data -> narrative -> meta -> END       (parallel_analysts=False)

The per-decision cost cap is shared out before the run: each analyst may spend an equal share,
and the meta call (or each council seat) gets what the analysts left, so a run never plans to
spend more than the cap and the gateway downgrades or skips calls that would.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace
from functools import partial
from types import TracebackType
from typing import Annotated, ClassVar, Protocol

import pydantic.dataclasses
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from pydantic import Field, InstanceOf

from llm.gateway import LLMConfigError, LLMError, LLMRequest, LLMResponse
from llm.team.analysts import chart, data, meta, narrative
from llm.team.analysts.base import CompletionGateway
from llm.team.checked import CHECKED, Checked
from llm.team.council import Council
from llm.team.schemas import AgentSignal, TradingDecision
from llm.team.snapshot import MarketSnapshot
from llm.team.state import AnalystState, DecisionSource, NodeIssue, StateUpdate, initial_state

DEFAULT_COST_CAP_USD = 0.01
DEFAULT_DECISION_DEADLINE_S = 300.0  # seconds after which a decision's calls start no attempt
ANALYSTS = (chart.NODE, narrative.NODE, data.NODE)


@pydantic.dataclasses.dataclass(frozen=True, slots=True, config=CHECKED)
class TeamConfig(Checked):
    """How the team works. `chart_images=False` sends the chart analyst the bar table only (the
    offline analyst cannot see images, so rendering one for it would be wasted time).

    `decision_deadline_s`: seconds from the start of a decision after which none of its calls
    starts a new attempt (the meta call then falls back to the analysts' signals).

    `parallel_analysts=False` chains the analysts (chart, narrative, data, then meta) on the
    caller's thread instead of running them at once. Parallel is what model calls want: they wait
    on the network. The offline analyst is CPU-bound Python that threads cannot overlap, so for
    it the threads LangGraph starts and joins on every run are pure cost (about 1 ms of a 5 ms
    decision); the nodes, the state and the decision are the same either way.
    """

    error: ClassVar[type[LLMError]] = LLMConfigError

    cost_cap_usd: Annotated[float, Field(gt=0)] = DEFAULT_COST_CAP_USD
    chart_images: bool = True
    council: InstanceOf[Council] | None = None
    long_document_tokens: Annotated[int, Field(gt=0)] = narrative.LONG_DOCUMENT_TOKENS
    parallel_analysts: bool = True
    decision_deadline_s: Annotated[float, Field(gt=0)] = DEFAULT_DECISION_DEADLINE_S

    def analyst_cap_usd(self) -> float:
        meta_calls = len(self.council.models) if self.council else 1
        return self.cost_cap_usd / (len(ANALYSTS) + meta_calls)


class Node(Protocol):
    """One node of the graph: reads the state, returns its partial write."""

    def __call__(self, state: AnalystState) -> StateUpdate: ...


def analyst_nodes(gateway: CompletionGateway, config: TeamConfig) -> dict[str, Node]:
    """Every node of the team, bound to its gateway and its share of the cost cap."""
    analyst_cap = config.analyst_cap_usd()
    return {
        chart.NODE: partial(
            chart.chart_analyst,
            gateway=gateway,
            cap_usd=analyst_cap,
            with_image=config.chart_images,
        ),
        narrative.NODE: partial(
            narrative.narrative_analyst,
            gateway=gateway,
            cap_usd=analyst_cap,
            long_document_tokens=config.long_document_tokens,
        ),
        data.NODE: partial(data.data_analyst, gateway=gateway, cap_usd=analyst_cap),
        meta.NODE: partial(
            meta.meta_orchestrator,
            gateway=gateway,
            cost_cap_usd=config.cost_cap_usd,
            council=config.council,
        ),
    }


def build_analyst_graph(
    gateway: CompletionGateway, config: TeamConfig | None = None
) -> CompiledStateGraph:
    config = config or TeamConfig()
    graph = StateGraph(AnalystState)
    for name, node in analyst_nodes(gateway, config).items():
        graph.add_node(name, node)
    if config.parallel_analysts:
        for analyst in ANALYSTS:
            graph.add_edge(START, analyst)
        graph.add_edge(list(ANALYSTS), meta.NODE)
    else:  # in the order LangGraph applies parallel writes (by name): the same state either way
        for before, after in itertools.pairwise((START, *sorted(ANALYSTS), meta.NODE)):
            graph.add_edge(before, after)
    graph.add_edge(meta.NODE, END)
    return graph.compile()


@dataclass(frozen=True)
class AnalysisResult:
    """A decision with everything that led to it."""

    decision: TradingDecision
    decided_by: DecisionSource
    signals: tuple[AgentSignal, ...]
    errors: tuple[NodeIssue, ...]
    skipped: tuple[NodeIssue, ...]


class _DeadlineGateway:
    """Stamps every request of the decision in progress with the time its decision has left;
    the graph's nodes are bound to it once, the deadline (`time.monotonic()` seconds) is set
    per decision."""

    def __init__(self, inner: CompletionGateway) -> None:
        self.inner = inner
        self.deadline_s = float("inf")

    def complete(self, request: LLMRequest) -> LLMResponse:
        left = max(0.0, self.deadline_s - time.monotonic())
        return self.inner.complete(replace(request, time_left_s=left))

    def close(self) -> None:
        self.inner.close()


class AnalystTeam:
    """A compiled analyst graph behind two calls: `analyse` (everything) and `decide`.

    The team owns its gateway: closing the team closes the gateway's ledger and cache.
    """

    def __init__(self, gateway: CompletionGateway, config: TeamConfig | None = None) -> None:
        config = config or TeamConfig()
        self.gateway = gateway
        self.config = config
        self._timed = _DeadlineGateway(gateway)
        self._graph = build_analyst_graph(self._timed, config)

    def analyse(self, snapshot: MarketSnapshot) -> AnalysisResult:
        """Every analyst's view and the decision; the decision's calls share its deadline."""
        self._timed.deadline_s = time.monotonic() + self.config.decision_deadline_s
        state = self._graph.invoke(initial_state(snapshot))
        return AnalysisResult(
            decision=state["decision"],
            decided_by=state["decided_by"],
            signals=tuple(sorted(state["signals"], key=lambda s: s.analyst)),
            errors=tuple(state["errors"]),
            skipped=tuple(state["skipped"]),
        )

    def decide(self, snapshot: MarketSnapshot) -> TradingDecision:
        """The decision, with the analysts' signals it weighed attached."""
        analysis = self.analyse(snapshot)
        return analysis.decision.model_copy(update={"signals": list(analysis.signals)})

    def close(self) -> None:
        self.gateway.close()

    def __enter__(self) -> AnalystTeam:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
