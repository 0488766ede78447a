"""The weights report on a tiny journal whose every figure is computed by hand, and its command.

The journal holds bars 0..4, decisions at bars 0..3 and four Hedge updates; update k scores the
decision of bar k-1 over the return r_k and is recorded at bar k:

    k  p_drl  p_llm   r      c_drl   c_llm   w_drl before   hybrid target
    1  +1     -1     +0.02   0.001   0.001   0.5            +1
    2  +1      0     -0.01   0       0.0005  0.6            +0.5
    3  -0.5   +1     +0.03   0.0005  0.0005  0.7             0
    4   0     +1     +0.01   0       0       0.4            -1

so the net returns are DRL (0.019, -0.01, -0.0155, 0) and LLM (-0.021, -0.0005, 0.0295, 0.01).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from llm import LedgerEntry
from orchestrator.errors import ReportError
from orchestrator.execution.broker import BrokerFill, OrderAck, OrderRequest, OrderStatus
from orchestrator.execution.portfolio import PortfolioState
from orchestrator.journal.reader import JournalReader
from orchestrator.journal.writer import Journal
from orchestrator.reports.weights import (
    build_weights_report,
    hedge_loss_regret,
    hit_rate,
    net_return_regret,
)
from orchestrator.runs import journaled_account
from orchestrator.trader.combiner import HybridAction, HybridDecision
from orchestrator.trader.hedge import ExpertWeights, WeightUpdate
from orchestrator.trader.votes import SourceVote
from tests.journal_helpers import IDENTITY, bar, record_plain_bar, weights_with

CLI = Path(sys.executable).with_name("hybrid-trader")
DRL_POSITION = (1.0, 1.0, -0.5, 0.0)
LLM_POSITION = (-1.0, 0.0, 1.0, 1.0)
RETURNS = (0.02, -0.01, 0.03, 0.01)
DRL_COST = (0.001, 0.0, 0.0005, 0.0)
LLM_COST = (0.001, 0.0005, 0.0005, 0.0)
WEIGHT_BEFORE = (0.5, 0.6, 0.7, 0.4, 0.45)  # the last one: after the fourth update
HYBRID_TARGET = (1.0, 0.5, 0.0, -1.0)
EQUITY = (1_000.0, 1_010.0, 1_005.0, 1_020.0, 1_030.0)


def _update(step: int) -> WeightUpdate:
    i = step - 1
    drl_net = DRL_POSITION[i] * RETURNS[i] - DRL_COST[i]
    llm_net = LLM_POSITION[i] * RETURNS[i] - LLM_COST[i]
    return WeightUpdate(
        step=step,
        label=f"bar {step}",
        drl_position=DRL_POSITION[i],
        llm_position=LLM_POSITION[i],
        bar_return=RETURNS[i],
        drl_cost=DRL_COST[i],
        llm_cost=LLM_COST[i],
        drl_loss=-drl_net,
        llm_loss=-llm_net,
        drl_weight_before=WEIGHT_BEFORE[i],
        drl_weight_after=WEIGHT_BEFORE[i + 1],
    )


def _decision(target: float) -> HybridDecision:
    return HybridDecision(
        drl=SourceVote(signal=0.5, confidence=0.8),
        llm=SourceVote(signal=0.5, confidence=0.6),
        drl_weight=0.5,
        llm_weight=0.5,
        score=target,
        agreed=False,
        action=HybridAction.BUY if target > 0 else HybridAction.HOLD,
        target_position=target,
        reasoning="synthetic",
    )


def write_tiny_journal(path: Path) -> None:
    order = OrderRequest(
        client_order_id="order-0", symbol="ASSET", quantity=1.0, decision_bar=0, intent="rebalance"
    )
    fill = BrokerFill("fill-0", "order-0", 1, 1.0, 100.02, 0.1, 100.0, 0.2)
    with Journal.open(path, IDENTITY) as journal:
        for index in range(5):
            updates = [_update(step) for step in range(1, index + 1)]
            with journal.record_bar(bar(index)) as writer:
                if index < 4:
                    writer.record_decision(_decision(HYBRID_TARGET[index]))
                if index == 0:
                    ack = OrderAck("order-0", "b-0", "ASSET", 1.0, OrderStatus.ACCEPTED)
                    writer.record_order(order, ack)
                    writer.record_llm_call(LedgerEntry("meta_orchestrator", "m", "m", 1, 1, 0.01))
                if index == 1:
                    writer.record_fill(fill)
                if index == 2:
                    writer.record_llm_call(LedgerEntry("meta_orchestrator", "m", "m", 1, 1, 0.02))
                if index > 0:
                    writer.record_weight_update(updates[-1], decision_bar=index - 1)
                cash = EQUITY[index]
                writer.record_state(
                    portfolio=PortfolioState(cash=cash, peak_equity=cash, start_of_day_equity=cash),
                    weights=weights_with(updates, WEIGHT_BEFORE[index]),
                    llm_view=None,
                )


@pytest.fixture
def tiny_journal(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.sqlite"
    write_tiny_journal(path)
    return path


def test_hit_rates_ignore_flat_positions_and_count_a_zero_return_as_a_miss() -> None:
    rate = hit_rate(np.array([1.0, -1.0, 0.0, 0.5, 1.0]), np.array([0.1, 0.1, 0.3, -0.2, 0.0]))
    assert (rate.hits, rate.calls, rate.rate) == (1, 4, 0.25)
    assert hit_rate(np.zeros(3), np.ones(3)).rate is None


def test_the_report_of_the_tiny_journal_matches_the_hand_computation(tiny_journal: Path) -> None:
    with JournalReader.open(tiny_journal) as reader:
        report = build_weights_report(reader)
    assert report.n_updates == 4 and report.start_equity == 1_000.0
    assert report.final_weights == pytest.approx({"drl": 0.45, "llm": 0.55})
    rates = {name: (hit.hits, hit.calls) for name, hit in report.hit_rates.items()}
    # DRL: hit at 1 only (2 and 3 wrong, 4 flat); LLM: hits at 3 and 4; hybrid: 1 right, 2 and 4
    # wrong, 3 flat.
    assert rates == {"drl": (1, 3), "llm": (2, 3), "hybrid": (1, 3)}

    drl_return = 1.019 * 0.99 * 0.9845 - 1.0
    llm_return = 0.979 * 0.9995 * 1.0295 * 1.01 - 1.0
    # Hedge mix per bar: 0.5*0.019 + 0.5*-0.021, 0.6*-0.01 + 0.4*-0.0005, 0.7*-0.0155 + 0.3*0.0295,
    # 0.4*0 + 0.6*0.01
    mix_return = 0.999 * 0.9938 * 0.998 * 1.006 - 1.0
    attribution = {name: part.net_return for name, part in report.attribution.items()}
    assert attribution == pytest.approx(
        {"drl": drl_return, "llm": llm_return, "hedge_mix": mix_return, "hybrid": 0.03}, abs=1e-12
    )
    assert report.attribution["hybrid"].pnl == pytest.approx(30.0)
    assert report.attribution["llm"].pnl == pytest.approx(1_000.0 * llm_return)

    net = report.regret_net_return
    assert net.best_fixed_drl_weight == 0.0  # following the LLM alone was best in hindsight
    assert net.best_fixed == pytest.approx(llm_return, abs=1e-12)
    assert net.regret == pytest.approx(llm_return - mix_return, abs=1e-12)
    loss = report.regret_hedge_loss
    # Learned loss = -(sum of mix net returns) = -(-0.001 - 0.0062 - 0.002 + 0.006) = 0.0032;
    # summed LLM losses = -0.018 (the best fixed weight is 0): regret 0.0212.
    assert (loss.learned, loss.best_fixed, loss.regret) == pytest.approx(
        (0.0032, -0.018, 0.0212), abs=1e-12
    )
    assert loss.best_fixed_drl_weight == 0.0
    assert report.llm_spend_usd == pytest.approx(0.03)
    assert report.hybrid_costs_paid == pytest.approx(0.3)
    # The bound is AdaHedge's on the journaled losses: replaying them through the learner.
    learner = ExpertWeights(("drl", "llm"))
    for step in range(1, 5):
        update = _update(step)
        relatives = {"drl": math.exp(-update.drl_loss), "llm": math.exp(-update.llm_loss)}
        learner.update({"drl": 0.0, "llm": 0.0}, relatives)
    assert report.regret_bound == pytest.approx(learner.regret_bound) and learner.regret_bound > 0
    assert report.trajectory["drl_weight_after"].tolist() == [0.6, 0.7, 0.4, 0.45]
    assert report.cumulative["hybrid"].tolist() == pytest.approx([0.0, 0.01, 0.005, 0.02, 0.03])
    assert report.cumulative["timestamp"].iloc[0] == bar(0).timestamp
    # The account read back keeps each bar's LLM dollars at the bar that spent them.
    with JournalReader.open(tiny_journal) as reader:
        spent = journaled_account(reader).frame["llm_usd"]
    assert spent.tolist() == pytest.approx([0.01, 0.0, 0.02, 0.0, 0.0])


def test_the_best_fixed_weight_can_lie_inside_the_interval() -> None:
    """Anti-correlated sources: (0.95 + 0.15 w)(1.1 - 0.15 w) peaks at w = 0.5, 1.025^2."""
    drl, llm = np.array([0.1, -0.05]), np.array([-0.05, 0.1])
    regret = net_return_regret(np.array([0.5, 0.5]), drl, llm)
    assert regret.best_fixed_drl_weight == 0.5
    assert regret.best_fixed == pytest.approx(1.025**2 - 1.0, abs=1e-12)
    assert regret.fixed[0] == regret.fixed[-1] == pytest.approx(0.045, abs=1e-12)
    assert regret.regret == pytest.approx(0.0, abs=1e-12)
    losses = hedge_loss_regret(np.array([1.0, 1.0]), -drl, -llm)
    assert losses.regret == pytest.approx(0.0, abs=1e-12)  # linear: every weight ties here


def test_a_journal_without_weight_updates_has_nothing_to_report(tmp_path: Path) -> None:
    path = tmp_path / "young.sqlite"
    with Journal.open(path, IDENTITY) as journal:
        record_plain_bar(journal, 0)
    with JournalReader.open(path) as reader, pytest.raises(ReportError, match="no weight updates"):
        build_weights_report(reader)


def test_a_lost_fortune_cannot_be_compounded() -> None:
    with pytest.raises(ReportError, match="lost everything at update 2"):
        net_return_regret(np.array([1.0, 1.0]), np.array([0.1, -1.2]), np.array([0.0, 0.0]))


def _run_weights(*args: str) -> subprocess.CompletedProcess[str]:
    assert CLI.is_file(), f"{CLI} is missing: run `pip install -e .` first"
    return subprocess.run(
        [str(CLI), "weights", *args], capture_output=True, text=True, timeout=180, check=False
    )


def test_the_command_writes_json_plots_and_summary(tiny_journal: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = _run_weights("--journal", str(tiny_journal), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "4 weight updates; final weights DRL 0.450 / LLM 0.550" in result.stdout
    saved = json.loads((out / "weights.json").read_text())
    assert saved["hit_rates"]["llm"] == {"hits": 2, "calls": 3, "rate": 2 / 3}
    assert saved["regret"]["hedge_loss"]["regret"] == pytest.approx(0.0212, abs=1e-12)
    assert len(saved["regret"]["net_return"]["grid"]) == 101
    assert [row["step"] for row in saved["trajectory"]] == [1, 2, 3, 4]
    for name in ("weights.png", "pnl.png", "fixed_weights.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    assert "| LLM's book (hypothetical) | 66.7% (2/3) |" in summary
    sections = [line for line in summary.splitlines() if line.startswith("## ")]
    assert sections[:3] == [
        "## What the account earned",
        "## The learned mix (hypothetical)",
        "## Each source alone",
    ]
    # Without --agent, the sources alone are not run, and the report says how to run them.
    assert saved["sources_alone"] == {}
    assert "Not run: `hybrid-trader weights --agent DIR`" in summary
    assert result.stdout.startswith("the account earned ")
    assert "best fixed DRL weight, 0.00" in summary
    assert "plain AdaHedge's bound (2 x its mixability gap; the run's learner) is" in summary
    assert math.isclose(saved["final_weights"]["drl"], 0.45)


def test_the_command_on_a_bad_path_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.sqlite"
    result = _run_weights("--journal", str(missing), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: no journal at {missing}"]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "out").exists()
