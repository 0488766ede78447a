"""Trade memory retrieval with 10,000 lessons: the journal's SQLite rows with an in-memory NumPy
index (what the package uses) against LanceDB (what the seeds use), measured in the same run.

    python -m benchmarks.bench_memory --out benchmarks/bench_memory.md [--lessons 10000]

Timed, per store, over `--queries` decisions (the median and 95th percentile):
- recall: what a decision asks of the memory, `TradeMemory.recall`: the k = 5 nearest past
  trades on the agent's features among `--lessons` closed trades, and the 3 nearest lessons to the
  situation's text among `--lessons` lessons (local hashing embedding, 256 dimensions, the query
  embedded each time). LanceDB is timed on the lesson search alone (the same query vector,
  cosine, brute force: no ANN index at this size), so the ratio flatters it;
- write: one closed trade's lesson stored as a run stores it. SQLite: one INSERT and the commit of
  the journal's bar transaction; LanceDB: one `Table.add` (its own commit, in its own directory,
  beside the journal and not in the bar's transaction);
- load: a resumed run's rebuild of the index from what is stored.
Target: recall p50 < 10 ms with 10,000 lessons.
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from envs import CostModel
from llm import HashingEmbedder, Lesson
from llm.team.analysts.offline import OfflineAnalystChatModel
from llm.testing.in_process_gateway import InProcessGateway
from orchestrator.memory import (
    MEMORY_SCHEMA,
    ClosedTrade,
    LessonRecord,
    MemoryRecords,
    TradeContext,
    TradeMemory,
    insert_records,
    read_records,
)
from tests.agents_helpers import random_market

TARGET_MS = 10.0
N_FEATURES = 12
REGIMES = ("bull", "bear", "ranging", "volatile")


def synthetic_records(n: int, seed: int = 0) -> MemoryRecords:
    """`n` closed trades with random features and outcomes, and one lesson each, embedded."""
    rng = np.random.default_rng(seed)
    embedder = HashingEmbedder()
    trades, lessons = [], []
    for i in range(n):
        regime, side = REGIMES[i % 4], ("long", "short")[i % 3 == 0]
        drl, llm = (round(float(x), 2) for x in rng.uniform(-1, 1, 2))
        net = float(rng.normal(0.0, 0.03))
        context = TradeContext(
            entry_bar=i,
            entry_day="2020-01-01T00:00:00",
            features=tuple(float(x) for x in rng.normal(size=N_FEATURES)),
            regime=regime,
            side=side,
            size=0.5,
            drl_signal=drl,
            llm_signal=llm,
            drl_weight=0.5,
        )
        trades.append(
            ClosedTrade(
                context=context,
                exit_bar=i,
                known_at_bar=i + 1,
                known_at="2020-01-02T00:00:00",
                net_return=net,
                bars_held=int(rng.integers(1, 30)),
                worst_excursion=min(0.0, net - 0.02),
                best_excursion=max(0.0, net + 0.02),
            )
        )
        lesson = Lesson(
            situation=f"{regime} regime, DRL vote {drl:+.2f}, LLM vote {llm:+.2f}.",
            decision=f"{side} at 0.50 of equity.",
            outcome=f"{net:+.2%} net over 5 bars.",
            next_time=f"go {side} {'again' if net > 0 else 'smaller'} in a {regime} regime.",
        )
        vector = embedder.embed([lesson.text()])[0]
        lessons.append(
            LessonRecord(
                entry_bar=i,
                written_at_bar=i + 1,
                written_at="2020-01-02T00:00:00",
                lesson=lesson,
                embedding_model=embedder.model,
                vector=tuple(float(x) for x in vector),
            )
        )
    return MemoryRecords(trades=tuple(trades), lessons=tuple(lessons))


def timed_ms(action: Callable[[int], object], repeats: int) -> list[float]:
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        action(i)
        times.append((time.perf_counter() - started) * 1000.0)
    return times


def percentiles(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), float(np.percentile(times, 95))


def sqlite_store(directory: Path, records: MemoryRecords, queries: int) -> dict[str, list[float]]:
    path = directory / "journal.sqlite"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    for statement in MEMORY_SCHEMA:
        connection.execute(statement)
    connection.execute("BEGIN")
    insert_records(connection, records)
    connection.execute("COMMIT")
    started = time.perf_counter()
    loaded = read_records(connection)
    market = random_market(0, len(records.trades) + 2, N_FEATURES)
    memory = TradeMemory(
        market,
        "BENCH",
        CostModel(),
        gateway=InProcessGateway(OfflineAnalystChatModel()),
        embedder=HashingEmbedder(),
    )
    memory.load(loaded)
    load_ms = (time.perf_counter() - started) * 1000.0
    bar = len(records.trades) + 1
    recall = timed_ms(lambda i: memory.recall(bar, REGIMES[i % 4], 0.5, -0.25 * (i % 3)), queries)
    extra = synthetic_records(queries, seed=1)

    def write(i: int) -> None:
        lesson = extra.lessons[i].copy_with(entry_bar=10_000_000 + i)
        connection.execute("BEGIN")
        insert_records(connection, MemoryRecords(lessons=(lesson,)))
        connection.execute("COMMIT")

    connection.execute("PRAGMA foreign_keys = OFF")
    write_ms = timed_ms(write, queries)
    connection.close()
    return {"recall": recall, "write": write_ms, "load": [load_ms]}


def lancedb_store(
    directory: Path, records: MemoryRecords, queries: int
) -> dict[str, list[float]] | None:
    try:
        import lancedb
    except ImportError:
        return None
    rows = [
        {"vector": list(r.vector), "entry_bar": r.entry_bar, "text": r.lesson.text()}
        for r in records.lessons
    ]
    database = lancedb.connect(directory / "lancedb")
    table = database.create_table("lessons", data=rows)
    embedder = HashingEmbedder()
    started = time.perf_counter()
    table = database.open_table("lessons")
    table.search(embedder.embed(["bull"])[0]).distance_type("cosine").limit(3).to_list()
    load_ms = (time.perf_counter() - started) * 1000.0

    def search(i: int) -> None:
        query = embedder.embed([f"{REGIMES[i % 4]} regime, DRL vote +0.50"])[0]
        table.search(query).distance_type("cosine").limit(3).to_list()

    extra = synthetic_records(queries, seed=1)

    def write(i: int) -> None:
        lesson = extra.lessons[i]
        table.add([{"vector": list(lesson.vector), "entry_bar": 10_000_000 + i, "text": "x"}])

    return {
        "recall": timed_ms(search, queries),
        "write": timed_ms(write, queries),
        "load": [load_ms],
    }


def report(args: argparse.Namespace) -> str:
    records = synthetic_records(args.lessons)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_times = sqlite_store(Path(tmp), records, args.queries)
        lance_times = lancedb_store(Path(tmp), records, args.queries)
    recall_p50 = statistics.median(sqlite_times["recall"])
    lines = [
        "## Trade memory retrieval (`python -m benchmarks.bench_memory`)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, numpy"
        f" {np.__version__}. {args.lessons:,} closed trades and {args.lessons:,} lessons,"
        f" {args.queries} queries and writes.",
        "",
        "| store | recall p50 | recall p95 | one lesson written p50 | index load on resume |",
        "|---|---|---|---|---|",
    ]
    stores = {"SQLite journal + NumPy (used)": sqlite_times}
    if lance_times is not None:
        stores["LanceDB 0.40 (lesson search only)"] = lance_times
    for name, times in stores.items():
        p50, p95 = percentiles(times["recall"])
        write = statistics.median(times["write"])
        lines.append(
            f"| {name} | {p50:.2f} ms | {p95:.2f} ms | {write:.2f} ms | {times['load'][0]:.0f} ms |"
        )
    met = "met" if recall_p50 < TARGET_MS else "NOT met"
    lines += ["", f"Target: recall p50 < {TARGET_MS:.0f} ms: {recall_p50:.2f} ms ({met})."]
    if lance_times is not None:
        ratio = statistics.median(lance_times["recall"]) / recall_p50
        lines.append(
            f"LanceDB's lesson search alone / the whole SQLite+NumPy recall: {ratio:.1f}x."
        )
    else:
        lines.append("LanceDB not installed (`pip install lancedb`): no comparison this run.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = report(args)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
