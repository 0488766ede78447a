"""Point-in-time snapshots of the traded market for the LLM side: analysts and the execution check.

`llm.team.snapshot.snapshot_from_frame` cuts the bar history at the bar's timestamp before computing
anything, so a snapshot of bar t holds bars <= t only. Building one costs about 2 ms (60 bars,
TA-Lib indicators), and at one bar several callers ask for one (the analyst team, the execution
confirmation, and in a backtest every strategy stepping through the same bar), so the market part
of the latest bar is kept and only the account is swapped in.
"""

from __future__ import annotations

from dataclasses import replace

from llm import AccountView, MarketSnapshot, snapshot_from_frame
from orchestrator.execution import PortfolioState
from orchestrator.trader.market import TradingMarket

DEFAULT_WINDOW = 60  # bars in a snapshot: about three months of daily bars


def book_view(portfolio: PortfolioState, price: float) -> AccountView:
    """The account as the analysts see it: position fraction in [-1, 1], cash, equity, open PnL."""
    equity = portfolio.equity(price)
    position = portfolio.position_fraction(price) if equity > 0.0 else 0.0
    unrealized = 0.0
    if portfolio.entry_price is not None:
        unrealized = portfolio.shares * (price - portfolio.entry_price)
    return AccountView(
        position=min(1.0, max(-1.0, position)),
        cash=portfolio.cash,
        equity=equity,
        unrealized_pnl=unrealized,
    )


class MarketSnapshots:
    """Snapshots of `market` at its bars for any account; the latest bar's market part is reused."""

    def __init__(self, market: TradingMarket, window: int = DEFAULT_WINDOW) -> None:
        self.market = market
        self.window = window
        self._latest: tuple[int, MarketSnapshot] | None = None

    def at(self, bar: int, portfolio: PortfolioState, price: float) -> MarketSnapshot:
        """The snapshot at the close of `bar`, showing `portfolio` marked at `price`."""
        book = book_view(portfolio, price)
        if self._latest is not None and self._latest[0] == bar:
            return replace(self._latest[1], portfolio=book)
        timestamp = self.market.timestamp(bar)
        history = self.market.history
        end = int(history.index.searchsorted(timestamp, side="right"))
        snapshot = snapshot_from_frame(  # on the bars it needs: cutting 60 rows, not thousands
            history.iloc[max(0, end - self.window) : end],
            timestamp,
            symbol=self.market.symbol,
            window=self.window,
            portfolio=book,
        )
        self._latest = (bar, snapshot)
        return snapshot
