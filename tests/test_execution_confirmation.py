"""The execution check: the offline rule, and fail-closed vetoes through the real gateway over HTTP.

The gateway tests run the real `Gateway` and `ChatOpenAI` against the local OpenAI-compatible
server (`GatewayKit`, small stack: trade_execution -> top-x, then primary-a), so retries,
timeouts and critical routing are the production ones.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from envs import CostModel
from llm import Confirmation, LedgerEntry, build_analyst_team, load_settings
from llm.team.analysts.execution import build_messages
from llm.team.analysts.offline_rules import execution_rule, trend_z
from llm.team.prompt_sections import find_sections
from llm.testing.openai_server import FakeOpenAIServer, Fault
from orchestrator.execution.portfolio import PortfolioState
from orchestrator.execution.risk import OrderCheck, RiskManager
from orchestrator.runs.llm_cost import LLMCallLog
from orchestrator.trader.confirmation import ExecutionConfirmer, order_facts
from orchestrator.trader.snapshots import MarketSnapshots
from tests.engine_helpers import trading_market
from tests.gateway_helpers import GatewayKit
from tests.llm_helpers import trend_frame

CASH = 100_000.0
BAR = 59  # the last bar of a 60-bar market
CONFIRM = json.dumps({"verdict": "CONFIRM", "reason": "fine by me"})


def snapshots_for(drift: float) -> MarketSnapshots:
    """60 bars whose log price drifts by `drift` per bar (1 % daily noise)."""
    frame = trend_frame(n_bars=60, drift=drift)
    return MarketSnapshots(trading_market(list(frame["open"]), list(frame["close"])))


def order_check(snapshots: MarketSnapshots, target: float, account: PortfolioState) -> OrderCheck:
    price = float(snapshots.market.arrays.close[BAR])
    return RiskManager().check(target, account, price, snapshots.market.day(BAR))


def long_account(snapshots: MarketSnapshots, fraction: float) -> PortfolioState:
    price = float(snapshots.market.arrays.close[BAR - 1])
    opening = PortfolioState.opening(CASH)
    filled = opening.filled(fraction * CASH / price, price, CostModel())
    return filled.marked(price, dt.date(2000, 1, 1))


def rule_verdict(snapshots: MarketSnapshots, check: OrderCheck) -> tuple[str, str]:
    snapshot = snapshots.at(BAR, check.portfolio, check.price)
    text = "\n".join(str(m.content) for m in build_messages(snapshot, order_facts(check, "x")))
    answer = execution_rule(find_sections(text))
    return answer.verdict, answer.reason


def test_the_rule_confirms_buying_with_the_trend_and_vetoes_buying_against_it() -> None:
    rising, falling = snapshots_for(0.01), snapshots_for(-0.01)
    assert rule_verdict(rising, order_check(rising, 1.0, PortfolioState.opening(CASH)))[0] == (
        "CONFIRM"
    )
    verdict, reason = rule_verdict(falling, order_check(falling, 1.0, PortfolioState.opening(CASH)))
    assert verdict == "VETO" and "against a strong trend" in reason


def test_the_rule_always_confirms_reducing_risk() -> None:
    falling = snapshots_for(-0.01)
    check = order_check(falling, 0.0, long_account(falling, 0.9))
    assert check.order_shares < 0 and check.status.value == "approved"
    verdict, reason = rule_verdict(falling, check)
    assert verdict == "CONFIRM" and "reduces risk" in reason


def test_the_rule_vetoes_an_order_larger_than_the_account() -> None:
    flat = snapshots_for(0.0)
    short = long_account(flat, -1.0)
    verdict, reason = rule_verdict(flat, order_check(flat, 1.0, short))  # a flip: about 2x equity
    assert verdict == "VETO" and "exceeds the 1.00x limit" in reason


def test_trend_z_is_the_move_in_volatility_units() -> None:
    closes = list(100.0 * np.exp(np.cumsum([0.01, -0.01] * 10 + [0.01])))
    returns = np.diff(np.log(closes))
    expected = np.log(closes[-1] / closes[0]) / (returns.std() * np.sqrt(20))
    assert trend_z(closes) == pytest.approx(expected)
    assert trend_z([100.0, 101.0]) == 0.0


def test_the_offline_team_answers_through_its_gateway_and_the_call_is_tapped(
    tmp_path: Path,
) -> None:
    settings = load_settings({"LLM_LEDGER_PATH": str(tmp_path / "ledger.sqlite")}, env_file=None)
    falling = snapshots_for(-0.01)
    with build_analyst_team("offline", settings=settings) as team:
        calls = LLMCallLog.listen_to(team.gateway)
        assert calls is not None
        confirmer = ExecutionConfirmer(team.gateway, falling)
        vetoed = confirmer.confirm(
            BAR, order_check(falling, 1.0, PortfolioState.opening(CASH)), "x"
        )
        (entry,) = calls.drain()
    assert not vetoed.confirmed and vetoed.model == "offline-analyst"
    assert "against a strong trend" in vetoed.reason
    assert entry.task == "trade_execution" and entry.error is None and calls.drain() == ()


def test_an_unchanged_vetoed_order_is_not_asked_again_the_next_bar(tmp_path: Path) -> None:
    settings = load_settings({"LLM_LEDGER_PATH": str(tmp_path / "ledger.sqlite")}, env_file=None)
    falling = snapshots_for(-0.01)
    opening = PortfolioState.opening(CASH)
    with build_analyst_team("offline", settings=settings) as team:
        calls = LLMCallLog.listen_to(team.gateway)
        assert calls is not None
        confirmer = ExecutionConfirmer(team.gateway, falling)
        first = confirmer.confirm(BAR - 2, order_check(falling, 1.0, opening), "x")
        again = confirmer.confirm(BAR - 1, order_check(falling, 1.0, opening), "x")
        assert len(calls.drain()) == 1  # the second bar asked nothing
        assert not again.confirmed and again.cost_usd == 0.0
        assert again.reason == f"{first.reason} (unchanged since bar {BAR - 2}, not re-asked)"
        confirmer.confirm(BAR, order_check(falling, 0.5, opening), "x")  # another order
        assert len(calls.drain()) == 1


# ---- the real gateway over HTTP --------------------------------------------------------------


def confirm_over_http(server: FakeOpenAIServer, tmp_path: Path, **env: str) -> Confirmation:
    kit = GatewayKit.build(server, tmp_path, env={"LLM_CACHE_MODE": "off", **env})
    rising = snapshots_for(0.01)
    check = order_check(rising, 1.0, PortfolioState.opening(CASH))
    with kit.gateway:
        return ExecutionConfirmer(kit.gateway, rising).confirm(BAR, check, "rebalance")


def test_a_confirmation_comes_from_the_top_model(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.responder = lambda _body: CONFIRM
    confirmation = confirm_over_http(openai_server, tmp_path)
    assert confirmation == Confirmation(True, "fine by me", "top-x", confirmation.cost_usd)
    assert confirmation.cost_usd > 0
    assert openai_server.models_called() == ["top-x"]


def test_the_critical_model_is_used_even_with_no_budget_left(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.responder = lambda _body: CONFIRM
    kit = GatewayKit.build(openai_server, tmp_path, env={"DAILY_LLM_BUDGET": "0.01"})
    kit.gateway.ledger.record(LedgerEntry("narrative_analysis", "m", "m", cost_usd=0.02))
    rising = snapshots_for(0.01)
    check = order_check(rising, 1.0, PortfolioState.opening(CASH))
    with kit.gateway:
        confirmation = ExecutionConfirmer(kit.gateway, rising).confirm(BAR, check, "rebalance")
    assert confirmation.confirmed and confirmation.model == "top-x"
    assert openai_server.models_called() == ["top-x"]  # not downgraded, not skipped


def test_a_zero_budget_spends_nothing_even_on_the_critical_task(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    confirmation = confirm_over_http(openai_server, tmp_path, DAILY_LLM_BUDGET="0")
    assert not confirmation.confirmed and "the LLM budget is $0" in confirmation.reason
    assert openai_server.models_called() == []


def test_a_call_that_could_pass_the_hard_cap_is_not_made_and_the_order_not_confirmed(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """top-x at $10/$50 per million tokens with this prompt and up to 1,024 output tokens may
    cost $0.0659: under a $0.067 cap one check fits, and after it ($0.002 spent) a second does
    not. The cap used to be checked against what was spent, so a call started below it could
    pass it, and parallel calls all started together."""
    openai_server.responder = lambda _body: CONFIRM
    kit = GatewayKit.build(openai_server, tmp_path, env={"LLM_CACHE_MODE": "off"})
    rising = snapshots_for(0.01)
    check = order_check(rising, 1.0, PortfolioState.opening(CASH))
    confirmer = ExecutionConfirmer(kit.gateway, rising)
    with kit.gateway:
        kit.gateway.cap_spend(0.0001)
        refused = confirmer.confirm(BAR - 1, check, "rebalance")
        assert openai_server.models_called() == []
        kit.gateway.cap_spend(0.067)
        assert confirmer.confirm(BAR - 1, check, "rebalance").confirmed
        second = confirmer.confirm(BAR, check, "rebalance")
        assert kit.gateway.spent_usd == pytest.approx(0.002)  # the first check's cost
    assert not refused.confirmed and "hard cost cap of $0.0001 leaves $0.0001" in refused.reason
    assert "less than a top-x call may cost" in refused.reason
    assert not second.confirmed and "cap of $0.0670 leaves $0.0650" in second.reason
    assert openai_server.models_called() == ["top-x"]


def test_an_unparseable_answer_is_a_veto(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    openai_server.responder = lambda _body: "Sure, go ahead and buy!"
    confirmation = confirm_over_http(openai_server, tmp_path)
    assert not confirmation.confirmed and confirmation.model is None
    assert confirmation.reason.startswith("fail closed, the confirmation call failed: every model")
    assert "top-x: invalid_answer: answer contains no JSON" in confirmation.reason
    # retried and passed down its own chain like an HTTP error
    assert openai_server.models_called() == ["top-x", "top-x", "primary-a", "primary-a"]


def test_an_answer_that_breaks_the_schema_is_a_veto(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.responder = lambda _body: json.dumps({"verdict": "MAYBE", "reason": "hmm"})
    confirmation = confirm_over_http(openai_server, tmp_path)
    assert not confirmation.confirmed and "does not fit ExecutionAnswer" in confirmation.reason


def test_a_confirmation_served_by_a_model_outside_the_chain_is_a_veto(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    openai_server.responder = lambda _body: CONFIRM
    for model in ("top-x", "primary-a"):
        openai_server.configure(model, served_as="cheap-c")
    confirmation = confirm_over_http(openai_server, tmp_path)
    assert not confirmation.confirmed
    assert "top-x: wrong_model: answered by cheap-c, which is not in the task's chain" in (
        confirmation.describe()
    )


def test_server_errors_on_every_model_are_a_veto(
    openai_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    for model in ("top-x", "primary-a"):
        openai_server.configure(model, always=Fault.server_error())
    confirmation = confirm_over_http(openai_server, tmp_path)
    assert not confirmation.confirmed and confirmation.model is None
    assert confirmation.reason.startswith("fail closed, the confirmation call failed: every model")
    assert openai_server.models_called() == ["top-x", "top-x", "primary-a", "primary-a"]


def test_a_timeout_is_a_veto(openai_server: FakeOpenAIServer, tmp_path: Path) -> None:
    openai_server.responder = lambda _body: CONFIRM  # too late to count
    for model in ("top-x", "primary-a"):
        openai_server.configure(model, always=Fault.slow(0.6))
    confirmation = confirm_over_http(
        openai_server, tmp_path, LLM_TIMEOUT_S="0.2", LLM_MAX_ATTEMPTS="1"
    )
    assert not confirmation.confirmed and "timeout" in confirmation.reason.lower()
