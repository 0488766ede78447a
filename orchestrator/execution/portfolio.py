"""The account as the risk manager sees it, and the two ways it changes: a new bar and a fill.

Kept as a frozen value that each step replaces, so a journal can store it whole and a resumed run
continues from exactly the same state. Equity is always derived (`cash + shares * price`), never
stored, so it cannot disagree with the holdings.
"""

from __future__ import annotations

import datetime as dt

from pydantic import NonNegativeInt, SkipValidation, model_validator

from envs import CostModel, execute
from orchestrator.checks import Finite, Positive, Value, checked_args
from orchestrator.errors import InvalidInputError


class PortfolioState(Value):
    """Holdings plus the running figures the risk limits are measured against.

    cash, peak_equity, start_of_day_equity: currency. shares: signed (negative = short).
    entry_price: average fill price of the open position, None when flat.
    trades_today: fills since the day rolled (orders decided that day).
    day: the trading day of the last `marked` bar; last_equity: the equity at that mark, which
        starts the next day (so a day's loss runs close to close: overnight gaps and the costs of
        the morning's fills count against the day they land in).
    halted / daily_loss_breached: latches the risk manager sets; the first lasts for good (the
        drawdown kill switch), the second until the day rolls.
    """

    cash: Finite
    peak_equity: Positive
    start_of_day_equity: Positive
    shares: Finite = 0.0
    entry_price: Positive | None = None
    trades_today: NonNegativeInt = 0
    day: dt.date | None = None
    last_equity: Finite | None = None
    halted: bool = False
    daily_loss_breached: bool = False

    @model_validator(mode="after")
    def _entry_price_iff_holding(self) -> PortfolioState:
        if (self.entry_price is None) != (self.shares == 0.0):
            raise ValueError(
                "entry_price must be given exactly when shares != 0,"
                f" got shares={self.shares!r} entry_price={self.entry_price!r}"
            )
        return self

    @classmethod
    @checked_args()
    def opening(cls, cash: Positive) -> PortfolioState:
        """A fresh, flat account holding `cash`."""
        return cls(cash=cash, peak_equity=cash, start_of_day_equity=cash)

    def equity(self, price: float) -> float:
        return self.cash + self.shares * price

    def position_fraction(self, price: float) -> float:
        """Position value over equity at `price` (meaningful while equity > 0)."""
        return self.shares * price / self.equity(price)

    @checked_args()
    def marked(self, price: Positive, day: dt.date) -> PortfolioState:
        """The account seen at a new bar: rolls the day if it changed, and raises the peak.

        A new day starts from the equity at the previous mark (yesterday's close), with no trades
        and the daily-loss latch cleared.
        """
        if self.day is not None and day < self.day:
            raise InvalidInputError(f"bars must not go back in time: {day} after {self.day}")
        state = self
        if self.day is None or day > self.day:
            # No earlier mark (a fresh account), or no equity left (halted anyway): keep the start.
            last = self.last_equity
            start = last if last is not None and last > 0.0 else self.start_of_day_equity
            state = state.copy_with(
                day=day, start_of_day_equity=start, trades_today=0, daily_loss_breached=False
            )
        equity = state.equity(price)
        return state.copy_with(peak_equity=max(state.peak_equity, equity), last_equity=equity)

    @checked_args()
    def filled(
        self, delta_shares: Finite, price: Positive, cost_model: SkipValidation[CostModel]
    ) -> PortfolioState:
        """The account after trading `delta_shares` at reference `price`, costs as the env charges.

        The entry price is the fill price (slippage included): a new or flipped position starts
        there, an addition averages into it, a reduction keeps it, a close clears it.
        """
        if delta_shares == 0.0:
            raise InvalidInputError("a fill must trade a non-zero number of shares")
        fill = execute(self.cash, self.shares, delta_shares, price, cost_model)
        fill_price = float(fill.traded_notional) / abs(delta_shares)
        shares = float(fill.shares)
        entry: float | None
        if shares == 0.0:
            entry = None
        elif self.entry_price is None or shares * self.shares < 0.0:
            entry = fill_price
        elif abs(shares) > abs(self.shares):
            entry = (self.shares * self.entry_price + delta_shares * fill_price) / shares
        else:
            entry = self.entry_price
        return self.copy_with(
            cash=float(fill.cash),
            shares=shares,
            entry_price=entry,
            trades_today=self.trades_today + 1,
        )
