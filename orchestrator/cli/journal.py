"""`hybrid-trader journal show|export`: a paper run's decisions read without SQL: both sources'
votes and weights, the hybrid's target, the analysts' reasoning, the orders and the fills."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli.options import ForceOption

if TYPE_CHECKING:
    import pandas as pd

JournalFileOption = Annotated[
    Path, typer.Option("--journal", help="Journal file of a paper-trade run (read only).")
]


def show(
    journal: JournalFileOption,
    last: Annotated[
        int | None, typer.Option("--last", min=1, help="Only the last N bars (default: all).")
    ] = None,
) -> None:
    """Print each bar's decision: votes, weights, target, the LLM's reasoning, orders, fills."""
    log = _decision_log(journal)
    for row in (log if last is None else log.tail(last)).itertuples():
        for line in _lines(row):
            typer.echo(line)


def export(
    journal: JournalFileOption,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="File to write, one row per bar: Parquet if it ends in .parquet, else CSV.",
        ),
    ],
    force: ForceOption = False,
) -> None:
    """Write every bar's decision to a CSV or Parquet file (the columns `show` prints, in full)."""
    from envs.data.files import PARQUET_SUFFIXES  # the suffixes a Parquet source is read by
    from orchestrator.errors import ConfigError

    if out.resolve() == journal.resolve():
        raise ConfigError(f"--out {out}: that is the journal being read; name another file")
    if out.exists() and (out.is_dir() or not force):
        what = "a folder" if out.is_dir() else "a file that exists; pass --force to overwrite it"
        raise ConfigError(f"--out {out}: {what}")
    log = _decision_log(journal)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() in PARQUET_SUFFIXES:
            log.to_parquet(out, index=False)
        else:
            log.to_csv(out, index=False)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write: {exc.strerror or exc}") from None
    typer.echo(f"wrote {len(log)} bars to {out}")


def _decision_log(journal: Path) -> pd.DataFrame:
    from orchestrator.journal import JournalReader  # heavy: keeps `--help` fast

    with JournalReader.open(journal) as reader:
        return reader.decision_log()


def _lines(row: object) -> list[str]:
    """One bar: a line of votes and target, then (indented) the LLM's reasoning where it was
    asked at this bar, the orders placed and the fills."""
    import pandas as pd

    values = row._asdict()  # type: ignore[attr-defined]
    head = f"{values['date'][:19].replace('T00:00:00', '')} close {values['close']:,.2f}"
    if pd.isna(values["action"]):
        return [f"{head}  (no decision)"]
    lines = [
        f"{head}  DRL {values['drl_signal']:+.2f} ({values['drl_confidence']:.2f}) x"
        f" {values['drl_weight']:.2f}  LLM {values['llm_signal']:+.2f}"
        f" ({values['llm_confidence']:.2f}) x {values['llm_weight']:.2f}  -> {values['action']}"
        f" target {values['target_position']:+.2f}  equity {values['equity']:,.2f}"
    ]
    if values["llm_asked_at_bar"] == values["bar"]:
        lines.append(
            f"    LLM {values['llm_action']} {values['llm_size']:.2f}: {values['llm_reasoning']}"
        )
        signals = values["analyst_signals"]
        for signal in [] if pd.isna(signals) else json.loads(signals):
            lines.append(
                f"      {signal['analyst']} {signal['signal']:+.2f}"
                f" ({signal['confidence']:.2f}): {signal['reasoning']}"
            )
        lines += _memory_lines(values)
    for name in ("orders", "fills"):
        if not pd.isna(values[name]):
            lines.append(f"    {name}: {values[name]}")
    return lines


def _memory_lines(values: dict[str, Any]) -> list[str]:
    """What the trade memory showed the analysts at this ask: nothing without a memory or before
    its first closed trade."""
    import pandas as pd

    similar, lessons = values["memory_similar"], values["memory_lessons"]
    if pd.isna(similar) or not similar:
        return []
    lines = [
        f"    memory: {int(similar)} similar past trade(s), won {values['memory_win_rate']:.0%},"
        f" mean net {values['memory_mean_net_return']:+.2%}"
    ]
    if not pd.isna(lessons):
        lines.append(f"    lessons: {lessons}")
    return lines
