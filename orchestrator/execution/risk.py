"""The hard risk manager: fixed rules in code that every order passes through, never an LLM.

Policy, in order of precedence:

1. Protective exits are forced, whatever was proposed: the drawdown kill switch (equity at or below
   `(1 - max_drawdown) * peak`, or no equity left) flattens and latches `halted` for
   `kill_switch_cooldown_bars` bars, after which trading resumes with the peak restarted from the
   equity then (None: for good); a stop-loss (price moved `stop_loss` against the entry price)
   closes the position; a daily-loss breach flattens too when `flatten_on_daily_loss` is set.
   Forced exits, and trims of a position that price moves pushed more than `max_position_drift`
   past `max_position_fraction`, only ever reduce risk, so they skip the trade-count and notional
   caps: a cap must never keep a position open. A stop-loss exit sets a latch: no new position
   on the side it closed until the proposal goes flat or flips, or `stop_loss_cooldown_bars` bars
   have passed.
2. Otherwise the proposed target is clipped to the intersection of what the limits allow: |target|
   <= `max_position_fraction` (a position the price pushed past it by at most
   `max_position_drift` is held as it is while the proposal asks for as much or more); after a
   daily-loss breach (latched until the day rolls) the target must lie between 0 and the current
   position (risk may only shrink); while the stop-loss latch holds, nothing is added on the side
   it closed; once `max_trades_per_day` orders filled on the day the order would fill, the target
   is the current position; the order's notional is at most `max_order_notional`. A
   risk-reducing order is therefore always allowed by the position, daily-loss and latch rules;
   the caps on count and notional bind every discretionary order alike. An order or trim under
   `min_order_notional` is not sent (a broker would refuse it); an order to go flat always is.
3. The outcome is APPROVED (as proposed), CLIPPED (a smaller order), REJECTED (an order was asked
   for and none is allowed), FORCED (a protective exit or trim) or NO_ORDER (nothing to do). Every
   rule that acted adds a reason, so each `OrderCheck` can be journaled as it stands.

Orders are the env's orders (`envs.trading.execution.market_order`): sized at the decision price
so that, filled there with its own costs paid, the order would land exactly on the approved
fraction, and filled at the next bar's open. Every figure is measured at the decision price; the
fill differs by the overnight gap, exactly as in training, which is why every limit is checked
again at every bar (and a position that a price move pushed too far past `max_position_fraction`
is trimmed back). Send `order_shares` as approved:
re-sizing the order at the fill price would change its notional. Ask once a bar: the stop-loss
latch and the kill switch's cooldown count their bars in checks.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import Field, NonNegativeInt, PositiveInt

from envs import CostModel, rebalance
from orchestrator.checks import Finite, Positive, Settings, checked_args
from orchestrator.errors import InvalidInputError
from orchestrator.execution.portfolio import PortfolioState

# Target changes this small (as a fraction of equity) are float noise, not orders.
_NO_CHANGE = 1e-9
# Bars the drawdown kill switch holds the account flat (`RiskLimits.kill_switch_cooldown_bars`).
KILL_SWITCH_COOLDOWN_BARS = 21


class RiskLimits(Settings):
    """The hard limits (defaults for a daily-bar, single-asset account, and why).

    max_position_fraction: |position value| / equity after the order, in (0, 1] (1.0: no
        leverage; the env's order sizing is exact up to 1).
    max_order_notional: currency per order (inf: no cap; set it for a live account).
    max_daily_loss: loss from start-of-day equity, as a fraction, that stops new risk for the day
        (0.05: a 5 % day is rare for an index, about 1 in 200 S&P 500 days in 1999-2018).
    flatten_on_daily_loss: also close the position on that breach (False: stop adding, keep it).
    max_drawdown: fall from peak equity, as a fraction, that flattens and halts trading
        (0.25: beyond what the strategies should lose outside a crash).
    kill_switch_cooldown_bars: bars the kill switch holds the account flat; at the last of them
        trading resumes, and the drawdown is measured from the equity then, so a second breach
        needs a further max_drawdown fall (None: halted for good, until a human restarts the run).
        KILL_SWITCH_COOLDOWN_BARS by default, chosen on the validation splits (docs/DESIGN_NOTES.md,
        Orchestrator).
    max_trades_per_day: fills per day, counted on the day they fill (4: daily bars need one;
        more means something is looping). An order counts against the day it would fill on (the
        next bar's): on daily bars that is tomorrow, so one order a day always passes.
    stop_loss: adverse move from the entry price, as a fraction, that closes the position (0.10;
        inf disables it).
    stop_loss_cooldown_bars: bars after a stop-loss exit during which no new position is opened
        on the side it closed, unless the proposal goes flat or flips first, which lifts the latch
        at once (5, a week of daily bars: without it a strategy whose target did not move buys back
        at the next bar what the stop just sold, a round trip of costs to take the same risk
        again, as buy and hold did in February 2016; a week lets the move that hit the stop play
        out, and a strategy that still wants the position after it gets back in without having to
        flip first. 0: no latch).
    max_position_drift: how far past max_position_fraction a held position may drift with the
        price before it is trimmed back to the max (0.05, about a large overnight gap: trimming
        every tick of drift would send an order, and pay its costs, at every bar the
        price moves the position up; orders themselves never go past max_position_fraction).
    min_order_notional: currency; an order or trim smaller than this is not sent (1.0: the
        smallest order a broker such as Alpaca accepts); an order to go flat always goes, whatever
        its size, so that no dust position is left open.
    """

    max_position_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    max_order_notional: Annotated[float, Field(gt=0.0)] = (
        math.inf
    )  # NaN fails the bound, inf is allowed
    max_daily_loss: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    flatten_on_daily_loss: bool = False
    max_drawdown: Annotated[float, Field(gt=0.0, le=1.0)] = 0.25
    kill_switch_cooldown_bars: PositiveInt | None = KILL_SWITCH_COOLDOWN_BARS
    max_trades_per_day: PositiveInt = 4
    stop_loss: Annotated[float, Field(gt=0.0)] = 0.10
    stop_loss_cooldown_bars: NonNegativeInt = 5
    max_position_drift: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    min_order_notional: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 1.0


class CheckStatus(StrEnum):
    APPROVED = "approved"
    CLIPPED = "clipped"
    REJECTED = "rejected"
    FORCED = "forced"
    NO_ORDER = "no_order"


@dataclass(frozen=True)
class OrderCheck:
    """The risk manager's verdict on one proposed target, with everything needed to journal it.

    Positions are fractions of `equity` at `price`. `order_shares` is the signed order to send
    (0 when none). `portfolio` is the account marked at this bar with the risk latches set: apply
    the fill to it (`portfolio.filled(...)`) and hand the result to the next check.
    """

    day: dt.date
    price: float
    equity: float
    current_position: float
    proposed_position: float
    approved_position: float
    order_shares: float
    status: CheckStatus
    reasons: tuple[str, ...]
    portfolio: PortfolioState

    @property
    def order_notional(self) -> float:
        return abs(self.order_shares) * self.price


class RiskManager:
    """Checks every proposed target position against `limits` (see the module docstring)."""

    def __init__(
        self, limits: RiskLimits | None = None, cost_model: CostModel | None = None
    ) -> None:
        self.limits = limits or RiskLimits()
        self.cost_model = cost_model or CostModel()

    def capped(self, target: float) -> float:
        """`target` within the position limit: the position a strategy that asks for `target`
        holds (the bar engine compares it, not `target`, with the position held)."""
        cap = self.limits.max_position_fraction
        return min(cap, max(-cap, target))

    @checked_args()
    def check(
        self,
        proposed_position: Finite,
        portfolio: PortfolioState,
        price: Positive,
        day: dt.date,
        *,
        fill_day: dt.date | None = None,
    ) -> OrderCheck:
        """Verdict on moving `portfolio` to `proposed_position` of equity at `price` on `day`.

        fill_day: the day the order would fill (the next bar's), on which `max_trades_per_day`
        counts it; None: `day`, as when it fills at once.
        """
        if fill_day is not None and fill_day < day:
            raise InvalidInputError(f"fill_day {fill_day} is before the decision's day {day}")
        proposed = proposed_position
        limits = self.limits
        state = portfolio.marked(price, day)
        equity = state.equity(price)
        state, kill = self._kill_switch(state, equity)
        stop = self._stop_loss_reason(state, price)
        daily = self._daily_loss_reason(state, equity)
        state = state.copy_with(daily_loss_breached=daily is not None)
        state = self._stop_latch(state, stopped=stop is not None, proposed=proposed)
        reasons = [reason for reason in (kill, stop, daily) if reason is not None]
        if equity <= 0.0:
            current = math.copysign(math.inf, state.shares) if state.shares else 0.0
        else:
            current = state.position_fraction(price)
        if kill or stop or (daily and limits.flatten_on_daily_loss):
            target, forced = 0.0, True
        else:
            trades = state.trades_today if fill_day in (None, day) else 0
            target, forced = self._allowed_target(
                proposed, current, state, equity, reasons, trades=trades
            )
        if target == 0.0:
            order = -state.shares  # exactly flat: no dust left by rounding
        elif abs(target - current) <= _NO_CHANGE:
            target, order = current, 0.0
        else:
            planned = rebalance(state.cash, state.shares, target, price, self.cost_model)
            order = float(planned.shares) - state.shares
        if 0.0 < abs(order) * price < limits.min_order_notional and target != 0.0:
            reasons.append(
                f"order notional {abs(order) * price:.2f} < min {limits.min_order_notional:.2f};"
                " not sent"
            )
            target, order, forced = current, 0.0, False
        return OrderCheck(
            day=day,
            price=price,
            equity=equity,
            current_position=current,
            proposed_position=proposed,
            approved_position=target,
            order_shares=order,
            status=_status(proposed, current, order, forced, clipped=target != proposed),
            reasons=tuple(reasons),
            portfolio=state,
        )

    def _kill_switch(
        self, state: PortfolioState, equity: float
    ) -> tuple[PortfolioState, str | None]:
        """The account with the kill switch's latch set, counted down a bar, or lifted (its
        cooldown is over: the peak restarts from `equity`), and why it holds the account flat."""
        if state.halted:
            if state.halt_bars == 0 or equity <= 0.0:
                return state, (
                    "kill switch: halted for good by an earlier drawdown breach; staying flat"
                )
            left = state.halt_bars - 1
            if left:
                return state.copy_with(halt_bars=left), (
                    f"kill switch: halted by an earlier drawdown breach; flat for {left} more"
                    " bar(s)"
                )
            state = state.copy_with(halted=False, halt_bars=0, peak_equity=equity)
        limit = self.limits.max_drawdown
        drawdown = 1.0 - equity / state.peak_equity
        if equity > 0.0 and drawdown < limit:
            return state, None
        bars = self.limits.kill_switch_cooldown_bars
        for_how_long = "for good" if bars is None else f"for {bars} bar(s)"
        return state.copy_with(halted=True, halt_bars=bars or 0), (
            f"kill switch: drawdown {drawdown:.2%} from peak {state.peak_equity:.2f}"
            f" >= max {limit:.2%}; flatten and stop trading {for_how_long}"
        )

    def _stop_loss_reason(self, state: PortfolioState, price: float) -> str | None:
        if state.entry_price is None:
            return None
        side = "long" if state.shares > 0.0 else "short"
        adverse = (state.entry_price - price) / state.entry_price
        if side == "short":
            adverse = -adverse
        limit = self.limits.stop_loss
        if adverse < limit:
            return None
        return (
            f"stop-loss: {side} from {state.entry_price:.4f}, price {price:.4f} moved"
            f" {adverse:.2%} against it >= {limit:.2%}; close the position"
        )

    def _stop_latch(
        self, state: PortfolioState, *, stopped: bool, proposed: float
    ) -> PortfolioState:
        """The account with the stop-loss latch set (a stop-loss closes the position now), counted
        down a bar, or lifted (the cooldown is over, or the proposal is flat or on the other side).
        """
        bars = self.limits.stop_loss_cooldown_bars
        if stopped:
            side = 1 if state.shares > 0.0 else -1
            return state.copy_with(stop_latch_side=side if bars else 0, stop_latch_bars=bars)
        side = state.stop_latch_side
        if side == 0:
            return state
        left = state.stop_latch_bars - 1
        if left == 0 or proposed * side <= 0.0:
            return state.copy_with(stop_latch_side=0, stop_latch_bars=0)
        return state.copy_with(stop_latch_bars=left)

    def _daily_loss_reason(self, state: PortfolioState, equity: float) -> str | None:
        limits = self.limits
        action = (
            "flatten and stop for the day"
            if limits.flatten_on_daily_loss
            else "no risk increase for the day"
        )
        if state.daily_loss_breached:
            return f"daily loss: limit breached earlier today; {action}"
        loss = 1.0 - equity / state.start_of_day_equity
        if loss < limits.max_daily_loss:
            return None
        return (
            f"daily loss: {loss:.2%} of start-of-day equity {state.start_of_day_equity:.2f}"
            f" >= max {limits.max_daily_loss:.2%}; {action}"
        )

    def _allowed_target(
        self,
        proposed: float,
        current: float,
        state: PortfolioState,
        equity: float,
        reasons: list[str],
        *,
        trades: int,
    ) -> tuple[float, bool]:
        """The proposal clipped to what the limits allow, and whether that is a forced trim.

        trades: the fills already on the day the order would fill."""
        limits = self.limits
        cap = limits.max_position_fraction
        low, high = -cap, cap
        if state.daily_loss_breached:
            low, high = max(low, min(0.0, current)), min(high, max(0.0, current))
        if abs(current) > cap + limits.max_position_drift + _NO_CHANGE:
            bound = min(high, max(low, current))
            target = min(max(0.0, bound), max(min(0.0, bound), proposed))
            if target == proposed:  # the strategy's own decision; no cap may keep it open
                return target, True
            reasons.append(
                f"position {current:+.4f} is over the max {cap:.4f} by more than the drift"
                f" allowed ({limits.max_position_drift:.4f}) after a price move or fill;"
                f" trimmed to {target:+.4f}"
            )
            return target, True
        if abs(current) > cap + _NO_CHANGE and proposed * current >= current * current:
            # Drifted past the cap, within the drift allowed, and asked to hold or add: hold.
            if abs(proposed - current) > _NO_CHANGE:
                reasons.append(
                    f"position limit: |{proposed:+.4f}| > max {cap:.4f}; the position"
                    f" {current:+.4f} drifted past it within the {limits.max_position_drift:.4f}"
                    " allowed, held as it is"
                )
            return current, False
        if not -cap <= proposed <= cap:
            reasons.append(f"position limit: |{proposed:+.4f}| > max {cap:.4f}")
        if state.daily_loss_breached and not low <= proposed <= high:
            reasons.append(f"daily loss: only risk reduction from {current:+.4f} allowed")
        if state.stop_latch_side:
            side = state.stop_latch_side
            if side > 0:
                high = min(high, max(0.0, current))
            else:
                low = max(low, min(0.0, current))
            if not low <= proposed <= high:
                reasons.append(
                    f"stop-loss latch: no new {'long' if side > 0 else 'short'} for"
                    f" {state.stop_latch_bars} more bar(s), unless the target goes flat or"
                    " flips first"
                )
        if trades >= limits.max_trades_per_day:
            if abs(proposed - current) > _NO_CHANGE:
                reasons.append(
                    f"trade limit: {trades} trades today >= max {limits.max_trades_per_day}"
                )
            return current, False
        # The cost-aware order is at most 1 / (1 - s - k - s*k) times the cost-free one,
        # |target - current| * equity, so this width keeps its notional within the cap.
        s, k = self.cost_model.slippage_rate, self.cost_model.commission_rate
        width = limits.max_order_notional * (1.0 - s - k - s * k) / equity
        if abs(proposed - current) > width:
            reasons.append(
                f"order notional {abs(proposed - current) * equity:.2f}"
                f" > max {limits.max_order_notional:.2f}"
            )
        low, high = max(low, current - width), min(high, current + width)
        if low > high:  # drifted past the cap by more than one order may trade: no order can
            # end within both limits, so the position is held (within the drift allowed)
            reasons.append(f"position {current:+.4f} is past the cap by more than one order")
            return current, False
        return min(high, max(low, proposed)), False


def _status(
    proposed: float, current: float, order: float, forced: bool, *, clipped: bool
) -> CheckStatus:
    if order == 0.0:
        no_change = abs(proposed - current) <= _NO_CHANGE
        return CheckStatus.NO_ORDER if no_change else CheckStatus.REJECTED
    if forced:
        return CheckStatus.FORCED
    return CheckStatus.CLIPPED if clipped else CheckStatus.APPROVED
