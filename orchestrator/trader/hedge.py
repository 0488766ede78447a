"""DRL-vs-LLM weights learned online with Hedge (exponentially weighted experts).

Each bar, each source ("expert") i is scored by its loss, minus the realized net return of the
position it recommended:  l_i = -(p_i * r - c_i), clipped to [-loss_bound, loss_bound]
(p_i its target position, r the bar's return, c_i the cost, as a fraction of equity, of moving its
own portfolio there). Hedge keeps w_i proportional to exp(-eta * sum_t l_{i,t}). With two experts
the whole state is one number, the log-odds x = ln(w_drl / w_llm), and an update is

    x <- x - eta * (l_drl - l_llm)                       (Hedge)
    w <- (1 - fixed_share) * w + fixed_share / 2         (Herbster & Warmuth's fixed share)
    w <- clip(w, floor, 1 - floor)                       (the floor)

Regret bound (plain Hedge: fixed share 0, floor 0). With eta * loss_bound <= 1 every
eta * l >= -1, where exp(-z) <= 1 - z + z^2 holds, and the usual potential argument gives, for any
T and each source i,

    sum_t <w_t, l_t> - sum_t l_{i,t}  <=  ln 2 / eta + eta * sum_t <w_t, l_t^2>

(the second-order form of the Hedge bound; e.g. Arora, Hazan & Kale 2012, sec. 2; Cesa-Bianchi &
Lugosi 2006, ch. 2), on the clipped losses. If each source's squared loss is at most s^2 per bar on
average, the right side is ln 2 / eta + eta * T * s^2, smallest at eta = sqrt(ln 2 / (T * s^2)),
where the regret is at most 2 * s * sqrt(T * ln 2). `hedge_learning_rate(T, s)` is that eta. The
default takes T = 252 bars (adapt over about a year of daily bars) and s = 0.012 (a full position's
daily loss scale, about 19 % annual volatility), so eta ~= 4.37 and eta * loss_bound = 0.44 <= 1.
The guarantee is for the w-weighted mix of the two sources' net returns; the combiner's thresholds
and boost are outside it. Two equally good but independent sources are not held at 50/50 bar by
bar: their loss gaps are noise, and at this rate the weight wanders (sd about 0.15 on daily
noise) while averaging 50/50; that costs nothing in expectation, since either source is as good.

Forgetting, for regime changes. `fixed_share` = alpha keeps every weight >= alpha / 2 and turns the
ln 2 term into ((k+1) ln 2 + k ln(1/alpha) + (T-k-1) ln(1/(1-alpha))) / eta against the best
sequence of sources with k switches (Herbster & Warmuth 1998; Cesa-Bianchi & Lugosi 2006,
Thm 5.2; best near alpha = k / (T - 1)). The `floor` keeps each weight >= floor, so a source
that turns good needs at most ln((1 - floor) / floor) / eta of cumulative net-return advantage to
climb back to 50/50 (projection onto {w >= floor}: Herbster & Warmuth 2001).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, PositiveInt, model_validator

from orchestrator.checks import (
    Finite,
    NonNegative,
    Position,
    Positive,
    Settings,
    Value,
    checked_args,
)
from orchestrator.errors import ConfigError, InvalidInputError


@checked_args(ConfigError)
def hedge_learning_rate(n_bars: PositiveInt, loss_scale: Positive) -> float:
    """eta = sqrt(ln 2 / (n_bars * loss_scale^2)), which minimises the regret bound over n_bars."""
    return math.sqrt(math.log(2.0) / (n_bars * loss_scale**2))


DEFAULT_LEARNING_RATE = hedge_learning_rate(n_bars=252, loss_scale=0.012)


class HedgeConfig(Settings):
    """Settings of the weight learner (see the module docstring for the maths and the defaults).

    learning_rate: eta, per unit of loss (a loss of 0.01 is a 1 % net return); eta * loss_bound
        must be <= 1 for the bound to hold.
    loss_bound: per-bar losses are clipped to [-loss_bound, loss_bound] (0.1: a 10 % daily move of
        a full position; two S&P 500 days in 1999-2018 were larger).
    fixed_share: per-bar mixing toward 50/50, in [0, 1) (0.005: about one switch of the better
        source per 200 bars; 0 = off).
    floor: lowest weight a source can have, in [0, 0.5) (0.05: it keeps a say, and a way back).
    """

    learning_rate: Positive = DEFAULT_LEARNING_RATE
    loss_bound: Positive = 0.1
    fixed_share: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.005
    floor: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.05

    @model_validator(mode="after")
    def _bound_holds(self) -> HedgeConfig:
        if self.learning_rate * self.loss_bound > 1.0:
            raise ValueError(
                "learning_rate * loss_bound must be <= 1 for the regret bound,"
                f" got {self.learning_rate} * {self.loss_bound}"
            )
        return self


@dataclass(frozen=True)
class WeightUpdate:
    """One bar's update: what each source recommended, what it earned, and the weights around it."""

    step: int
    label: str | None
    drl_position: float
    llm_position: float
    bar_return: float
    drl_cost: float
    llm_cost: float
    drl_loss: float
    llm_loss: float
    drl_weight_before: float
    drl_weight_after: float


class HedgeState(Value):
    """What `HedgeWeights.state_dict` saves: the log-odds ln(w_drl / w_llm)."""

    log_odds: Finite


def _weights_from_log_odds(log_odds: float) -> tuple[float, float]:
    """(w_drl, w_llm) for x = ln(w_drl / w_llm), each computed directly so neither loses digits."""
    half = 0.5 * math.tanh(0.5 * log_odds)
    return 0.5 + half, 0.5 - half


class HedgeWeights:
    """The online DRL/LLM weights: starts at 50/50, updated once per bar with realized outcomes."""

    def __init__(self, config: HedgeConfig | None = None) -> None:
        self.config = config or HedgeConfig()
        self._log_odds = 0.0
        self._history: list[WeightUpdate] = []

    @property
    def drl_weight(self) -> float:
        return _weights_from_log_odds(self._log_odds)[0]

    @property
    def llm_weight(self) -> float:
        return _weights_from_log_odds(self._log_odds)[1]

    @property
    def history(self) -> tuple[WeightUpdate, ...]:
        """Every update so far, oldest first (a copy: O(updates); `n_updates` counts in O(1))."""
        return tuple(self._history)

    @property
    def n_updates(self) -> int:
        """How many updates were made (the step of the last one)."""
        return len(self._history)

    @checked_args()
    def update(
        self,
        *,
        drl_position: Position,
        llm_position: Position,
        bar_return: Annotated[float, Field(ge=-1.0, allow_inf_nan=False)],
        drl_cost: NonNegative = 0.0,
        llm_cost: NonNegative = 0.0,
        label: str | None = None,
    ) -> WeightUpdate:
        """Score both sources on one bar and move the weights; returns the recorded update.

        drl_position / llm_position: the target position each source recommended for the bar,
            in [-1, 1]. bar_return: the asset's simple return over the bar the positions were held.
        drl_cost / llm_cost: what moving each source's own portfolio to its position cost, as a
            fraction of equity (e.g. cost_rate * |p_t - p_{t-1}|). label: the bar, for reports.
        """
        drl_loss = self._loss(drl_position * bar_return - drl_cost)
        llm_loss = self._loss(llm_position * bar_return - llm_cost)
        before = self.drl_weight
        self._log_odds = self._next_log_odds(drl_loss - llm_loss)
        record = WeightUpdate(
            step=len(self._history) + 1,
            label=label,
            drl_position=drl_position,
            llm_position=llm_position,
            bar_return=bar_return,
            drl_cost=drl_cost,
            llm_cost=llm_cost,
            drl_loss=drl_loss,
            llm_loss=llm_loss,
            drl_weight_before=before,
            drl_weight_after=self.drl_weight,
        )
        self._history.append(record)
        return record

    def _loss(self, net_return: float) -> float:
        bound = self.config.loss_bound
        return min(bound, max(-bound, -net_return))

    def _next_log_odds(self, loss_gap: float) -> float:
        """Hedge step, then fixed share, then the floor (module docstring)."""
        config = self.config
        log_odds = self._log_odds - config.learning_rate * loss_gap
        if config.fixed_share == 0.0 and config.floor == 0.0:
            return log_odds
        drl, llm = _weights_from_log_odds(log_odds)
        drl = (1.0 - config.fixed_share) * drl + 0.5 * config.fixed_share
        llm = (1.0 - config.fixed_share) * llm + 0.5 * config.fixed_share
        if drl < config.floor:
            drl, llm = config.floor, 1.0 - config.floor
        elif llm < config.floor:
            drl, llm = 1.0 - config.floor, config.floor
        return math.log(drl) - math.log(llm)

    def state_dict(self) -> dict[str, object]:
        """The log-odds, JSON-ready: the same size however many updates were made.

        The settings are the constructor's, and the history is kept apart (the journal holds one
        row per update) and handed back to `load_state_dict`.
        """
        return HedgeState(log_odds=self._log_odds).model_dump()

    def load_state_dict(
        self, state: Mapping[str, object], history: Sequence[WeightUpdate] = ()
    ) -> None:
        """Continue from `state` (from `state_dict`) after `history`, the updates made so far.

        The history must be whole (steps 1, 2, ...): the log-odds came from exactly those updates.
        """
        saved = HedgeState.from_mapping(state)
        history = list(history)
        for step, update in enumerate(history, start=1):
            if not isinstance(update, WeightUpdate) or update.step != step:
                raise InvalidInputError(
                    f"saved weights history must be WeightUpdates with steps 1..{len(history)}"
                    f" in order; entry {step} is {update!r}"
                )
        self._log_odds = saved.log_odds
        self._history = history
