"""`hybrid-trader feed`: Alpaca's bars of a symbol appended to a CSV for `paper --follow`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.options import follow_poller

TIMEFRAME_NAMES = ("1Min", "5Min", "15Min", "1Hour", "1Day")  # alpaca_bars.TIMEFRAMES' names


def feed(
    *,
    symbol: Annotated[str, typer.Option(help="The stock or ETF, e.g. SPY.")],
    out: Annotated[
        Path, typer.Option("--out", help="CSV to append to: created if missing, else extended.")
    ],
    bar: Annotated[str, typer.Option(help=f"Bar size: {', '.join(TIMEFRAME_NAMES)}.")] = "1Day",
    start: Annotated[
        str | None,
        typer.Option(help="First date to fetch for a new file, YYYY[-MM[-DD]], UTC."),
    ] = None,
    follow: Annotated[
        bool, typer.Option(help="Keep asking for new bars (stop with Ctrl-C or --max-idle).")
    ] = False,
    poll: Annotated[
        float | None, typer.Option(min=0.001, help="With --follow: seconds between asks (60).")
    ] = None,
    max_idle: Annotated[
        float | None,
        typer.Option(
            min=0.0, help="With --follow: stop after this many seconds without a new bar."
        ),
    ] = None,
) -> None:
    """Fetch closed bars from Alpaca's market data (keys in ALPACA_API_KEY, ALPACA_SECRET_KEY)."""
    from orchestrator.jobs import feed_alpaca  # heavy: keeps `--help` fast

    added = feed_alpaca(
        symbol,
        bar,
        out,
        start,
        follow=follow_poller(follow, poll, max_idle, default_poll=60.0),
        say=typer.echo,
    )
    typer.echo(f"{out}: {added} bars appended")
