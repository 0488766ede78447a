"""The account as the risk manager sees it, and the ways it changes: a new day, a new bar, a fill.

Kept as a frozen value that each step replaces, so a journal can store it whole and a resumed run
continues from exactly the same state. Equity is always derived (`cash + shares * price`), never
stored, so it cannot disagree with the holdings.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, NonNegativeInt, SkipValidation, model_validator

from envs import CostModel, execute
from orchestrator.checks import Finite, Positive, Value, checked_args
from orchestrator.errors import InvalidInputError


class PortfolioState(Value):
    """Holdings plus the running figures the risk limits are measured against.

    cash, peak_equity, start_of_day_equity: currency. shares: signed (negative = short).
    entry_price: average fill price of the open position, None when flat.
    trades_today: fills on `day`, counted on the day they fill: roll the account to a bar's day
        (`on_day`) before applying the fills at its open.
    day: the trading day of the last `marked` bar (or of `on_day`); last_equity: the equity at the
        last mark, which starts the next day (so a day's loss runs close to close: overnight gaps
        and the costs of the morning's fills count against the day they land in).
    halted / daily_loss_breached: latches the risk manager sets: the first while the drawdown kill
        switch holds the account flat, the second until the day rolls.
    halt_bars: while halted, how many more checks the kill switch holds the account flat
        (`RiskLimits.kill_switch_cooldown_bars`); 0 while halted means for good, and 0 when not
        halted.
    stop_latch_side / stop_latch_bars: the stop-loss latch the risk manager sets when a stop-loss
        closes a position (`RiskLimits.stop_loss_cooldown_bars`): the side closed (+1 long, -1
        short) and for how many more bars no new position on that side is opened; 0 and 0 when
        none is set.
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
    halt_bars: NonNegativeInt = 0
    daily_loss_breached: bool = False
    stop_latch_side: Annotated[int, Field(ge=-1, le=1)] = 0
    stop_latch_bars: NonNegativeInt = 0

    @model_validator(mode="after")
    def _entry_price_iff_holding(self) -> PortfolioState:
        if (self.entry_price is None) != (self.shares == 0.0):
            raise ValueError(
                "entry_price must be given exactly when shares != 0,"
                f" got shares={self.shares!r} entry_price={self.entry_price!r}"
            )
        if self.halt_bars and not self.halted:
            raise ValueError(f"halt_bars must be 0 when not halted, got {self.halt_bars!r}")
        if (self.stop_latch_side == 0) != (self.stop_latch_bars == 0):
            raise ValueError(
                "stop_latch_side and stop_latch_bars must be both 0 or both set,"
                f" got {self.stop_latch_side!r} and {self.stop_latch_bars!r}"
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
    def on_day(self, day: dt.date) -> PortfolioState:
        """The account on `day`: rolls the day if it changed, nothing else (the engine calls it at
        a bar's open, so that the fills at that open count on the day they land in).

        A new day starts from the equity at the previous mark (yesterday's close), with no trades
        and the daily-loss latch cleared.
        """
        if self.day is not None and day < self.day:
            raise InvalidInputError(f"bars must not go back in time: {day} after {self.day}")
        if self.day is not None and day == self.day:
            return self
        # No earlier mark (a fresh account), or no equity left (halted anyway): keep the start.
        last = self.last_equity
        start = last if last is not None and last > 0.0 else self.start_of_day_equity
        return self.copy_with(
            day=day, start_of_day_equity=start, trades_today=0, daily_loss_breached=False
        )

    @checked_args()
    def marked(self, price: Positive, day: dt.date) -> PortfolioState:
        """The account seen at a new bar: rolls the day if it changed (`on_day`), and raises the
        peak."""
        state = self.on_day(day)
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
