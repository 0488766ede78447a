"""The account as the risk manager sees it, and the two ways it changes: a new bar and a fill.

Kept as a frozen value that each step replaces, so a journal can store it whole and a resumed run
continues from exactly the same state. Equity is always derived (`cash + shares * price`), never
stored, so it cannot disagree with the holdings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace

from envs import CostModel, execute
from orchestrator.errors import InvalidInputError
from orchestrator.validation import checked_number


@dataclass(frozen=True)
class PortfolioState:
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

    cash: float
    peak_equity: float
    start_of_day_equity: float
    shares: float = 0.0
    entry_price: float | None = None
    trades_today: int = 0
    day: dt.date | None = None
    last_equity: float | None = None
    halted: bool = False
    daily_loss_breached: bool = False

    def __post_init__(self) -> None:
        checked_number("PortfolioState.cash", self.cash)
        checked_number("PortfolioState.shares", self.shares)
        checked_number("PortfolioState.peak_equity", self.peak_equity, low=0.0, low_open=True)
        checked_number(
            "PortfolioState.start_of_day_equity", self.start_of_day_equity, low=0.0, low_open=True
        )
        if (self.entry_price is None) != (self.shares == 0.0):
            raise InvalidInputError(
                "PortfolioState.entry_price must be given exactly when shares != 0,"
                f" got shares={self.shares!r} entry_price={self.entry_price!r}"
            )
        if self.entry_price is not None:
            checked_number("PortfolioState.entry_price", self.entry_price, low=0.0, low_open=True)
        if self.last_equity is not None:
            checked_number("PortfolioState.last_equity", self.last_equity)
        if isinstance(self.trades_today, bool) or not isinstance(self.trades_today, int):
            raise InvalidInputError(
                f"PortfolioState.trades_today must be an int, got {self.trades_today!r}"
            )
        if self.trades_today < 0:
            raise InvalidInputError(
                f"PortfolioState.trades_today must be >= 0, got {self.trades_today}"
            )

    @classmethod
    def opening(cls, cash: float) -> PortfolioState:
        """A fresh, flat account holding `cash`."""
        cash = checked_number("opening cash", cash, low=0.0, low_open=True)
        return cls(cash=cash, peak_equity=cash, start_of_day_equity=cash)

    def equity(self, price: float) -> float:
        return self.cash + self.shares * price

    def position_fraction(self, price: float) -> float:
        """Position value over equity at `price` (meaningful while equity > 0)."""
        return self.shares * price / self.equity(price)

    def marked(self, price: float, day: dt.date) -> PortfolioState:
        """The account seen at a new bar: rolls the day if it changed, and raises the peak.

        A new day starts from the equity at the previous mark (yesterday's close), with no trades
        and the daily-loss latch cleared.
        """
        price = checked_number("price", price, low=0.0, low_open=True)
        if not isinstance(day, dt.date):
            raise InvalidInputError(f"day must be a datetime.date, got {day!r}")
        if self.day is not None and day < self.day:
            raise InvalidInputError(f"bars must not go back in time: {day} after {self.day}")
        state = self
        if self.day is None or day > self.day:
            # No earlier mark (a fresh account), or no equity left (halted anyway): keep the start.
            last = self.last_equity
            start = last if last is not None and last > 0.0 else self.start_of_day_equity
            state = replace(
                state,
                day=day,
                start_of_day_equity=start,
                trades_today=0,
                daily_loss_breached=False,
            )
        equity = state.equity(price)
        return replace(state, peak_equity=max(state.peak_equity, equity), last_equity=equity)

    def filled(self, delta_shares: float, price: float, cost_model: CostModel) -> PortfolioState:
        """The account after trading `delta_shares` at reference `price`, costs as the env charges.

        The entry price is the fill price (slippage included): a new or flipped position starts
        there, an addition averages into it, a reduction keeps it, a close clears it.
        """
        delta_shares = checked_number("delta_shares", delta_shares)
        if delta_shares == 0.0:
            raise InvalidInputError("a fill must trade a non-zero number of shares")
        price = checked_number("fill price", price, low=0.0, low_open=True)
        fill = execute(self.cash, self.shares, delta_shares, price, cost_model)
        fill_price = fill.traded_notional / abs(delta_shares)
        shares = float(fill.shares)
        if shares == 0.0:
            entry = None
        elif self.entry_price is None or shares * self.shares < 0.0:
            entry = fill_price
        elif abs(shares) > abs(self.shares):
            entry = (self.shares * self.entry_price + delta_shares * fill_price) / shares
        else:
            entry = self.entry_price
        return replace(
            self,
            cash=float(fill.cash),
            shares=shares,
            entry_price=entry,
            trades_today=self.trades_today + 1,
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready values (the day as an ISO date)."""
        record = asdict(self)
        record["day"] = None if self.day is None else self.day.isoformat()
        return record

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PortfolioState:
        """The inverse of `to_dict`; a missing or malformed field is an `InvalidInputError`."""
        try:
            day = data["day"]
            fields = {**data, "day": None if day is None else dt.date.fromisoformat(str(day))}
            return cls(**fields)  # type: ignore[arg-type]
        except InvalidInputError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"saved portfolio is malformed: {exc!r}") from None
