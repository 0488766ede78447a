"""Load market data by source name or file path into the validated frame of DESIGN.md's contract.

Nothing here downloads: `sp500` and `nasdaq` are the files the `arch` package ships, `aapl`, `amzn`,
`nvda` and `msft` are real daily samples packaged with envs (`envs/data/samples/`, where they come
from is in docs/DESIGN_NOTES.md), `synthetic` is generated, and anything else must be a local CSV
or Parquet file.

Every source goes through the same table clean-up and validation (envs.data.files), so `sp500` obeys
exactly the rules a user's file does.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from importlib import resources
from pathlib import Path
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from envs.data.contract import format_date
from envs.data.files import CSV_SUFFIXES, PARQUET_SUFFIXES, frame_from_table, load_file
from envs.data.synthetic import SOURCE_NAME as SYNTHETIC_SOURCE
from envs.data.synthetic import generate_synthetic_market
from envs.errors import MarketDataError

ARCH_SOURCES: tuple[str, ...] = ("sp500", "nasdaq")
SAMPLE_SOURCES: tuple[str, ...] = ("aapl", "amzn", "nvda", "msft")
SOURCE_NAMES: tuple[str, ...] = (*ARCH_SOURCES, *SAMPLE_SOURCES, SYNTHETIC_SOURCE)
# Year-first dates only: "03/04/2015" would silently mean March or April depending on a guess.
_ISO_DATE = re.compile(
    r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])([ T]\d{2}:\d{2}(:\d{2})?)?)?)?"
)

DateLike: TypeAlias = str | pd.Timestamp | None
"""A --start/--end option: a year-first date string, a timestamp, or None for no limit."""


def canonical_source(source: str) -> str:
    """A named source as is, a file as its absolute path: the same file however it was typed,
    and from whichever folder or machine of a cluster (what an agent's manifest records, what is
    compared with it, and what an evaluation hands its workers). Text that names neither stays
    as typed, so that the error loading it names what the user typed (and suggests a name)."""
    path = Path(source).expanduser()
    if source in SOURCE_NAMES or not path.exists():
        return source
    return str(path.resolve())


def load_market_data(
    source: str,
    start: DateLike = None,
    end: DateLike = None,
    *,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Validated bars of `source` between `start` and `end` (both inclusive, either optional).

    The whole source is validated before it is cut, so a reported row is the row in the file.
    date_format: the strftime format of a file's dates (None: recognised; named sources ignore it).
    """
    bars = _load_source(source, date_format)
    return select_dates(bars, source, start, end)


def select_dates(
    bars: pd.DataFrame, source: str, start: DateLike = None, end: DateLike = None
) -> pd.DataFrame:
    """Rows dated in [start, end]. A string covers the whole period it names, so `end="2014"`
    keeps all of 2014 and `start="2013-06"` begins on 1 June 2013."""
    first = parse_date_option(start, "--start", source, "start")
    last = parse_date_option(end, "--end", source, "end")
    mask = np.ones(len(bars), dtype=bool)
    if first is not None:
        mask &= bars.index >= first
    if last is not None:
        mask &= bars.index <= last
    if not mask.any():
        raise MarketDataError(
            f"no bars between {start or 'the start'} and {end or 'the end'}; the data covers"
            f" {format_date(bars.index[0])} to {format_date(bars.index[-1])}",
            source=source,
            rule="empty date range",
        )
    return bars if mask.all() else bars.loc[mask]


def parse_date_option(
    value: DateLike, option: str, source: str, edge: Literal["start", "end"]
) -> pd.Timestamp | None:
    """A year-first date option as the first (`start`) or last (`end`) instant of its period."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_localize(None) if value.tzinfo is not None else value
    try:
        period = pd.Period(value.strip()) if _ISO_DATE.fullmatch(value.strip()) else pd.NaT
    except ValueError:  # well formed but not a day, e.g. 2015-02-30
        period = pd.NaT
    if period is pd.NaT:
        raise MarketDataError(
            f"{option} {value!r} is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)",
            source=source,
            rule="bad date",
        )
    return period.start_time if edge == "start" else period.end_time


def _load_source(source: str, date_format: str | None) -> pd.DataFrame:
    if source in ARCH_SOURCES:
        return _load_arch(source)
    if source in SAMPLE_SOURCES:
        sample = resources.files("envs.data").joinpath("samples", f"{source}.csv.gz")
        with resources.as_file(sample) as path:
            return frame_from_table(pd.read_csv(path), source)
    if source == SYNTHETIC_SOURCE:
        return generate_synthetic_market().bars
    path = Path(source)
    if path.suffix.lower() in (*CSV_SUFFIXES, *PARQUET_SUFFIXES):
        return load_file(path, date_format)
    raise MarketDataError(
        f"{_did_you_mean(source)}expected one of {', '.join(SOURCE_NAMES)} or a path to a"
        f" {'/'.join(CSV_SUFFIXES + PARQUET_SUFFIXES)} file",
        source=source,
        rule="unknown source",
    )


def _did_you_mean(source: str) -> str:
    """A hint for a name close to a source's (`SP500`, `sp5000`: "did you mean `sp500`? ")."""
    close = difflib.get_close_matches(source.lower(), SOURCE_NAMES, n=1, cutoff=0.75)
    return f"did you mean `{close[0]}`? " if close else ""


def _load_arch(name: str) -> pd.DataFrame:
    """The daily bars the `arch` package ships in its wheel, read from disk, never fetched.

    The file is read directly because `import arch` costs over a second (scipy, statsmodels).
    """
    spec = importlib.util.find_spec("arch")
    if spec is None or not spec.submodule_search_locations:
        raise MarketDataError("the arch package is not installed", source=name, rule="missing data")
    path = Path(spec.submodule_search_locations[0]) / "data" / name / f"{name}.csv.gz"
    if not path.is_file():
        raise MarketDataError(f"{path} is missing", source=name, rule="missing data")
    return frame_from_table(pd.read_csv(path), name)
