"""Speed and cost of the analyst graph: parallelism, offline latency, dollars per decision.

    python -m benchmarks.bench_llm --out benchmarks/bench_llm.md

1. Parallelism. The local OpenAI-compatible server adds 200 ms to every call; the real gateway
   and ChatOpenAI serve the packaged default stack over HTTP, chart images included. One decision
   (3 analysts in parallel, then meta) is compared with one analyst call plus the meta call
   (target: < 1.6x), with the chart analyst's whole work (rendering the PNG, then its call) plus
   the meta call, and with the same nodes run one after another.
2. Offline latency. `build_analyst_team("offline")` (the real gateway and its SQLite ledger,
   offline analyst, no images), p50 and p95 per decision, graph included (target p50 < 10 ms);
   also on a ledger file that already holds 10,000 of today's rows (a long backtest: budget
   checks must not slow down as the ledger grows), with the ledger in memory, and with no
   gateway at all (graph + offline analyst), which splits the time between the graph and the
   gateway's per-call bookkeeping.
3. Dollars per decision. The calls of the gateway runs of part 1, token counts estimated as the
   gateway estimates them (4 characters per token, 1,000 per image; the answer's length for the
   output), priced on the model that served each call in the default stack, and the same tokens
   all priced on Claude Opus (target: >= 30x cheaper).
4. Dollars per bar and per four-year backtest. One decision and one execution check rehearsed on
   sp500 snapshots (`llm.team.estimate_call_costs`: the prompts a paid run sends, answers at the
   expected length), priced on the default stack and, on the same tokens, all on Claude Opus. A
   bar costs at most one decision (the strategies share it through the cache) and one execution
   check per strategy that asks the LLM (four in the default backtest); 1,006 bars is the default
   four-year sp500 test split.
5. A dead upstream. Every model slow (answers after the timeout) or down (HTTP 500): how long a
   run of decisions goes on before the circuit breaker stops it, at scaled-down timeouts, and the
   bound at the default settings.

Data: the S&P 500 daily bars that `arch` ships; one snapshot (60 bars) per decision, each at a
different date. Timings are medians (p50) of repeated decisions after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from arch.data import sp500
from langgraph.graph.state import CompiledStateGraph

from llm import (
    AccountView,
    AgentSignal,
    AnalystTeam,
    CompletionGateway,
    Ledger,
    LedgerEntry,
    LLMGatewayDownError,
    LLMRequest,
    LLMResponse,
    LLMSettings,
    MarketSnapshot,
    ModelStack,
    Router,
    Task,
    build_analyst_team,
    load_model_stack,
    load_settings,
    snapshot_from_frame,
)
from llm.gateway.messages import CHARS_PER_TOKEN, estimate_prompt_tokens
from llm.gateway.model_stack import OFFLINE_MODEL_ID
from llm.team.analysts import chart, meta, narrative
from llm.team.analysts.candlesticks import render_candlestick_png
from llm.team.analysts.offline import OfflineAnalystChatModel
from llm.team.estimate import estimate_call_costs
from llm.team.graph import ANALYSTS, TeamConfig, build_analyst_graph
from llm.team.state import initial_state
from llm.testing.in_process_gateway import InProcessGateway
from llm.testing.offline_responder import offline_responder
from llm.testing.openai_server import FakeOpenAIServer, Fault

LATENCY_S = 0.2
PARALLEL_TARGET = 1.6
OFFLINE_P50_TARGET_MS = 10.0
CHEAPER_TARGET = 30.0
LONG_RUN_ROWS = 10_000
OPUS = "anthropic/claude-opus-4.1"
BENCH_KEY = "sk-bench-not-a-real-key"


def sp500_frame() -> pd.DataFrame:
    bars = sp500.load()[["Open", "High", "Low", "Close", "Volume"]].astype(float)
    return bars.rename(columns=str.lower)


def snapshots(frame: pd.DataFrame, count: int, start: int = 500) -> list[MarketSnapshot]:
    portfolio = AccountView(position=0.0, cash=1e5, equity=1e5)
    return [
        snapshot_from_frame(frame, frame.index[start + i], symbol="SPX", portfolio=portfolio)
        for i in range(count)
    ]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Call:
    """One answered call: what was asked, who served it, and the estimated token counts."""

    request: LLMRequest
    response: LLMResponse
    input_tokens: int
    output_tokens: int


class RecordingGateway:
    """The real gateway, recording every answered call for the cost comparison."""

    def __init__(self, inner: CompletionGateway) -> None:
        self.inner = inner
        self.calls: list[Call] = []

    def complete(self, request: LLMRequest) -> LLMResponse:
        response = self.inner.complete(request)
        self.calls.append(
            Call(
                request,
                response,
                estimate_prompt_tokens(request.messages),
                len(response.content) // CHARS_PER_TOKEN,
            )
        )
        return response

    def close(self) -> None:
        self.inner.close()


def sequential_graph(gateway: CompletionGateway, config: TeamConfig) -> CompiledStateGraph:
    """The same nodes, one after another: the baseline that parallelism is measured against."""
    return build_analyst_graph(gateway, replace(config, parallel_analysts=False))


@dataclass(frozen=True)
class ParallelResult:
    analyst_call_s: float
    chart_node_s: float
    render_s: float
    meta_call_s: float
    parallel_s: float
    sequential_s: float
    decision_calls: list[Call]


def chart_request(snapshot: MarketSnapshot, config: TeamConfig) -> LLMRequest:
    """The chart analyst's request, chart rendered: its whole work before the answer."""
    return chart.build_request(snapshot, with_image=True, cap_usd=config.analyst_cap_usd())


def bench_parallel(
    frame: pd.DataFrame, directory: Path, decisions: int, latency_s: float
) -> ParallelResult:
    with FakeOpenAIServer(offline_responder, latency_s=latency_s) as server:
        settings = load_settings(
            {
                "OPENROUTER_API_KEY": BENCH_KEY,
                "OPENROUTER_BASE_URL": server.base_url,
                "LLM_LEDGER_PATH": str(directory / "gateway-ledger.sqlite"),
                "LLM_CACHE_MODE": "off",
            },
            env_file=None,
        )
        built = build_analyst_team("gateway", settings=settings)
        gateway = RecordingGateway(built.gateway)
        config = built.config
        parallel = AnalystTeam(gateway, config)  # the same gateway, now recorded; owns it
        sequential = sequential_graph(gateway, config)
        cases = snapshots(frame, 2 * decisions + 1)
        parallel.decide(cases[0])  # warm-up: connections, chart fonts
        signals = [AgentSignal(analyst=n, signal=0.3, confidence=0.6) for n in ANALYSTS]
        analyst_calls, chart_nodes, renders, meta_calls = [], [], [], []
        parallel_runs, sequential_runs = [], []
        decision_calls: list[Call] = []
        for i in range(decisions):
            one = cases[1 + 2 * i]
            request = narrative.build_request(
                one, cap_usd=config.analyst_cap_usd(), long_document_tokens=10**9
            )
            analyst_calls.append(timed(lambda r=request: gateway.complete(r)))
            chart_nodes.append(timed(lambda s=one: gateway.complete(chart_request(s, config))))
            renders.append(timed(lambda s=one: render_candlestick_png(s.bars, title=s.symbol)))
            messages = meta.build_messages(one, signals, [])
            meta_request = meta.build_request(messages, config.cost_cap_usd)
            meta_calls.append(timed(lambda r=meta_request: gateway.complete(r)))
            first_call = len(gateway.calls)
            parallel_runs.append(timed(lambda s=one: parallel.decide(s)))
            decision_calls.extend(gateway.calls[first_call:])
            other = cases[2 + 2 * i]
            sequential_runs.append(timed(lambda s=other: sequential.invoke(initial_state(s))))
        parallel.close()
    return ParallelResult(
        statistics.median(analyst_calls),
        statistics.median(chart_nodes),
        statistics.median(renders),
        statistics.median(meta_calls),
        statistics.median(parallel_runs),
        statistics.median(sequential_runs),
        decision_calls,
    )


def latency(team: AnalystTeam, cases: Sequence[MarketSnapshot]) -> tuple[float, float]:
    """(p50, p95) seconds per decision after 20 warm-up decisions."""
    for case in cases[:20]:
        team.decide(case)
    runs = [timed(lambda s=case: team.decide(s)) for case in cases[20:]]
    return percentile(runs, 0.5), percentile(runs, 0.95)


def bench_offline(frame: pd.DataFrame, ledger: str, decisions: int) -> tuple[float, float]:
    """The offline team as users get it: the real gateway, its ledger, the offline analyst."""
    settings = load_settings({"LLM_LEDGER_PATH": ledger}, env_file=None)
    with build_analyst_team("offline", settings=settings) as team:
        return latency(team, snapshots(frame, decisions + 20))


def fill_ledger(path: Path, rows: int) -> None:
    """`rows` of today's offline calls in the ledger at `path`, as a long backtest leaves them."""
    entry = LedgerEntry(Task.DATA_PROCESSOR.value, OFFLINE_MODEL_ID, OFFLINE_MODEL_ID, 1_600, 60)
    with Ledger(path) as ledger:
        for _ in range(rows):
            ledger.record(entry)


def bench_offline_graph_only(frame: pd.DataFrame, decisions: int) -> tuple[float, float]:
    """The graph and the offline analyst alone, the gateway replaced by a direct call; the
    team configured as `build_analyst_team("offline")` configures it."""
    settings = load_settings({"LLM_LEDGER_PATH": ":memory:"}, env_file=None)
    with build_analyst_team("offline", settings=settings) as offline_team:
        config = offline_team.config
    gateway = InProcessGateway(OfflineAnalystChatModel())
    with AnalystTeam(gateway, config) as team:
        return latency(team, snapshots(frame, decisions + 20))


def cost_per_decision(
    calls: Sequence[Call], stack: ModelStack, decisions: int
) -> tuple[float, float]:
    """(default stack, all Opus) dollars per decision for the same token counts."""
    opus = stack.model(OPUS)
    served = sum(
        stack.model(c.response.model_served).cost_usd(c.input_tokens, c.output_tokens)
        for c in calls
    )
    all_opus = sum(opus.cost_usd(c.input_tokens, c.output_tokens) for c in calls)
    return served / decisions, all_opus / decisions


BACKTEST_BARS = 1_006  # the default sp500 test split, 2014-12-31 to 2018-12-31
ASKING_STRATEGIES = 4  # llm, hybrid_fixed, hybrid_learned, hybrid_seed


@dataclass(frozen=True)
class BarCost:
    """Dollars per decision and per execution check, default stack and all-Opus, same tokens."""

    decision_usd: float
    check_usd: float
    opus_decision_usd: float
    opus_check_usd: float

    def per_bar(self, *, opus: bool = False) -> float:
        """At most one decision and one check per asking strategy in a bar."""
        decision, check = (
            (self.opus_decision_usd, self.opus_check_usd)
            if opus
            else (self.decision_usd, self.check_usd)
        )
        return decision + ASKING_STRATEGIES * check


def bench_bar_cost(frame: pd.DataFrame, cases: int) -> BarCost:
    """Mean estimated dollars over `cases` sp500 snapshots (see part 4 of the docstring)."""
    settings = load_settings({}, env_file=None)
    stack = load_model_stack()
    router = Router.for_estimates(stack, settings)
    opus = stack.model(OPUS)
    totals = [0.0, 0.0, 0.0, 0.0]
    for snapshot in snapshots(frame, cases):
        costs = estimate_call_costs(snapshot, router, TeamConfig())
        on_opus = [
            cost.calls * opus.cost_usd(cost.prompt_tokens, settings.expected_output_tokens)
            for cost in (*costs.decision, costs.check)
        ]
        parts = (costs.usd_per_decision, costs.usd_per_check, sum(on_opus[:-1]), on_opus[-1])
        totals = [total + part / cases for total, part in zip(totals, parts, strict=True)]
    return BarCost(*totals)


@dataclass(frozen=True)
class DeadRun:
    """A run of decisions against an upstream that never answers in time or always fails."""

    seconds: float
    decisions: int
    requests: int


def bench_dead_upstream(frame: pd.DataFrame, directory: Path, fault: Fault) -> DeadRun:
    """Decide until the circuit breaker stops the run, every model answering with `fault`."""
    with FakeOpenAIServer(offline_responder) as server:
        server.fail_every_model(fault)
        settings = load_settings(
            {
                "OPENROUTER_API_KEY": BENCH_KEY,
                "OPENROUTER_BASE_URL": server.base_url,
                "LLM_LEDGER_PATH": str(directory / f"dead-{fault.kind}.sqlite"),
                "LLM_CACHE_MODE": "off",
                **DEAD_RUN_SETTINGS,
            },
            env_file=None,
        )
        decisions = 0
        started = time.perf_counter()
        with build_analyst_team("gateway", settings=settings) as team:
            try:
                for case in snapshots(frame, 100):
                    team.decide(case)
                    decisions += 1
            except LLMGatewayDownError:
                pass
        return DeadRun(time.perf_counter() - started, decisions, len(server.requests))


DEAD_RUN_SETTINGS = {"LLM_TIMEOUT_S": "0.2", "LLM_BACKOFF_BASE_S": "0.05", "LLM_MAX_BACKOFF_S": "1"}
SLOW_S = 1.0  # how late a slow model answers: well past the scaled timeout


def default_stop_bound_s(settings: LLMSettings, chain_length: int) -> float:
    """Seconds before the breaker stops a run whose every call fails at the worst (each attempt
    waits out the timeout): `breaker` calls in a row, each bounded by its deadline plus one last
    attempt, or by every attempt on every model of its chain if that comes first."""
    attempts = settings.max_attempts_per_model * chain_length
    waits = settings.max_attempts_per_model - 1
    every_attempt = attempts * settings.timeout_s + chain_length * waits * settings.max_backoff_s
    per_call = min(settings.call_deadline_s + settings.timeout_s, every_attempt)
    return settings.breaker_failures * per_call


def verdict(target: str, met: bool) -> str:
    return f"{target}: {'met' if met else 'NOT met'}"


def report(decisions: int, offline_decisions: int, latency_s: float) -> str:
    frame = sp500_frame()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        par = bench_parallel(frame, directory, decisions, latency_s)
        offline_file = bench_offline(
            frame, str(directory / "offline-ledger.sqlite"), offline_decisions
        )
        long_run_ledger = directory / "long-run-ledger.sqlite"
        fill_ledger(long_run_ledger, LONG_RUN_ROWS)
        offline_long_run = bench_offline(frame, str(long_run_ledger), offline_decisions)
        offline_memory = bench_offline(frame, ":memory:", offline_decisions)
        graph_only = bench_offline_graph_only(frame, offline_decisions)
        slow = bench_dead_upstream(frame, directory, Fault.slow(SLOW_S))
        down = bench_dead_upstream(frame, directory, Fault.server_error())
    bar = bench_bar_cost(frame, 20)
    defaults = load_settings({}, env_file=None)
    stack = load_model_stack()
    default_usd, opus_usd = cost_per_decision(par.decision_calls, stack, decisions)
    ratio = par.parallel_s / (par.analyst_call_s + par.meta_call_s)
    chart_ratio = par.parallel_s / (par.chart_node_s + par.meta_call_s)
    speedup = par.sequential_s / par.parallel_s
    tokens_in = sum(c.input_tokens for c in par.decision_calls) / decisions
    tokens_out = sum(c.output_tokens for c in par.decision_calls) / decisions
    ms = 1000.0
    offline_target = f"p50 < {OFFLINE_P50_TARGET_MS:g} ms"
    rows = [
        ("one analyst call (narrative), p50", f"{par.analyst_call_s * ms:.0f} ms", ""),
        ("chart analyst: render + call, p50", f"{par.chart_node_s * ms:.0f} ms", ""),
        ("of which the chart render alone, p50", f"{par.render_s * ms:.0f} ms", ""),
        ("the meta call, p50", f"{par.meta_call_s * ms:.0f} ms", ""),
        ("one decision, analysts in parallel, p50", f"{par.parallel_s * ms:.0f} ms", ""),
        ("one decision, analysts one after another, p50", f"{par.sequential_s * ms:.0f} ms", ""),
        (
            "parallel decision / (analyst call + meta call)",
            f"{ratio:.2f}x",
            verdict(f"< {PARALLEL_TARGET}x", ratio < PARALLEL_TARGET),
        ),
        (
            "parallel decision / (chart render + call + meta call)",
            f"{chart_ratio:.2f}x",
            verdict(f"< {PARALLEL_TARGET}x", chart_ratio < PARALLEL_TARGET),
        ),
        ("sequential / parallel", f"{speedup:.2f}x", ""),
        (
            "offline decision p50 / p95 (SQLite ledger file)",
            f"{offline_file[0] * ms:.2f} / {offline_file[1] * ms:.2f} ms",
            verdict(offline_target, offline_file[0] * ms < OFFLINE_P50_TARGET_MS),
        ),
        (
            f"offline decision p50 / p95 (ledger file already holding {LONG_RUN_ROWS:,} rows)",
            f"{offline_long_run[0] * ms:.2f} / {offline_long_run[1] * ms:.2f} ms",
            verdict(offline_target, offline_long_run[0] * ms < OFFLINE_P50_TARGET_MS),
        ),
        (
            "offline decision p50 / p95 (ledger in memory)",
            f"{offline_memory[0] * ms:.2f} / {offline_memory[1] * ms:.2f} ms",
            verdict(offline_target, offline_memory[0] * ms < OFFLINE_P50_TARGET_MS),
        ),
        (
            "offline decision p50 / p95 (graph + offline analyst, no gateway)",
            f"{graph_only[0] * ms:.2f} / {graph_only[1] * ms:.2f} ms",
            verdict(offline_target, graph_only[0] * ms < OFFLINE_P50_TARGET_MS),
        ),
        ("tokens per decision, in / out (estimated)", f"{tokens_in:.0f} / {tokens_out:.0f}", ""),
        ("dollars per decision, default stack", f"${default_usd:.6f}", ""),
        ("dollars per decision, same tokens all on Claude Opus", f"${opus_usd:.6f}", ""),
        (
            "all-Opus / default stack",
            f"{opus_usd / default_usd:.0f}x",
            verdict(f">= {CHEAPER_TARGET:g}x", opus_usd / default_usd >= CHEAPER_TARGET),
        ),
        (
            "estimate: dollars per decision / per execution check, default stack",
            f"${bar.decision_usd:.6f} / ${bar.check_usd:.4f}",
            "",
        ),
        (
            "estimate: dollars per decision / per execution check, all Opus",
            f"${bar.opus_decision_usd:.4f} / ${bar.opus_check_usd:.4f}",
            "",
        ),
        (
            f"dollars per bar at most (1 decision + {ASKING_STRATEGIES} checks), default / Opus",
            f"${bar.per_bar():.4f} / ${bar.per_bar(opus=True):.4f}",
            "",
        ),
        (
            f"dollars per four-year backtest at most ({BACKTEST_BARS:,} bars), default / Opus",
            f"${BACKTEST_BARS * bar.per_bar():,.2f}"
            f" / ${BACKTEST_BARS * bar.per_bar(opus=True):,.2f}",
            "",
        ),
        (
            f"of which execution checks, default stack ({BACKTEST_BARS * ASKING_STRATEGIES:,})",
            f"${BACKTEST_BARS * ASKING_STRATEGIES * bar.check_usd:,.2f}",
            "",
        ),
        (
            f"every model slow ({SLOW_S:g} s, timeout {DEAD_RUN_SETTINGS['LLM_TIMEOUT_S']} s):"
            " run stopped after",
            f"{slow.seconds:.1f} s, {slow.decisions} decisions, {slow.requests} requests",
            "",
        ),
        (
            "every model down (HTTP 500): run stopped after",
            f"{down.seconds:.1f} s, {down.decisions} decisions, {down.requests} requests",
            "",
        ),
        (
            "bound at the default settings, every model slow (3-model chain)",
            f"{default_stop_bound_s(defaults, 3) / 60:.0f} min",
            "",
        ),
    ]
    lines = [
        f"LLM analyst graph, {decisions} HTTP decisions at {latency_s * ms:.0f} ms per call, "
        f"{offline_decisions} offline decisions; {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs",
        "",
        "| measure | value | target |",
        "| --- | --- | --- |",
        *(f"| {name} | {value} | {target} |" for name, value, target in rows),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=10, help="HTTP decisions to time")
    parser.add_argument("--offline-decisions", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=LATENCY_S * 1000)
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args()
    table = report(args.decisions, args.offline_decisions, args.latency_ms / 1000)
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
