"""How an order fills: the one place that knows, shared by the env, the backtests and the broker.

The one order semantics (`market_order`), the same in the training env, the batched env, the
backtest's paper broker and a live broker: at the decision close a target position becomes a share
count, sized at that close (`order_shares`: were it filled there, the position would be exactly the
target after its own costs), and that share count fills at the next bar's open. It is the only
order a live trader can send: the open is not known when the order goes out. An overnight gap
therefore lands the position a little off its target (1 + gap for a full long from cash, with
cash slightly negative after a gap up); the agent trains on exactly that.

An order is a change of `delta_shares` (positive buys, negative sells) filled at a reference
price, the open of the bar after the decision. Slippage moves the fill price against the trader: a
buy fills at `price * (1 + s)`, a sell at `price * (1 - s)`. Commission is `k` times the traded
notional at the fill price. With `value = delta_shares * price` and `gross = |value|`:

    slippage_cost   = gross * s
    traded_notional = gross + value * s            (|delta_shares| * fill price)
    commission      = traded_notional * k
    new_cash        = cash - value - slippage_cost - commission

so a buy pays `value * (1 + s) * (1 + k)` and a sell receives `|value| * (1 - s) * (1 - k)`.

Buy and hold, the benchmark every report shows beside a strategy (the env's evaluation, the
backtest's `buy_and_hold` row, the paper run's summary), is computed here once (`buy_and_hold`):
one `market_order` at the first decision, then nothing.

Whether to send an order at all is `order_needed` (the rebalance band): the env, the batched env
and a broker ask the same question. It and the formulas, `envs.trading.kernels.order_shares` and
`envs.trading.kernels.fill_order`, are written in `envs.trading.kernels`: plain Python that runs
unchanged on floats (one portfolio) and on NumPy arrays (many), and that the batched env's
compiled step calls too (numba's cache sees changes only in the compiled function's own file), so
every decision to trade and every fill in the package comes from that one source.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Annotated, Generic, NamedTuple

import numpy as np
from pydantic import Field

from envs.errors import EnvSetupError
from envs.trading.kernels import (
    Amount,
    fill_order,
    order_needed,  # noqa: F401 - exported from here (docstring)
    order_shares,
)
from envs.validated import validated_dataclass

if TYPE_CHECKING:
    from envs.data import MarketArrays

BasisPoints = Annotated[float, Field(ge=0.0, lt=1000.0, description="in [0, 1000) basis points")]


@validated_dataclass(EnvSetupError)
class CostModel:
    """Trading costs in basis points (1 bp = 0.01%) of traded notional, charged on every fill.

    Defaults are for a liquid index ETF (SPY-like) traded on daily bars at the open: SPY's quoted
    spread is about 0.3 bp and broker commissions 0 to 0.5 bp, so 1 bp commission plus 2 bp
    slippage (3 bp a side, 6 bp a round trip) is deliberately conservative. It also covers opening
    auction impact and the fact that an index series is not itself the traded instrument.
    """

    commission_bps: BasisPoints = 1.0
    slippage_bps: BasisPoints = 2.0
    commission_rate: float = dataclasses.field(init=False, repr=False, compare=False)
    """Commission as a fraction of traded notional (commission_bps / 10_000)."""
    slippage_rate: float = dataclasses.field(init=False, repr=False, compare=False)
    """Fractional move of the fill price against the trader (slippage_bps / 10_000)."""
    buy_cost_rate: float = dataclasses.field(init=False, repr=False, compare=False)
    """Cost of buying, per unit of value at the reference price: (1 + s)(1 + k) - 1."""
    sell_cost_rate: float = dataclasses.field(init=False, repr=False, compare=False)
    """Cost of selling, per unit of value at the reference price: 1 - (1 - s)(1 - k)."""

    def __post_init__(self) -> None:
        # Derived once and stored as fields, so that an agent's manifest records them too.
        k, s = self.commission_bps / 10_000.0, self.slippage_bps / 10_000.0
        object.__setattr__(self, "commission_rate", k)
        object.__setattr__(self, "slippage_rate", s)
        object.__setattr__(self, "buy_cost_rate", s + k + s * k)
        object.__setattr__(self, "sell_cost_rate", s + k - s * k)


class Fill(NamedTuple, Generic[Amount]):
    """The result of one order: each field a float, or an array with one entry per portfolio.

    A plain tuple, unchecked: the backtests build one per bar, and its values come from the
    formulas, not from a user.
    """

    cash: Amount
    shares: Amount
    commission: Amount
    slippage_cost: Amount
    traded_notional: Amount


def execute(
    cash: Amount,
    shares: Amount,
    delta_shares: Amount,
    price: Amount | float,
    cost_model: CostModel,
) -> Fill[Amount]:
    """Fill `delta_shares` at reference `price` with slippage and commission (module docstring)."""
    return Fill(
        *fill_order(
            cash, shares, delta_shares, price, cost_model.slippage_rate, cost_model.commission_rate
        )
    )


def rebalance(
    cash: Amount,
    shares: Amount,
    target_fraction: Amount,
    open_price: Amount | float,
    cost_model: CostModel,
) -> Fill[Amount]:
    """Trade at `open_price` so that, after the fill, position value / equity == target_fraction.

    Both are marked at `open_price` and equity is counted after paying this trade's own costs, so
    a full-long target from cash spends the cash exactly and never borrows. With equity
    `E = cash + shares * open_price`, the cost-free trade `u = f * E - shares * open_price` and
    `c = s + k`, the order is

        delta_shares = (u / open_price) / (1 + f*s*k + f*c*sign(u))

    which solves `(shares + delta) * open_price == f * (E - slippage - commission)` exactly
    (`f*s*k + f*c*sign(u)` is `f` times `buy_cost_rate` for a buy, `-sell_cost_rate` for a sell):
    the trade keeps the sign of `u` because the denominator is positive for |f| <= 1 (`f` must
    lie in [-1, 1]; EnvConfig guarantees it).
    """
    delta_shares = order_shares(
        cash,
        shares,
        target_fraction,
        open_price,
        cost_model.buy_cost_rate,
        cost_model.sell_cost_rate,
    )
    return execute(cash, shares, delta_shares, open_price, cost_model)


def market_order(  # noqa: PLR0917 - the argument order reads as the order's life
    cash: Amount,
    shares: Amount,
    target_fraction: Amount,
    decision_price: Amount | float,
    fill_price: Amount | float,
    cost_model: CostModel,
) -> Fill[Amount]:
    """The order semantics of the package (module docstring): the shares that `rebalance` would
    trade at `decision_price` (the decision close), filled at `fill_price` (the next open)."""
    delta_shares = order_shares(
        cash,
        shares,
        target_fraction,
        decision_price,
        cost_model.buy_cost_rate,
        cost_model.sell_cost_rate,
    )
    return execute(cash, shares, delta_shares, fill_price, cost_model)


@dataclasses.dataclass(frozen=True, eq=False)
class BuyAndHoldRun:
    """Buy and hold over one market (see `buy_and_hold`), one value per close from the decision on.

    decision_bar: the bar at whose close the one decision is made (the first decision of the run).
    target: the position bought, as a fraction of equity at the decision close.
    fill: the one order (`market_order`: sized at close[decision_bar], filled at
        open[decision_bar + 1]).
    equity: at close[decision_bar], close[decision_bar + 1], ..., close[-1]; equity[0] is the cash.
    position: position value / equity at those closes (0 at the decision close).
    """

    decision_bar: int
    target: float
    fill: Fill[float]
    equity: np.ndarray
    position: np.ndarray

    @property
    def final_equity(self) -> float:
        """The equity at the last close."""
        return float(self.equity[-1])

    @property
    def held(self) -> np.ndarray:
        """The target held over each bar after the decision (`target` throughout), in the form
        `envs.performance.performance_metrics` takes positions."""
        return np.full(len(self.equity) - 1, self.target)


def buy_and_hold(
    market: MarketArrays,
    decision_bar: int,
    cash: float,
    cost_model: CostModel,
    target: float = 1.0,
) -> BuyAndHoldRun:
    """`cash` put in the asset at the first fill and held to the last bar, marked at every close.

    The decision is made at close[decision_bar]; the order is `market_order` to `target`, sized
    at that close and filled at open[decision_bar + 1], the same order, fill and costs as any of
    the env, the backtest or the paper broker; after it nothing trades: no risk limit, no stop, no
    LLM. `target` in (0, 1] (1: fully long, the benchmark everywhere).
    """
    n_bars = market.n_bars
    if not 0 <= decision_bar <= n_bars - 2:
        raise EnvSetupError(
            f"buy_and_hold: decision_bar must be in 0..{n_bars - 2} (one bar after it to fill),"
            f" got {decision_bar}"
        )
    if not (math.isfinite(cash) and cash > 0.0):
        raise EnvSetupError(f"buy_and_hold: cash must be a finite number > 0, got {cash!r}")
    if not 0.0 < target <= 1.0:
        raise EnvSetupError(f"buy_and_hold: target must be in (0, 1], got {target!r}")
    decision_price = float(market.close[decision_bar])
    fill_price = float(market.open[decision_bar + 1])
    filled = market_order(cash, 0.0, target, decision_price, fill_price, cost_model)
    fill = Fill(*(float(value) for value in filled))
    closes = np.asarray(market.close[decision_bar:], dtype=np.float64)
    value = fill.shares * closes
    equity = fill.cash + value
    equity[0] = cash
    position = value / equity
    position[0] = 0.0
    return BuyAndHoldRun(decision_bar, target, fill, equity, position)
