"""Was a decision right? The hindsight test that the confidence is calibrated against.

A decision at close t is right when the direction it chose paid over the next `HORIZON_BARS`
bars, after costs: a non-flat target is right when holding it beats holding flat, the flat target
when holding flat beats holding fully long. Both sides start from the same portfolio and go
through the env's own orders (`envs.order_needed`, then `envs.market_order`: sized at close[t],
filled at open[t+1]); each then holds its shares to close[t+k]. So "right" includes the cost of
getting there, and every action is right about as often as its direction is: the old test ("no other
action ended bar t+1 with more equity") made the half position right on ~3% of bars, which capped
the confidence of an agent that often holds half near its base rate.

These are training labels: they read bars after t. The confidence at decision time reads only
the observation (`agents.drl_agent.DRLAgent.decide`).
"""

from __future__ import annotations

from envs import EnvConfig, market_order, order_needed

HORIZON_BARS = 5
"""k, in bars: one trading week of daily bars. Fixed in advance, not tuned: a label to be
predicted, not a knob to raise the AUC with. Near the end of a market the horizon is cut short."""


def alternative_target(target: float) -> float:
    """What a decision is judged against: flat for an exposed target, fully long for flat."""
    return 1.0 if target == 0.0 else 0.0


def equity_after_holding(
    cash: float,
    shares: float,
    position: float,
    target: float,
    *,
    close_now: float,
    open_next: float,
    close_later: float,
    config: EnvConfig,
) -> float:
    """Equity at `close_later` after `target` is chosen at a close where the portfolio holds
    `cash`, `shares` and `position` (value / equity), ordered at `close_now` and filled at
    `open_next` as the env orders it (no order inside the rebalance band), then held without
    further trades."""
    if order_needed(position, target, config.rebalance_band):
        fill = market_order(cash, shares, target, close_now, open_next, config.cost_model)
        cash, shares = float(fill.cash), float(fill.shares)
    return cash + shares * close_later


def direction_was_right(
    cash: float,
    shares: float,
    position: float,
    target: float,
    *,
    close_now: float,
    open_next: float,
    close_later: float,
    config: EnvConfig,
) -> bool:
    """Whether `target` ends at `close_later` with at least the equity of `alternative_target`
    (ties count as right), from the same portfolio and fills (see `equity_after_holding`)."""

    def equity(chosen: float) -> float:
        return equity_after_holding(
            cash,
            shares,
            position,
            chosen,
            close_now=close_now,
            open_next=open_next,
            close_later=close_later,
            config=config,
        )

    return equity(target) >= equity(alternative_target(target))


def horizon_bar(bar: int, n_bars: int) -> int:
    """The bar whose close a decision at close `bar` is judged at: `bar + HORIZON_BARS`, or the
    last bar of the market."""
    return min(bar + HORIZON_BARS, n_bars - 1)
