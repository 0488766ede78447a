"""Alpaca's market data as a live feed: one symbol's closed bars appended to a CSV, which
`hybrid-trader paper --follow` trades as they arrive (`hybrid-trader feed`, `jobs.feed_alpaca`).

A file between the two keeps each side simple and restartable: the feed can stop and start again
(it asks only for bars after the file's last one), the paper run survives a kill on its own, and
the file is the record of exactly which bars were traded. Only closed bars are written, those
whose period has ended by the time they are asked for: Alpaca also returns the bar still
forming, whose numbers would change, and a changed past is what a paper run refuses.

Uses alpaca-py's `StockHistoricalDataClient` (the IEX feed, which free accounts may read), with the
keys of the broker (`ALPACA_API_KEY`, `ALPACA_SECRET_KEY`); `ALPACA_DATA_URL` points it at another
server. No message of this module contains a key.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
from requests import RequestException

with warnings.catch_warnings():  # see alpaca_broker: the data client imports websockets too
    warnings.filterwarnings("ignore", "websockets.legacy is deprecated", DeprecationWarning)
    from alpaca.common.exceptions import APIError
    from alpaca.data.enums import DataFeed
    from alpaca.data.historical import StockHistoricalDataClient
    from alpaca.data.models import BarSet
    from alpaca.data.requests import StockBarsRequest
    from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from orchestrator.execution.alpaca_broker import alpaca_keys
from orchestrator.execution.broker import BrokerError

DATA_URL_VARIABLE = "ALPACA_DATA_URL"
# The bar sizes a user names, and Alpaca's for each: a paper run reads its bar size from the dates.
TIMEFRAMES: dict[str, tuple[int, TimeFrameUnit]] = {
    "1Min": (1, TimeFrameUnit.Minute),
    "5Min": (5, TimeFrameUnit.Minute),
    "15Min": (15, TimeFrameUnit.Minute),
    "1Hour": (1, TimeFrameUnit.Hour),
    "1Day": (1, TimeFrameUnit.Day),
}
_UNIT_LENGTH = {
    TimeFrameUnit.Minute: pd.Timedelta(minutes=1),
    TimeFrameUnit.Hour: pd.Timedelta(hours=1),
    TimeFrameUnit.Day: pd.Timedelta(days=1),
}
_COLUMNS = ("open", "high", "low", "close", "volume")


def utc_now() -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.now(dt.UTC)).tz_localize(None)


class AlpacaBars:
    """One symbol's bars of one size from Alpaca's market data; `from_environment` builds it
    from keys, tests pass a client. clock: the current UTC time, tz-naive (replaced in tests)."""

    def __init__(
        self,
        client: StockHistoricalDataClient,
        *,
        symbol: str,
        timeframe: str,
        clock: Callable[[], pd.Timestamp] = utc_now,
    ) -> None:
        if timeframe not in TIMEFRAMES:
            raise BrokerError(f"bar size {timeframe!r} is not one of {', '.join(TIMEFRAMES)}")
        amount, unit = TIMEFRAMES[timeframe]
        self.symbol = symbol
        self._client = client
        self._timeframe = TimeFrame(amount, unit)
        self._length = amount * _UNIT_LENGTH[unit]
        self._clock = clock

    @classmethod
    def from_environment(
        cls, symbol: str, timeframe: str, environ: Mapping[str, str] | None = None
    ) -> AlpacaBars:
        """The feed with the keys in `environ` (default: the process environment)."""
        environ = os.environ if environ is None else environ
        api_key, secret_key = alpaca_keys(environ)
        client = StockHistoricalDataClient(
            api_key,
            secret_key,
            url_override=environ.get(DATA_URL_VARIABLE) or None,
        )
        return cls(client, symbol=symbol, timeframe=timeframe)

    def closed_after(self, after: pd.Timestamp) -> pd.DataFrame:
        """The closed bars that start after `after` (tz-naive UTC), as the data contract's
        columns on a tz-naive UTC index named `date`."""
        request = StockBarsRequest(
            symbol_or_symbols=self.symbol,
            timeframe=self._timeframe,
            start=(after + pd.Timedelta(seconds=1)).to_pydatetime(),
            feed=DataFeed.IEX,
        )
        try:
            answer = self._client.get_stock_bars(request)
        except APIError as exc:
            raise BrokerError(
                f"Alpaca could not send {self.symbol} bars: HTTP {exc.status_code}"
            ) from None
        except RequestException as exc:
            raise BrokerError(
                f"could not reach Alpaca's market data for {self.symbol} ({type(exc).__name__})"
            ) from None
        if not isinstance(answer, BarSet):
            raise BrokerError(f"Alpaca answered {type(answer).__name__}, not BarSet")
        bars = answer.data.get(self.symbol, [])
        index = pd.DatetimeIndex(
            [pd.Timestamp(bar.timestamp).tz_convert(None) for bar in bars], name="date"
        )
        frame = pd.DataFrame(
            {name: [float(getattr(bar, name)) for bar in bars] for name in _COLUMNS},
            index=index,
        )
        closed = (frame.index + self._length <= self._clock()) & (frame.index > after)
        return frame.loc[closed]


def append_bars(path: Path, bars: pd.DataFrame) -> int:
    """Append the rows of `bars` dated after the last row of the CSV at `path` (created with a
    header if missing), in one write of whole lines; returns how many were appended."""
    if path.is_file() and path.stat().st_size > 0:
        bars = bars.loc[bars.index > last_date(path)]
        text = bars.to_csv(header=False, date_format="%Y-%m-%d %H:%M:%S")
    else:
        text = bars.to_csv(index_label="date", date_format="%Y-%m-%d %H:%M:%S")
    if len(bars):
        with path.open("a") as handle:
            handle.write(text)
    return len(bars)


def last_date(path: Path) -> pd.Timestamp:
    """The date of the last row of a CSV this module wrote."""
    dates = pd.read_csv(path, usecols=[0]).iloc[:, 0]
    return pd.Timestamp(dates.iloc[-1]) if len(dates) else pd.Timestamp.min
