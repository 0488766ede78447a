"""`hybrid-trader data`: validate a market-data source and describe it (bars, dates, splits)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from orchestrator.cli.options import DateFormatOption, PeriodsPerYearOption, SourceOption

if TYPE_CHECKING:
    import pandas as pd

    from envs import MarketDescription


def data(
    source: SourceOption,
    start: Annotated[
        str | None, typer.Option(help="First date kept, YYYY[-MM[-DD]] (default: all)")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last date kept, inclusive, YYYY[-MM[-DD]] (default: all)")
    ] = None,
    date_format: DateFormatOption = None,
    periods_per_year: PeriodsPerYearOption = None,
) -> None:
    """Validate a market-data source and describe it: bars, dates, bar size, price range, gaps,
    splits."""
    from envs import describe_market  # heavy: keeps `--help` fast

    description = describe_market(
        source, start, end, date_format=date_format, periods_per_year=periods_per_year
    )
    render(description, Console())
    typer.echo(_trainable(source, start, end, date_format, periods_per_year))


def _trainable(
    source: str,
    start: str | None,
    end: str | None,
    date_format: str | None,
    periods_per_year: int | None,
) -> str:
    """Whether `train` would accept these bars with its defaults, and if not, why: a file
    `data` describes may still be too short to train an agent on."""
    from agents import AgentError, TrainConfig, training_setup
    from envs import MarketDataError

    config = TrainConfig(
        data=source,
        start=start,
        end=end,
        date_format=date_format,
        periods_per_year=periods_per_year,
    )
    try:
        training_setup(config)
    except (AgentError, MarketDataError) as exc:
        return f"train with the defaults: no ({exc})"
    return "train with the defaults: yes"


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
        "bar size": description.bar_size.describe(),
        "missing weekdays": f"{description.missing_business_days} (holidays and gaps), longest"
        f" gap {description.longest_gap_days} days",
        "zero-volume bars": str(description.zero_volume_bars),
        "split scheme": description.split_scheme,
        "feature warm-up": f"first {description.warmup_bars} bars of the source",
        "data hash": description.data_hash,
    }
    if description.periods_per_year != description.bar_size.periods_per_year:
        rows["bar size"] += f"; annualised with {description.periods_per_year:,} (given)"
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
    from envs import format_date

    return "-" if stamp is None else format_date(stamp)
