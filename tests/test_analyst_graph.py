"""The analyst graph end to end: real ChatOpenAI over HTTP to the local server, the real gateway.

The server answers like the offline analyst (`offline_responder`), so answers depend on the
prompt. Each task has its own model in the test stack, so a fault can be put in exactly one
analyst's model. Gateway sleeps are recorded, not slept (GatewayKit).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llm import (
    Action,
    AnalystTeam,
    LLMRequest,
    LLMResponse,
    MarketSnapshot,
    ModelStack,
    Task,
    build_analyst_team,
    snapshot_from_frame,
)
from llm.team.consensus import combine_signals
from llm.team.council import Council
from llm.team.graph import TeamConfig
from llm.team.schemas import MetaAnswer, RiskLevel
from llm.team.state import IssueKind
from llm.testing.offline_responder import offline_responder
from llm.testing.openai_server import FakeOpenAIServer, Fault
from tests.gateway_helpers import GatewayKit, settings_for_server
from tests.llm_helpers import ledger_rows, trend_frame, trend_snapshot

BULL = 0.004
MODEL_OF = {"chart": "vision-v", "narrative": "narrative-n", "data": "small-s", "meta": "meta-m"}


def _model(price_in: float, price_out: float, context: int = 100_000, **caps: Any) -> dict:
    return {
        "input_per_million": price_in,
        "output_per_million": price_out,
        "context_tokens": context,
        **caps,
    }


def graph_stack() -> ModelStack:
    """One model per task and no fallbacks, so a fault in one model hits one analyst only.

    Prices keep every analyst's worst case (prompt + 2048 output tokens) under its share of the
    default $0.01 cap ($0.0025).
    """
    data = {
        "routing": {
            "small_model": "small-s",
            "vision_model": "vision-v",
            "long_context_model": "long-l",
            "long_context_threshold_tokens": 32_000,
        },
        "tasks": {
            "chart_analysis": {"primary": "vision-v"},
            "narrative_analysis": {"primary": "narrative-n"},
            "data_processor": {"primary": "small-s", "tier": "simple"},
            "meta_orchestrator": {"primary": "meta-m", "tier": "complex"},
            "council": {"primary": "meta-m", "tier": "complex"},
            "document_analysis": {"primary": "long-l"},
            "trade_execution": {"primary": "top-x", "tier": "critical"},
            "reflection": {"primary": "small-s", "tier": "simple"},
        },
        "models": {
            "vision-v": _model(0.3, 0.6, vision=True),
            "narrative-n": _model(0.2, 0.8),
            "small-s": _model(0.05, 0.1),
            "long-l": _model(0.4, 0.8, context=500_000),
            "meta-m": _model(0.2, 0.8),
            "meta-r": _model(0.5, 2.0),
            "meta-k": _model(0.4, 1.6),
            "top-x": _model(10.0, 50.0, vision=True),
        },
    }
    return ModelStack.from_mapping(data, source="graph test stack")


class RecordingGateway:
    """The real gateway, with every request it was asked to complete kept for inspection."""

    def __init__(self, kit: GatewayKit) -> None:
        self.inner = kit.gateway
        self.requests: list[LLMRequest] = []

    def complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        return self.inner.complete(request)

    def close(self) -> None:
        self.inner.close()


def _team(
    server: FakeOpenAIServer, tmp_path: Path, config: TeamConfig | None = None
) -> tuple[AnalystTeam, RecordingGateway]:
    server.responder = offline_responder
    kit = GatewayKit.build(server, tmp_path, stack=graph_stack(), env={"LLM_CACHE_MODE": "off"})
    gateway = RecordingGateway(kit)
    return AnalystTeam(gateway, config or TeamConfig()), gateway


def _answer_for(server: FakeOpenAIServer, answers: dict[str, Callable[[], str]]) -> None:
    """Model-specific answer text; other models answer like the offline analyst."""

    def responder(body: dict[str, Any]) -> str:
        make = answers.get(body["model"])
        return make() if make else offline_responder(body)

    server.responder = responder


def _meta_json(action: str, size: float, confidence: float = 0.8) -> Callable[[], str]:
    answer = MetaAnswer(
        action=action, size=size, confidence=confidence, risk_level="MEDIUM", reasoning=action
    )
    return lambda: f"```json\n{answer.model_dump_json()}\n```\nThat is my call."


def test_decision_end_to_end_over_http(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    team, gateway = _team(openai_server, tmp_path)
    with team:
        result = team.analyse(trend_snapshot(BULL))
        ledger_total = sum(e.cost_usd for e in ledger_rows(tmp_path / "ledger.sqlite"))
    assert result.decided_by == "meta" and result.errors == () and result.skipped == ()
    assert [s.analyst for s in result.signals] == ["chart", "data", "narrative"]
    assert result.decision.action is Action.BUY
    assert result.decision.models == sorted(MODEL_OF.values())
    assert result.decision.cost_usd == pytest.approx(ledger_total) and ledger_total > 0
    (chart_request,) = openai_server.requests_for("vision-v")
    parts = chart_request.body["messages"][1]["content"]
    assert parts[1]["type"] == "image_url"
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
    tasks = {r.task for r in gateway.requests}
    assert tasks == {Task.CHART_ANALYSIS, Task.NARRATIVE_ANALYSIS, Task.DATA_PROCESSOR} | {
        Task.META_ORCHESTRATOR
    }


FAULTS: dict[str, Callable[[FakeOpenAIServer, str], None]] = {
    "http 500": lambda server, model: server.configure(model, always=Fault.server_error()),
    "broken body": lambda server, model: server.configure(model, always=Fault.invalid_json()),
    "timeout": lambda server, model: server.configure(model, always=Fault.slow(1.0)),
    "dropped": lambda server, model: server.configure(model, always=Fault.drop()),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("analyst", ["chart", "narrative", "data"])
def test_a_failing_analyst_model_is_recorded_and_the_decision_still_comes(
    openai_server: FakeOpenAIServer, tmp_path: Path, analyst: str, fault: str
) -> None:
    team, _ = _team(openai_server, tmp_path)
    FAULTS[fault](openai_server, MODEL_OF[analyst])
    result = team.analyse(trend_snapshot(BULL))
    (error,) = result.errors
    assert (error.node, error.kind) == (analyst, IssueKind.CALL_FAILED)
    assert MODEL_OF[analyst] in error.message
    assert analyst not in {s.analyst for s in result.signals} and len(result.signals) == 2
    assert result.decided_by == "meta"
    assert MODEL_OF[analyst] not in result.decision.models
    team.close()


@pytest.mark.parametrize("analyst", ["chart", "narrative", "data"])
def test_an_unparseable_answer_is_an_error_not_a_zero_signal(
    openai_server: FakeOpenAIServer, tmp_path: Path, analyst: str
) -> None:
    team, _ = _team(openai_server, tmp_path)
    _answer_for(openai_server, {MODEL_OF[analyst]: lambda: "Looks bullish to me, buy!"})
    result = team.analyse(trend_snapshot(BULL))
    (error,) = result.errors
    assert (error.node, error.kind) == (analyst, IssueKind.CALL_FAILED)
    assert "invalid_answer: answer contains no JSON object" in error.message
    assert analyst not in {s.analyst for s in result.signals}
    assert MODEL_OF[analyst] not in result.decision.models  # paid (the ledger), never used
    team.close()


@pytest.mark.parametrize(
    "break_meta",
    [
        lambda server: server.configure("meta-m", always=Fault.server_error()),
        lambda server: _answer_for(server, {"meta-m": lambda: '{"action": "BUY", "size": 7}'}),
    ],
    ids=["http 500", "invalid answer"],
)
def test_meta_failure_falls_back_to_the_confidence_weighted_vote(
    openai_server: FakeOpenAIServer,
    tmp_path: Path,
    break_meta: Callable[[FakeOpenAIServer], None],
) -> None:
    team, _ = _team(openai_server, tmp_path)
    healthy = team.analyse(trend_snapshot(BULL))
    break_meta(openai_server)
    result = team.analyse(trend_snapshot(BULL))
    assert result.decided_by == "fallback"
    assert [e.node for e in result.errors] == ["meta"]
    assert result.signals == healthy.signals
    expected = combine_signals(list(result.signals), source="fallback")
    assert result.decision.action is expected.action is Action.BUY
    assert (result.decision.size, result.decision.confidence) == (
        expected.size,
        expected.confidence,
    )
    assert result.decision.reasoning.startswith("fallback: confidence-weighted signal")
    team.close()


def _council_team(
    server: FakeOpenAIServer, tmp_path: Path, models: tuple[str, ...], rule: str
) -> AnalystTeam:
    """A council team with room in its cost cap for every seat's worst case."""
    council = Council(models, rule)  # type: ignore[arg-type]
    team, _ = _team(server, tmp_path, TeamConfig(council=council, cost_cap_usd=0.1))
    return team


def test_council_disagreement_holds(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    team = _council_team(openai_server, tmp_path, ("meta-m", "meta-r"), "majority")
    _answer_for(
        openai_server, {"meta-m": _meta_json("BUY", 0.6), "meta-r": _meta_json("SELL", 0.4)}
    )
    result = team.analyse(trend_snapshot(BULL))
    assert result.decided_by == "council"
    assert (result.decision.action, result.decision.size) == (Action.HOLD, 0.0)
    assert result.decision.confidence == 0.0
    assert "failed closed" in result.decision.reasoning
    assert {"meta-m", "meta-r"} <= set(result.decision.models)
    team.close()


def test_council_majority_survives_one_failed_seat(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    team = _council_team(openai_server, tmp_path, ("meta-m", "meta-r", "meta-k"), "majority")
    _answer_for(
        openai_server, {"meta-m": _meta_json("BUY", 0.6, 0.9), "meta-r": _meta_json("BUY", 0.4)}
    )
    openai_server.configure("meta-k", always=Fault.server_error())
    result = team.analyse(trend_snapshot(BULL))
    assert result.decision.action is Action.BUY
    assert (result.decision.size, result.decision.confidence) == (0.4, 0.8)  # the cautious seat
    assert [(e.node, e.kind) for e in result.errors] == [("meta:meta-k", IssueKind.CALL_FAILED)]
    votes = [(v.model, v.action, v.size) for v in result.decision.council_votes]
    assert votes == [("meta-m", Action.BUY, 0.6), ("meta-r", Action.BUY, 0.4), ("meta-k", None, 0)]
    team.close()


def test_unanimous_council_fails_closed_on_one_error(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    team = _council_team(openai_server, tmp_path, ("meta-m", "meta-r"), "unanimous")
    _answer_for(openai_server, {"meta-m": _meta_json("BUY", 0.6)})
    openai_server.configure("meta-r", always=Fault.invalid_json())
    result = team.analyse(trend_snapshot(BULL))
    assert result.decision.action is Action.HOLD and result.decision.risk_level is RiskLevel.HIGH
    assert result.decided_by == "council"
    team.close()


def test_each_council_seat_asks_its_own_model(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    council = Council(("meta-m", "meta-r"), "unanimous")
    team, gateway = _team(openai_server, tmp_path, TeamConfig(council=council, cost_cap_usd=0.1))
    result = team.analyse(trend_snapshot(BULL))
    assert result.decision.action is Action.BUY  # both seats answer like the offline analyst
    seats = sorted(tuple(r.models or ()) for r in gateway.requests if r.models)
    assert seats == [("meta-m",), ("meta-r",)]
    assert len(openai_server.requests_for("meta-m")) == len(openai_server.requests_for("meta-r"))
    team.close()


def test_no_look_ahead_decision_ignores_data_after_t(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    frame = trend_frame(n_bars=160, drift=BULL)
    t = frame.index[99]
    team, _ = _team(openai_server, tmp_path)
    before = snapshot_from_frame(frame, t, symbol="TEST", news="Record profit.")
    decided = team.analyse(before)
    future = frame.copy()
    future.iloc[100:, :4] = future.iloc[100:, :4].to_numpy()[::-1] * 0.3  # a crash after t
    future.iloc[100:, 4] = 1e9
    after = snapshot_from_frame(future, t, symbol="TEST", news="Record profit.")
    assert after == before
    assert team.analyse(after) == decided
    team.close()


def test_analysts_without_input_are_skipped_not_failed(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    team, _ = _team(openai_server, tmp_path)
    bare = trend_snapshot(BULL)
    news_only = MarketSnapshot(
        symbol="TEST", timestamp=bare.timestamp, news="Analysts upgrade; record growth."
    )
    result = team.analyse(news_only)
    assert [(s.node, s.kind) for s in result.skipped] == [
        ("chart", IssueKind.MISSING_INPUT),
        ("data", IssueKind.MISSING_INPUT),
    ]
    assert result.errors == () and [s.analyst for s in result.signals] == ["narrative"]
    assert openai_server.models_called().count("vision-v") == 0
    team.close()


def test_nothing_to_analyse_holds_with_zero_confidence(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    team, _ = _team(openai_server, tmp_path)
    result = team.analyse(MarketSnapshot(symbol="TEST", timestamp=trend_snapshot(BULL).timestamp))
    assert len(result.skipped) == 3 and result.signals == ()
    assert (result.decision.action, result.decision.confidence) == (Action.HOLD, 0.0)
    assert result.decided_by == "fallback" and result.decision.cost_usd == 0.0
    assert openai_server.requests == []
    team.close()


def test_cost_cap_is_shared_and_what_is_left_goes_to_meta(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    team, gateway = _team(openai_server, tmp_path)
    for model in ("vision-v", "narrative-n", "small-s"):
        openai_server.configure(model, cost=0.001)  # the gateway's reported charge (usage.cost)
    openai_server.configure("meta-m", cost=0.002)
    result = team.analyse(trend_snapshot(BULL))
    caps = {r.task: r.max_cost_usd for r in gateway.requests}
    assert caps[Task.CHART_ANALYSIS] == caps[Task.DATA_PROCESSOR] == pytest.approx(0.0025)
    assert caps[Task.META_ORCHESTRATOR] == pytest.approx(0.01 - 0.003)
    assert result.decision.cost_usd == pytest.approx(0.005)
    team.close()


def test_a_tight_cost_cap_skips_the_dear_analysts(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    # $0.002 / 4 calls = $0.0005 each: vision-v and narrative-n cost ~$0.001 and ~$0.0006 with
    # the expected 400 output tokens, small-s ~$0.0001.
    team, _ = _team(openai_server, tmp_path, TeamConfig(cost_cap_usd=0.002))
    result = team.analyse(trend_snapshot(BULL))
    assert [(s.node, s.kind) for s in result.skipped] == [
        ("chart", IssueKind.BUDGET_SKIP),
        ("narrative", IssueKind.BUDGET_SKIP),
    ]
    assert "cost cap" in result.skipped[0].message
    assert [s.analyst for s in result.signals] == ["data"] and result.decided_by == "meta"
    assert set(openai_server.models_called()) == {"small-s", "meta-m"}
    team.close()


def test_long_news_goes_to_the_long_context_task(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    # ~38K prompt tokens on long-l cost ~$0.017: more than the default cap allows.
    team, gateway = _team(openai_server, tmp_path, TeamConfig(chart_images=False, cost_cap_usd=0.2))
    filing = "Revenue grew and margins held. " * 5_000  # ~150K characters
    result = team.analyse(trend_snapshot(BULL, news=filing))
    narrative_request = next(r for r in gateway.requests if r.template_version.startswith("narr"))
    assert narrative_request.task is Task.DOCUMENT_ANALYSIS
    assert "long-l" in result.decision.models and "narrative-n" not in result.decision.models
    team.close()


def test_a_decision_out_of_time_asks_no_model_and_holds(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    team, _ = _team(openai_server, tmp_path, TeamConfig(decision_deadline_s=1e-9))
    result = team.analyse(trend_snapshot(BULL))
    assert openai_server.models_called() == []
    assert {error.node for error in result.errors} == {"chart", "narrative", "data"}
    assert all("deadline passed" in error.message for error in result.errors)
    assert result.decision.action == "HOLD"
    team.close()


def test_a_council_in_the_model_stack_votes_the_meta_decision_of_a_gateway_run(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """`[council]` in the stack file turns the council on for gateway runs: each seat's call is
    in the ledger under the council task, the tally in the decision's reasoning."""
    seats = ["deepseek/deepseek-chat-v3-0324", "mistralai/mistral-medium-3.1"]
    stack_file = tmp_path / "stack.toml"
    stack_file.write_text(f"[council]\nmodels = {seats!r}\nrule = 'unanimous'\n".replace("'", '"'))
    settings = settings_for_server(
        openai_server,
        tmp_path,
        {"LLM_MODEL_STACK": str(stack_file), "LLM_CACHE_MODE": "off", "LLM_TIMEOUT_S": "5"},
    )
    openai_server.responder = offline_responder
    with build_analyst_team("gateway", settings=settings) as team:
        assert team.config.council == Council(tuple(seats), "unanimous")
        result = team.analyse(trend_snapshot(BULL))
    assert result.decided_by == "council"
    assert "council (unanimous) 2/2" in result.decision.reasoning
    votes = result.decision.council_votes  # each seat's ballot, kept with the decision
    assert [v.model for v in votes] == seats
    assert {v.action for v in votes} == {result.decision.action}
    rows = ledger_rows(tmp_path / "ledger.sqlite")
    seat_rows = [e for e in rows if e.task == "council"]
    assert sorted(e.model_requested for e in seat_rows) == sorted(seats)
    assert not [e for e in rows if e.task == "meta_orchestrator"]
    with build_analyst_team("offline", settings=settings) as offline:
        assert offline.config.council is None  # offline runs never convene it
