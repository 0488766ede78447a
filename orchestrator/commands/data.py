"""`hybrid-trader data`: validate a market-data source and describe it (bars, dates, splits)."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from envs.describe import MarketDescription, describe_market
from envs.validation import format_date
from orchestrator.commands.options import SourceOption


def register(app: typer.Typer) -> None:
    app.command("data")(data)


def data(
    source: SourceOption,
    start: Annotated[
        str | None, typer.Option(help="First date kept, YYYY[-MM[-DD]] (default: all)")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last date kept, inclusive, YYYY[-MM[-DD]] (default: all)")
    ] = None,
) -> None:
    """Validate a market-data source and describe it: bars, dates, price range, gaps, splits."""
    render(describe_market(source, start, end), Console())


def render(description: MarketDescription, console: Console) -> None:
    """Print a description as two rich tables: the source, then its splits."""
    overview = Table(title=f"market data: {description.source}", show_header=False)
    overview.add_column(style="bold")
    overview.add_column(overflow="fold")
    rows = {
        "bars": f"{description.n_bars:,}",
        "dates": f"{_day(description.first)} to {_day(description.last)}",
        "price range": f"{description.lowest_low:,.2f} to {description.highest_high:,.2f}"
        f" (last close {description.last_close:,.2f})",
        "missing weekdays": f"{description.missing_business_days} (holidays and gaps), longest"
        f" gap {description.longest_gap_days} days",
        "zero-volume bars": str(description.zero_volume_bars),
        "split scheme": description.split_scheme,
        "feature warm-up": f"first {description.warmup_bars} bars of the source",
        "data hash": description.data_hash,
    }
    for name, value in rows.items():
        overview.add_row(name, value)
    console.print(overview)

    splits = Table(title="splits")
    for column in ("split", "bars", "first", "last"):
        splits.add_column(column, justify="right" if column == "bars" else "left")
    for split in description.splits:
        splits.add_row(split.name, f"{split.n_bars:,}", _day(split.first), _day(split.last))
    console.print(splits)


def _day(stamp: pd.Timestamp | None) -> str:
    return "-" if stamp is None else format_date(stamp)
