"""How long a source's bars are and how many make a year, read from its dates.

Annualised figures (Sharpe, Sortino, CAGR, volatility) need the number of bars in a year, which
depends on the bar (a day, an hour, a minute) and on the market's calendar: an exchange trades
about 252 days a year, a crypto market 365. Both are read from the index:
- the bar is the median step between consecutive bars (weekends and holidays are the outliers);
- daily bars: a year is 252 bars, or 365 for a market that trades at weekends;
- intraday bars at weekends too: a bar every step all year round (8,760 hourly crypto bars);
- other intraday bars: the commonest number of bars a day (7 hourly bars for a US stock, 390
  minute bars, 24 hourly forex bars) times 252 days;
- weekly or longer bars: 365.25 days over the step (52 weekly, 12 monthly bars).
A market trades at weekends when over a tenth of its bars fall on a Saturday or Sunday: crypto
has two sevenths; forex, which opens on Sunday evening, a few hundredths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

EXCHANGE_DAYS_PER_YEAR = 252
CALENDAR_DAYS_PER_YEAR = 365
_WEEKEND_SHARE = 0.1  # share of bars on Saturday or Sunday above which a market trades weekends
_SHORTEST_DAILY_STEP = pd.Timedelta(hours=20)  # daily bars stamped at 22:00 move with summer time
_LONGEST_DAILY_STEP = pd.Timedelta(days=2)


@dataclass(frozen=True)
class BarSize:
    """A source's bar and its year.

    step: the median time between consecutive bars (None with a single bar).
    trades_weekends: whether the market trades on Saturdays and Sundays (24/7 markets).
    bars_per_day: median bars on a calendar day with bars (1 for daily or longer bars).
    periods_per_year: bars in a year, the annualisation factor of every annualised figure.
    """

    step: pd.Timedelta | None
    trades_weekends: bool
    bars_per_day: int
    periods_per_year: int

    def describe(self) -> str:
        """One line for `hybrid-trader data`, e.g. "1 hour, 24/7: 8,760 bars a year"."""
        if self.step is None:
            return f"unknown (one bar): {self.periods_per_year:,} bars a year assumed"
        if self.step >= _LONGEST_DAILY_STEP:
            return f"{_duration(self.step)}: {self.periods_per_year:,} bars a year"
        calendar = "7 days a week" if self.trades_weekends else "exchange days"
        if self.bars_per_day > 1:
            calendar += f", {self.bars_per_day:,} bars a day"
        return f"{_duration(self.step)}, {calendar}: {self.periods_per_year:,} bars a year"


def infer_bar_size(index: pd.DatetimeIndex) -> BarSize:
    """The bar size of the bars dated `index` (strictly increasing; see the module docstring)."""
    if len(index) < 2:
        return BarSize(None, False, 1, EXCHANGE_DAYS_PER_YEAR)
    step = pd.Timedelta(int(np.median(np.diff(index.as_unit("ns").asi8))), unit="ns")
    trades_weekends = float(np.mean(index.day_of_week >= 5)) > _WEEKEND_SHARE
    days_per_year = CALENDAR_DAYS_PER_YEAR if trades_weekends else EXCHANGE_DAYS_PER_YEAR
    if step >= _LONGEST_DAILY_STEP:
        per_year = max(1, round(pd.Timedelta(days=365.25) / step))
        return BarSize(step, trades_weekends, 1, per_year)
    if step >= _SHORTEST_DAILY_STEP:
        return BarSize(step, trades_weekends, 1, days_per_year)
    if trades_weekends:  # every hour of the year trades
        per_day = round(pd.Timedelta(days=1) / step)
    else:  # the commonest count of a day's bars: first and last days are often cut short
        days_with = np.bincount(np.unique(index.normalize().asi8, return_counts=True)[1])
        per_day = len(days_with) - 1 - int(np.argmax(days_with[::-1]))  # ties: the larger count
    return BarSize(step, trades_weekends, per_day, per_day * days_per_year)


def _duration(step: pd.Timedelta) -> str:
    """'1 day', '1 hour', '5 minutes', '30 seconds': the largest whole unit of `step`."""
    seconds = step.total_seconds()
    for unit, length in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        count = seconds / length
        if count >= 1 and (count.is_integer() or unit == "second" or length == 86_400):
            number = f"{count:g}"
            return f"{number} {unit}" + ("" if number == "1" else "s")
    return f"{seconds:g} seconds"
