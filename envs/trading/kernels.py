"""The arithmetic of one trading step, written once: whether to trade, order sizing, fills, log
returns, differential Sharpe, and the compiled (numba) loop that steps N portfolios at once for
`BatchedTradingEnv`.

`order_needed`, `order_shares`, `fill_order` and `differential_sharpe` use operators and `abs()`
only, so the same source runs as plain Python on floats (`TradingEnv`, the orchestrator), on NumPy
arrays (`envs.trading.execution.rebalance` over many portfolios) and compiled inside
`step_portfolios`; `log_growth` runs on floats and compiled. They live in this file, beside the
compiled loop, because numba's on-disk cache (`cache=True`: the first batched env of a process
starts in half a second instead of two) is invalidated only when the file of the compiled function
changes: a formula kept in another module could run stale there.
`envs.trading.execution` documents the fill and calls these.
"""

from __future__ import annotations

from collections.abc import Callable
from math import log, log2
from typing import Any, TypeVar

import numba
import numpy as np

Amount = TypeVar("Amount", float, np.ndarray)
"""One portfolio's amount (a float), or one entry per portfolio (an array), alike in one call."""

LN2 = log(2.0)
"""ln 2, which turns a base-2 logarithm into a natural one (see `log_growth`)."""

MIN_VARIANCE = 1e-12
"""The differential Sharpe is 0 until the moving variance estimate exceeds this."""

# Rows of the (PORTFOLIO_FIELDS, n) float64 state that `step_portfolios` updates in place.
CASH, SHARES, TARGET, EQUITY, PEAK, POSITION, DRAWDOWN = range(7)
LOG_RETURN, DSR_MEAN, DSR_SECOND_MOMENT = range(7, 10)
PORTFOLIO_FIELDS = 10
# Rows of the (2, n) int64 bar state: the bar each copy's portfolio was last marked at, and the
# last bar of its episode.
BAR, END_BAR = range(2)


def order_needed(current_fraction: float, target_fraction: float, rebalance_band: float) -> bool:
    """True when the target differs from the current position by more than the band; a target of
    exactly 0 (flat) from a non-zero position always trades, so an exit is never blocked.

    Positions are fractions of equity (position value / equity, -1 fully short .. 1 fully long),
    `rebalance_band` a fraction of equity too: with a band of 0.1 a position that drifted from 0.5
    to 0.55 is left alone, one at 0.65 is brought back. Small orders cost the same basis points as
    large ones but rarely change the outcome, so the band trades turnover for tracking error.
    `envs.trading.execution` exports it: the env, the batched env and the broker decide alike.
    """
    exit_to_flat = (target_fraction == 0.0) & (current_fraction != 0.0)
    return bool(exit_to_flat | (abs(target_fraction - current_fraction) > rebalance_band))


# The formulas take their arguments positionally: numba binds keyword-only arguments wrongly.
def order_shares(  # noqa: PLR0917
    cash: Amount,
    shares: Amount,
    target_fraction: Amount,
    open_price: Amount | float,
    buy_cost_rate: float,
    sell_cost_rate: float,
) -> Amount:
    """Shares to trade at `open_price` so that position / equity == target after this trade's own
    costs: `(u / open_price) / (1 + f*s*k + f*(s+k)*sign(u))`, derivation in
    `envs.trading.execution.rebalance`. A target of 0 sells exactly `shares` (no round trip)."""
    unconstrained_shares = target_fraction * (cash / open_price + shares) - shares
    round_trip_rate = buy_cost_rate + sell_cost_rate
    signed_cost_rate = (unconstrained_shares > 0) * round_trip_rate - sell_cost_rate
    return unconstrained_shares / (1.0 + target_fraction * signed_cost_rate)


def fill_order(  # noqa: PLR0917
    cash: Amount,
    shares: Amount,
    delta_shares: Amount,
    price: Amount | float,
    slippage_rate: float,
    commission_rate: float,
) -> tuple[Amount, Amount, Amount, Amount, Amount]:
    """(new cash, new shares, commission, slippage cost, traded notional) of filling
    `delta_shares` at reference `price`; the formulas are in `envs.trading.execution`'s docstring.
    """
    value = delta_shares * price
    gross = abs(value)
    slippage_cost = gross * slippage_rate
    traded_notional = gross + value * slippage_rate
    commission = traded_notional * commission_rate
    new_cash = cash - value - slippage_cost - commission
    return new_cash, shares + delta_shares, commission, slippage_cost, traded_notional


def log_growth(ratio: float) -> float:
    """log(ratio), the log return of an equity ratio, as both envs pay it as a reward.

    Computed as `log2(ratio) * LN2`, within 2 ulp of `math.log(ratio)`, because the compiled step
    runs libm's `log2` faster than its `log` (8.8 against 10.0 ns a call, measured here), and
    `TradingEnv` calls this same function, so that both envs pay bit-identical rewards.
    """
    return log2(ratio) * LN2


def differential_sharpe(
    log_return: Amount, mean: Amount, second_moment: Amount, eta: float
) -> tuple[Amount, Amount, Amount]:
    """(reward, new mean, new second moment): Moody & Saffell's differential Sharpe ratio D_t.

    Moody, Wu, Liao & Saffell (1998) and Moody & Saffell (2001): with exponential moving estimates
    `A` (first moment) and `B` (second moment) of the returns `R`, updated at rate `eta`,

        D_t = (B_{t-1} * dA - A_{t-1} * dB / 2) / (B_{t-1} - A_{t-1}**2) ** 1.5
        dA = R_t - A_{t-1},  dB = R_t**2 - B_{t-1},  A_t = A_{t-1} + eta*dA,  B_t = B_{t-1} + eta*dB

    is the first-order effect of R_t on the moving Sharpe ratio. Both moments start at 0, and D is
    0 while the variance estimate `B - A**2` is not yet above `MIN_VARIANCE`. Operators only, so
    floats (one portfolio) and arrays (many) both work.
    """
    d_mean = log_return - mean
    d_second = log_return * log_return - second_moment
    variance = second_moment - mean * mean
    formed = variance > MIN_VARIANCE
    safe_variance = variance + (1.0 - formed)  # any positive number where D is masked to 0
    reward = (second_moment * d_mean - 0.5 * mean * d_second) / safe_variance**1.5 * formed
    return reward, mean + eta * d_mean, second_moment + eta * d_second


# Compiled twins of the formulas above, called inside `step_portfolios`. None of their divisors
# can be 0 (prices and equity are positive), so numba's zero-division checks are dropped.
_order_needed = numba.njit(error_model="numpy")(order_needed)
_order_shares = numba.njit(error_model="numpy")(order_shares)
_fill_order = numba.njit(error_model="numpy")(fill_order)
_log_growth = numba.njit(error_model="numpy")(log_growth)
_differential_sharpe = numba.njit(error_model="numpy")(differential_sharpe)

ACTIONS_TYPE = numba.types.Array(numba.int64, 1, "A")
"""The numba type of `step_portfolios`'s actions: int64 vectors of any strides."""
OUTPUT_TYPES = (
    numba.types.Array(numba.float32, 2, "C"),
    numba.types.Array(numba.float32, 1, "C"),
    numba.types.Array(numba.boolean, 1, "C"),
)
"""The numba types of `step_portfolios`'s outputs: fresh observations, rewards and dones."""


_N_SCALAR_PARAMETERS = 11  # the parameters before the targets


def step_parameters(
    *,
    buy_cost_rate: float,
    sell_cost_rate: float,
    slippage_rate: float,
    commission_rate: float,
    ruin_equity: float,
    clip: float,
    dsr_eta: float,
    use_differential_sharpe: bool,
    n_features: int,
    rebalance_band: float,
    turnover_penalty: float,
    targets: tuple[float, ...],
) -> np.ndarray:
    """The constants of `step_portfolios` as one float64 array, the scalars then the targets:
    each array argument costs numba's call about 45 ns to unbox, a percent of a step."""
    scalars = [
        buy_cost_rate,
        sell_cost_rate,
        slippage_rate,
        commission_rate,
        ruin_equity,
        clip,
        dsr_eta,
        float(use_differential_sharpe),
        float(n_features),
        rebalance_band,
        turnover_penalty,
    ]
    return np.array(scalars + list(targets), dtype=np.float64)


def compiled(dispatcher: Any, *arguments: object) -> Callable[..., Any]:
    """`dispatcher`'s machine code for arguments of exactly these types (numba types, or values
    to take the types of), compiled or loaded from numba's cache now. Calling it skips numba's
    per-call type dispatch, a third of the cost of a call with a dozen arrays; the caller must
    pass arguments of these types, as numba no longer checks them."""
    types = tuple(
        argument if isinstance(argument, numba.types.Type) else numba.typeof(argument)
        for argument in arguments
    )
    return dispatcher.compile(types)


@numba.njit(cache=True)
def write_observations(  # noqa: PLR0917 - numba binds keyword-only arguments wrongly
    padded_features: np.ndarray,
    n_features: int,
    bars: np.ndarray,
    position_fractions: np.ndarray,
    drawdowns: np.ndarray,
    clip: float,
    out: np.ndarray,
) -> None:
    """Write the observation of portfolio i at `bars[i]` into row i of the C-contiguous `out`
    (layout in `envs.trading.observation`; `padded_features` is
    `ObservationBuilder.padded_features`).

    The window is copied by an explicit loop over views that start at index 0, which LLVM
    vectorises; numba's slice assignment, or indices that might be negative, are several times
    slower, and a call per row adds a fifth (reference counting of the row views)."""
    size = out.shape[1]
    state_index = size - 2
    flat = out.reshape(-1)
    for i in range(bars.shape[0]):
        window = padded_features[bars[i] * n_features :]
        row = flat[i * size :]
        for j in range(state_index):
            row[j] = window[j]
        row[state_index] = min(max(position_fractions[i], -clip), clip)
        row[state_index + 1] = drawdowns[i]


@numba.njit(cache=True, error_model="numpy")
def step_portfolios(  # noqa: PLR0917 - its compiled entry point takes positional arguments only
    actions: np.ndarray,
    parameters: np.ndarray,
    prices: np.ndarray,
    padded_features: np.ndarray,
    portfolios: np.ndarray,
    bars: np.ndarray,
    observations: np.ndarray,
    rewards: np.ndarray,
    dones: np.ndarray,
) -> int:
    """One `TradingEnv.step` for each portfolio i, in place; returns how many episodes ended.

    actions: (n,) int64 indices into the targets (target position fractions) of `parameters`,
        which `step_parameters` builds.
    prices: (2, n_bars) float64; row 0 at bar t is open[t + 1] (the fill of a decision at t),
        row 1 is close[t] (the decision price that sizes the order, and the mark).
    padded_features: `ObservationBuilder.padded_features`.
    portfolios / bars: the state rows named at the top of this module, updated in place.
    observations (n, size) float32, rewards (n,) float32, dones (n,) bool: written for each i.
    Returns -1, having changed nothing, unless `actions` holds one target index per portfolio.
    Copies whose episode ended are left at their final state for the caller to report and reset.

    Each phase (fills, marks, rewards, observations) is its own loop over the portfolios: short
    bodies let the CPU overlap the division chains of consecutive portfolios, which one long body
    per portfolio (with a 1.8 kB copy in it) serialises; the fill and mark loops have no branches
    and no calls. Together that is a seventh of the step. No divisor here can be 0 (prices and
    equity are positive), so numba's zero-division checks are dropped (`error_model="numpy"`).
    """
    targets = parameters[_N_SCALAR_PARAMETERS:]
    n_portfolios, n_actions = portfolios.shape[1], targets.shape[0]
    if actions.shape[0] != n_portfolios:
        return -1
    for i in range(n_portfolios):
        if not 0 <= actions[i] < n_actions:
            return -1
    buy_cost_rate, sell_cost_rate = parameters[0], parameters[1]
    slippage_rate, commission_rate = parameters[2], parameters[3]
    ruin_equity, clip, dsr_eta = parameters[4], parameters[5], parameters[6]
    use_differential_sharpe = parameters[7] != 0.0
    n_features = int(parameters[8])
    rebalance_band, turnover_penalty = parameters[9], parameters[10]
    cash, shares, held = portfolios[CASH], portfolios[SHARES], portfolios[TARGET]
    equity, peak = portfolios[EQUITY], portfolios[PEAK]
    position, drawdown = portfolios[POSITION], portfolios[DRAWDOWN]
    log_return = portfolios[LOG_RETURN]
    bar, end_bar = bars[BAR], bars[END_BAR]
    next_open, close = prices[0], prices[1]

    # Orders sized at close[t], filled at open[t + 1] (`envs.trading.execution.market_order`). A
    # target within the rebalance band of the position at close t trades nothing, as in
    # TradingEnv: its order is computed anyway and sized to 0 (which leaves cash and shares bit for
    # bit unchanged), since a loop without branches over contiguous arrays runs several portfolios
    # per instruction. The turnover penalty is charged on the traded fraction.
    fill_target, fill_price = np.empty(n_portfolios), np.empty(n_portfolios)
    decision_price = np.empty(n_portfolios)
    trade, penalty = np.empty(n_portfolios), np.empty(n_portfolios)  # 1.0 where an order goes
    for i in range(n_portfolios):
        fill_target[i] = targets[actions[i]]
        fill_price[i] = next_open[bar[i]]
        decision_price[i] = close[bar[i]]
        trade[i] = _order_needed(position[i], fill_target[i], rebalance_band)
        penalty[i] = turnover_penalty * abs(fill_target[i] - position[i]) * trade[i]
    for i in range(n_portfolios):
        delta: float = _order_shares(
            cash[i], shares[i], fill_target[i], decision_price[i], buy_cost_rate, sell_cost_rate
        )
        cash[i], shares[i], _, _, _ = _fill_order(
            cash[i], shares[i], delta * trade[i], fill_price[i], slippage_rate, commission_rate
        )
        held[i] = fill_target[i] if trade[i] else held[i]

    for i in range(n_portfolios):  # marks at close[t + 1]
        bar[i] += 1
        mark = close[bar[i]]
        previous_equity = equity[i]
        equity[i] = cash[i] + shares[i] * mark
        ruined = equity[i] <= ruin_equity  # then the account is closed, as in TradingEnv
        log_return[i] = (ruin_equity if ruined else equity[i]) / previous_equity  # the ratio
        peak[i] = max(peak[i], equity[i])  # a ruined equity is below any peak
        position[i] = 0.0 if ruined else shares[i] * mark / equity[i]
        drawdown[i] = -1.0 if ruined else equity[i] / peak[i] - 1.0
        dones[i] = ruined or bar[i] == end_bar[i]

    n_done = 0
    for i in range(n_portfolios):  # rewards: the libm calls, kept out of the loop above
        log_return[i] = _log_growth(log_return[i])
        reward = log_return[i]
        if use_differential_sharpe:
            reward, portfolios[DSR_MEAN, i], portfolios[DSR_SECOND_MOMENT, i] = (
                _differential_sharpe(
                    reward, portfolios[DSR_MEAN, i], portfolios[DSR_SECOND_MOMENT, i], dsr_eta
                )
            )
        rewards[i] = reward - penalty[i]
        n_done += dones[i]

    write_observations(padded_features, n_features, bar, position, drawdown, clip, observations)
    return n_done
