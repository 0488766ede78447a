"""The hybrid's weights over its sources ("experts"), learned online with AdaHedge from the net
log-return of exactly the position each source proposed.

Every expert i (the DRL agent and the LLM analysts; the learner takes any number) proposes at a
close a position p_i in [-1, 1]; the hybrid holds the weight mixture q = sum_i w_i p_i. A position
is held from its fill at the next open to the following open, so that is what it is scored on:
expert i's own book earns the gross relative

    x_i = 1 + p_i * (open_{t+1} / open_t - 1) - c_i

(c_i: what moving its own book to p_i cost, as a fraction of its equity) and its loss is
l_i = -ln x_i. The hybrid's relative over the same interval is 1 + q r - c, and since the weights
sum to 1 and ln is concave,

    ln(1 + q r - c)  >=  sum_i w_i ln x_i  -  drag,

where w are the weights the decision was traded with and the drag is whatever the hybrid paid or
missed beyond the mixture of its experts' books (moving between weights, the risk manager, the
minimum order size, the last fill, never scored); the weights report shows it. So the hybrid's
log-wealth is at least minus the cumulative Hedge loss of the traded weights
H_T = sum_t sum_i w_{i,t} l_{i,t}, less the drag.

Feedback is one decision late: the decision at close t is scored at bar t + 2, after decision
t - 1's outcome has moved the weights, so the weights traded are not the learner's weights when
it scores. Two AdaHedge learners handle that differently.

AdaHedge (de Rooij, van Erven, Grunwald & Koolen, "Follow the leader if you can, hedge if you
must", JMLR 2014) tunes its learning rate from the data, eta_t = ln N / Delta_{t-1}, where Delta
is the cumulative mixability gap delta_t = h_t - m_t >= 0 between the Hedge loss
h_t = sum_i w_i l_i and the mix loss m_t = -ln(sum_i w_i exp(-eta_t l_i)) / eta_t (with
Delta = 0, eta is infinite: follow the leaders). For every sequence of losses (their Lemma 3 and
Theorem 6) the regret against the best single expert in hindsight is at most twice the gap:

    H_T - min_i L_{i,T}  <=  2 * Delta_T.

The run computes Delta as it goes (`regret_bound`), so the bound is printed beside the realized
regret. It needs no tuning and no loss range, and stays small while one expert leads clearly:
the gap grows only while the weights are spread over experts that disagree. But the weights it
covers are its own at scoring time, one update newer than those the decision was traded with,
so it does not bound H_T (`learner = "hedge"`, `ExpertWeights`).

`DelayedAdaHedge` (`learner = "hedge_delayed"`) is AdaHedge run for that delay: each decision is
scored with the weights it was traded with, its gap counts the weights' drift over the update it
did not see, and its rate is set from what was known when the decision was made. Its printed
bound, Delta_T + ln N / eta_T (at most twice its running maximum of Delta), holds for H_T itself,
for every loss sequence (the derivation is in its docstring). It is the default
(`DEFAULT_LEARNER`): on the hybrid benchmark's 36 real-series cells it traded as often as AdaHedge
and earned the same (mean Sharpe 0.1831 against 0.1837, a paired standard error of 0.0069), so
the choice was between the same trades with a bound that holds for what is traded and one that
does not (see the design notes).

`ThompsonExperts` is the third learner (`TraderConfig.learner = "thompson"`), the seeds'
pipeline's: a Gaussian posterior per expert on its mean log relative (the same outcomes, -l_i),
and each expert's weight the posterior probability that it is the best, estimated from seeded
draws. It follows a leader faster than AdaHedge and carries no worst-case bound (its
`regret_bound` is None); the weights report replays every learner on a run's outcomes side by
side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal, get_args

import numpy as np
from pydantic import Field, NonNegativeInt

from orchestrator.checks import Finite, NonNegative, Position, Value, checked_args
from orchestrator.errors import InvalidInputError

SOURCES = ("drl", "llm")
ExtraExpertName = Literal["market", "cash"]
EXTRA_EXPERTS: tuple[ExtraExpertName, ...] = get_args(ExtraExpertName)
"""Experts a user may add beside the two sources: `market` holds the asset fully (buy and hold, at
the combiner's position cap) and `cash` holds nothing. With them the regret bound holds against
the market and against staying out too: the hybrid's log-wealth is never much below either."""
LearnerName = Literal["hedge", "hedge_delayed", "thompson"]
LEARNERS: tuple[LearnerName, ...] = get_args(LearnerName)
DEFAULT_LEARNER: LearnerName = "hedge_delayed"
"""The hybrid's weight learner unless one is named (`--learner`)."""
HYBRID_DELAY = 1
"""Updates by which the hybrid's feedback is late: the decision at close t is scored at bar t + 2,
after decision t - 1's outcome has moved the weights (`hybrid_trader`)."""
RUINED_RELATIVE = 1e-9
"""A book that lost everything (possible only for a short through a doubling) scores as if it kept
a billionth: a finite, enormous loss, rather than an undefined one."""


@dataclass(frozen=True)
class ExpertUpdate:
    """One scored interval: each expert's position, gross relative and loss, and the weights
    before and after. `step` counts updates from 1; `label` names the interval (e.g. its date)."""

    step: int
    label: str | None
    positions: dict[str, float]
    relatives: dict[str, float]
    losses: dict[str, float]
    weights_before: dict[str, float]
    weights_after: dict[str, float]
    regret_bound: float | None  # None: a learner without a bound (Thompson sampling)

    @classmethod
    def scored(
        cls,
        learner: Learner,
        positions: Mapping[str, float],
        relatives: Mapping[str, float],
        losses: Sequence[float],
        weights_before: Sequence[float],
        *,
        label: str | None,
    ) -> ExpertUpdate:
        """The record of the update `learner` just made: what each expert held and earned, as
        given, its loss and weight before (in the experts' order), and the learner's step,
        weights and bound after it, each keyed by the expert's name."""
        experts = learner.experts
        return cls(
            step=learner.n_updates,
            label=label,
            positions={name: float(positions[name]) for name in experts},
            relatives={name: float(relatives[name]) for name in experts},
            losses=dict(zip(experts, losses, strict=True)),
            weights_before=dict(zip(experts, weights_before, strict=True)),
            weights_after=learner.weights,
            regret_bound=learner.regret_bound,
        )


class ExpertWeights:
    """AdaHedge weights over named experts (see the module docstring)."""

    def __init__(self, experts: Sequence[str]) -> None:
        names = _expert_names(experts)
        self.experts = names
        self._cumulative_loss = [0.0] * len(names)
        self._gap = 0.0  # Delta: the cumulative mixability gap
        self._steps = 0

    @property
    def weights(self) -> dict[str, float]:
        """The current weight of each expert (they sum to 1)."""
        return dict(zip(self.experts, self._weight_vector(), strict=True))

    @property
    def learning_rate(self) -> float:
        """eta = ln N / Delta; infinite (follow the leaders) while Delta is 0."""
        return _rate(len(self.experts), self._gap)

    @property
    def regret_bound(self) -> float:
        """2 * Delta: the most the cumulative Hedge loss exceeds the best expert's, so far."""
        return 2.0 * self._gap

    @property
    def cumulative_losses(self) -> dict[str, float]:
        """Each expert's summed loss, i.e. minus the log-wealth of its own book."""
        return dict(zip(self.experts, self._cumulative_loss, strict=True))

    @property
    def n_updates(self) -> int:
        return self._steps

    def update(
        self,
        positions: Mapping[str, float],
        relatives: Mapping[str, float],
        label: str | None = None,
    ) -> ExpertUpdate:
        """Score each expert's gross relative x_i over one interval and move the weights.

        positions: what each expert held over the interval (recorded for the report).
        relatives: 1 + p_i * r - c_i for each expert, > 0 (a book that lost everything is refused).
        """
        losses = _losses_of(self.experts, positions, relatives)
        before = self._weight_vector()
        self._gap += self._mixability_gap(before, losses)
        self._cumulative_loss = [
            total + loss for total, loss in zip(self._cumulative_loss, losses, strict=True)
        ]
        self._steps += 1
        return ExpertUpdate.scored(self, positions, relatives, losses, before, label=label)

    def _weight_vector(self) -> list[float]:
        return _hedge_weights(self._cumulative_loss, self.learning_rate)

    def _mixability_gap(self, weights: Sequence[float], losses: Sequence[float]) -> float:
        """delta = h - m >= 0 for this step's weights (module docstring)."""
        hedge_loss = sum(w * loss for w, loss in zip(weights, losses, strict=True))
        eta = self.learning_rate
        held = [loss for w, loss in zip(weights, losses, strict=True) if w > 0.0]
        if math.isinf(eta):
            mix_loss = min(held)
        else:
            lowest = min(held)
            mixed = sum(
                w * math.exp(-eta * (loss - lowest))
                for w, loss in zip(weights, losses, strict=True)
                if w > 0.0
            )
            mix_loss = lowest - math.log(mixed) / eta
        return max(0.0, hedge_loss - mix_loss)  # >= 0 in exact arithmetic

    def state_dict(self) -> dict[str, object]:
        """JSON values that restore the weights exactly (constant size)."""
        return ExpertState(
            experts=list(self.experts),
            cumulative_loss=list(self._cumulative_loss),
            gap=self._gap,
            steps=self._steps,
        ).model_dump()

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Continue from `state_dict()`; refuses a state of other experts."""
        saved = ExpertState.from_mapping(state)
        if tuple(saved.experts) != self.experts or len(saved.cumulative_loss) != len(self.experts):
            raise InvalidInputError(
                f"saved expert weights are for {tuple(saved.experts)}, this trader has"
                f" {self.experts}"
            )
        self._cumulative_loss = saved.cumulative_loss
        self._gap, self._steps = saved.gap, saved.steps


class DelayedAdaHedge:
    """AdaHedge for feedback that comes `delay` decisions late, whose bound covers the weights
    each decision was traded with (`TraderConfig.learner = "hedge_delayed"`).

    The setting. Decision k is traded with the weights the learner had when it was made; its
    losses l_k arrive `delay` updates later than in the plain game, so those weights saw only
    l_1 .. l_{k-1-d} (d = `delay`; the hybrid's d is 1: the decision at close t is scored at
    bar t + 2, after decision t - 1's outcome has moved the weights once more). The traded
    weights are the AdaHedge weights of that past,

        v_k  proportional to  exp(-eta_k L_{k-1-d}),     eta_k = ln N / D_{k-1-d},

    (L_j: each expert's cumulative loss after j updates; D_j defined below; eta = infinity,
    follow the leaders with ties split evenly, while D is 0), and the Hedge loss the account
    earns is H_T = sum_k v_k . l_k: the weights actually traded, not the learner's current ones.

    The bound. Let Phi_eta(L) = -(1/eta) ln((1/N) sum_i exp(-eta L_i)) (Phi_inf(L) = min_i L_i),
    the mix loss potential. For any weights v_k and any nonincreasing rates eta_k, write

        H_T = sum_k delta_k + sum_k [Phi_{eta_k}(L_k) - Phi_{eta_k}(L_{k-1})],
        delta_k = v_k . l_k - [Phi_{eta_k}(L_k) - Phi_{eta_k}(L_{k-1})],

    and regroup the second sum: it is Phi_{eta_T}(L_T) - Phi_{eta_1}(L_0) plus the terms
    Phi_{eta_k}(L_k) - Phi_{eta_{k+1}}(L_k), k < T, each <= 0 because Phi_eta(L) does not
    decrease as eta falls (a softmin: the uniform mean at eta -> 0, the minimum at infinity).
    With Phi(L_0) = 0 and Phi_eta(L) <= min_i L_i + ln N / eta,

        H_T - min_i L_{i,T}  <=  Delta_T + ln N / eta_T  =  Delta_T + D_{T-1-d},

    with Delta_T = sum_k delta_k, for every loss sequence (`regret_bound`: the run computes it
    as it goes). Without delay (d = 0, finite eta) delta_k is AdaHedge's mixability gap, >= 0;
    with delay it adds the drift of the weights over the d updates the trade did not see, and
    may be negative (then the delayed weights did better than the current ones would have).
    The rate needs D nondecreasing and known when the decision is traded: D_j = max(D_{j-1},
    Delta_j), the running maximum of the gap (D = 0 before any update), which also makes
    Delta_T <= D_T, so the bound is at most D_T + D_{T-1-d} <= 2 D_T, AdaHedge's 2 Delta with
    the drift counted in. The tuning eta = ln N / D is AdaHedge's: it balances the two terms.
    This is the construction of AdaHedgeD (Flaspohler, Orabona et al., "Online learning with
    optimism and delay", ICML 2021: FTRL on the simplex with the rate set from the delayed
    feedback's drift), with the drift measured against the mix loss potential rather than a
    be-the-leader point, and no hints.
    """

    def __init__(self, experts: Sequence[str], delay: int = 1) -> None:
        names = _expert_names(experts)
        if delay < 0:
            raise InvalidInputError(f"the delay must be >= 0 updates, got {delay!r}")
        self.experts, self.delay = names, delay
        # the cumulative losses L_j and scales D_j of the last delay + 1 updates, oldest first:
        # the oldest is what the next update's decision was traded with
        zero = [0.0] * len(names)
        self._losses: list[list[float]] = [list(zero) for _ in range(delay + 1)]
        self._scales = [0.0] * (delay + 1)
        self._scored_scale = 0.0  # D of the weights the last scored decision was traded with
        self._gap = 0.0  # Delta: signed
        self._steps = 0

    @property
    def weights(self) -> dict[str, float]:
        """The weights a decision made now is traded with (they sum to 1)."""
        return dict(zip(self.experts, self._weights(-1), strict=True))

    @property
    def learning_rate(self) -> float:
        """eta = ln N / D now; infinite (follow the leaders) while D is 0."""
        return _rate(len(self.experts), self._scales[-1])

    @property
    def regret_bound(self) -> float:
        """Delta_T + ln N / eta_T: the most the traded weights' cumulative Hedge loss exceeds
        the best expert's, so far (class docstring)."""
        return self._gap + self._scored_scale

    @property
    def cumulative_losses(self) -> dict[str, float]:
        """Each expert's summed loss, i.e. minus the log-wealth of its own book."""
        return dict(zip(self.experts, self._losses[-1], strict=True))

    @property
    def n_updates(self) -> int:
        return self._steps

    def update(
        self,
        positions: Mapping[str, float],
        relatives: Mapping[str, float],
        label: str | None = None,
    ) -> ExpertUpdate:
        """Score the decision traded `delay` updates ago (as `ExpertWeights.update`); the
        update's `weights_before` are the weights it was traded with."""
        losses = _losses_of(self.experts, positions, relatives)
        traded = self._weights(0)  # the weights and the rate the decision was traded with
        eta = _rate(len(self.experts), self._scales[0])
        before = self._losses[-1]
        after = [total + loss for total, loss in zip(before, losses, strict=True)]
        hedge_loss = math.fsum(w * loss for w, loss in zip(traded, losses, strict=True))
        self._gap += hedge_loss - (_potential(after, eta) - _potential(before, eta))
        self._scored_scale = self._scales[0]
        self._losses = [*self._losses[1:], after]
        self._scales = [*self._scales[1:], max(self._scales[-1], self._gap)]
        self._steps += 1
        return ExpertUpdate.scored(self, positions, relatives, losses, traded, label=label)

    def _weights(self, index: int) -> list[float]:
        """The AdaHedge weights of the saved update `index` (0: the oldest kept, -1: now)."""
        return _hedge_weights(self._losses[index], _rate(len(self.experts), self._scales[index]))

    def state_dict(self) -> dict[str, object]:
        """JSON values that restore the learner exactly (size fixed by the delay)."""
        return DelayedHedgeState(
            experts=list(self.experts),
            delay=self.delay,
            cumulative_losses=[list(row) for row in self._losses],
            scales=list(self._scales),
            scored_scale=self._scored_scale,
            gap=self._gap,
            steps=self._steps,
        ).model_dump()

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Continue from `state_dict()`; refuses a state of other experts or another delay."""
        saved = DelayedHedgeState.from_mapping(state)
        shape_ok = len(saved.cumulative_losses) == len(saved.scales) == self.delay + 1 and all(
            len(row) == len(self.experts) for row in saved.cumulative_losses
        )
        if tuple(saved.experts) != self.experts or saved.delay != self.delay or not shape_ok:
            raise InvalidInputError(
                f"saved delayed AdaHedge weights are for {tuple(saved.experts)} with delay"
                f" {saved.delay}, this trader has {self.experts} with delay {self.delay}"
            )
        self._losses = [list(row) for row in saved.cumulative_losses]
        self._scales = list(saved.scales)
        self._scored_scale, self._gap, self._steps = saved.scored_scale, saved.gap, saved.steps


def _expert_names(experts: Sequence[str]) -> tuple[str, ...]:
    """`experts` as a tuple, refusing fewer than two or a repeated name."""
    names = tuple(experts)
    if len(names) < 2 or len(set(names)) != len(names):
        raise InvalidInputError(f"experts must be 2 or more distinct names, got {names!r}")
    return names


def _rate(n_experts: int, scale: float) -> float:
    """eta = ln N / D; infinite while D is 0."""
    return math.inf if scale <= 0.0 else math.log(n_experts) / scale


def _hedge_weights(cumulative_loss: Sequence[float], eta: float) -> list[float]:
    """exp(-eta L) normalised; uniform over the leaders when eta is infinite."""
    best = min(cumulative_loss)
    if math.isinf(eta):
        leaders = [1.0 if loss == best else 0.0 for loss in cumulative_loss]
        return [leader / sum(leaders) for leader in leaders]
    scores = [math.exp(-eta * (loss - best)) for loss in cumulative_loss]
    total = sum(scores)
    return [score / total for score in scores]


def _potential(cumulative_loss: Sequence[float], eta: float) -> float:
    """Phi_eta(L) = -(1/eta) ln((1/N) sum_i exp(-eta L_i)); min_i L_i at eta = infinity."""
    best = min(cumulative_loss)
    if math.isinf(eta):
        return best
    mean = math.fsum(math.exp(-eta * (loss - best)) for loss in cumulative_loss) / len(
        cumulative_loss
    )
    return best - math.log(mean) / eta


def _losses_of(
    experts: Sequence[str], positions: Mapping[str, float], relatives: Mapping[str, float]
) -> list[float]:
    """-ln x_i of every expert, refusing a missing expert or a relative that is not > 0."""
    if set(relatives) != set(experts) or set(positions) != set(experts):
        raise InvalidInputError(
            f"an update needs every expert {tuple(experts)}, got {sorted(relatives)}"
        )
    losses = []
    for name in experts:
        relative = float(relatives[name])
        if not relative > 0.0 or not math.isfinite(relative):
            raise InvalidInputError(f"{name}'s gross relative must be > 0, got {relative!r}")
        losses.append(-math.log(relative))
    return losses


THOMPSON_DRAWS = 512
"""Posterior draws per update from which each expert's probability of being the best is read."""


class ThompsonExperts:
    """Thompson-sampling weights over named experts (see the module docstring).

    The reward of an interval is an expert's log relative, ln x_i = -l_i. Its mean has a normal
    posterior: prior N(0, s^2) (one pseudo-observation of 0), s^2 the rewards' pooled variance so
    far, so after n intervals the mean is sum_i / (n + 1) and the variance s^2 / (n + 1). The
    weight of expert i is the share of `THOMPSON_DRAWS` joint draws in which its mean is the
    largest; the draws are seeded by (`seed`, step), so the weights are a function of the state
    and a resumed run draws exactly what an uninterrupted one did.
    """

    def __init__(self, experts: Sequence[str], seed: int = 0) -> None:
        names = _expert_names(experts)
        self.experts, self.seed = names, seed
        self._reward_sum = [0.0] * len(names)
        self._square_sum = 0.0  # of every expert's rewards, for the pooled variance
        self._steps = 0
        self._weights = [1.0 / len(names)] * len(names)

    @property
    def weights(self) -> dict[str, float]:
        return dict(zip(self.experts, self._weights, strict=True))

    @property
    def regret_bound(self) -> None:
        """Thompson sampling carries no worst-case bound on the sequence it is given."""
        return None

    @property
    def cumulative_losses(self) -> dict[str, float]:
        return {name: -total for name, total in zip(self.experts, self._reward_sum, strict=True)}

    @property
    def n_updates(self) -> int:
        return self._steps

    def update(
        self,
        positions: Mapping[str, float],
        relatives: Mapping[str, float],
        label: str | None = None,
    ) -> ExpertUpdate:
        """Add one interval's outcomes (as `ExpertWeights.update`) and redraw the weights."""
        losses = _losses_of(self.experts, positions, relatives)
        rewards = [-loss for loss in losses]
        before = self._weights
        self._reward_sum = [t + r for t, r in zip(self._reward_sum, rewards, strict=True)]
        self._square_sum += sum(r * r for r in rewards)
        self._steps += 1
        self._weights = self._drawn_weights()
        return ExpertUpdate.scored(self, positions, relatives, losses, before, label=label)

    def _drawn_weights(self) -> list[float]:
        observations = self._steps * len(self.experts)
        pooled_mean = sum(self._reward_sum) / observations
        variance = max(self._square_sum / observations - pooled_mean**2, 1e-12)
        means = np.asarray(self._reward_sum) / (self._steps + 1)
        spread = math.sqrt(variance / (self._steps + 1))
        rng = np.random.default_rng((self.seed, self._steps))
        draws = means + spread * rng.standard_normal((THOMPSON_DRAWS, len(self.experts)))
        wins = np.bincount(np.argmax(draws, axis=1), minlength=len(self.experts))
        return [float(w) for w in wins / THOMPSON_DRAWS]

    def state_dict(self) -> dict[str, object]:
        return ThompsonState(
            experts=list(self.experts),
            seed=self.seed,
            reward_sum=list(self._reward_sum),
            square_sum=self._square_sum,
            steps=self._steps,
        ).model_dump()

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        saved = ThompsonState.from_mapping(state)
        if tuple(saved.experts) != self.experts or len(saved.reward_sum) != len(self.experts):
            raise InvalidInputError(
                f"saved Thompson weights are for {tuple(saved.experts)}, this trader has"
                f" {self.experts}"
            )
        self.seed, self._reward_sum = saved.seed, saved.reward_sum
        self._square_sum, self._steps = saved.square_sum, saved.steps
        self._weights = (
            self._drawn_weights() if self._steps else [1.0 / len(self.experts)] * len(self.experts)
        )


class ThompsonState(Value):
    """What `ThompsonExperts.state_dict` saves: the experts, the seed, the reward sums, steps."""

    experts: list[str]
    seed: NonNegativeInt
    reward_sum: list[Finite]
    square_sum: NonNegative
    steps: NonNegativeInt


class ExpertState(Value):
    """What `ExpertWeights.state_dict` saves: the experts, their summed losses, Delta, the steps."""

    experts: list[str]
    cumulative_loss: list[Finite]
    gap: NonNegative
    steps: NonNegativeInt


class DelayedHedgeState(Value):
    """What `DelayedAdaHedge.state_dict` saves: the experts, the delay, the cumulative losses and
    scales D of the last delay + 1 updates (oldest first), the scale the last scored decision was
    traded with, the signed gap Delta, the steps."""

    experts: list[str]
    delay: NonNegativeInt
    cumulative_losses: list[list[Finite]]
    scales: list[NonNegative]
    scored_scale: NonNegative
    gap: Finite
    steps: NonNegativeInt


class ExtraScore(Value):
    """One extra expert's part of a `WeightUpdate`: its position, cost and loss over the interval,
    and its weight before and after the update."""

    position: Position
    cost: NonNegative
    loss: Finite
    weight_before: Annotated[float, Field(ge=0.0, le=1.0)]
    weight_after: Annotated[float, Field(ge=0.0, le=1.0)]


@dataclass(frozen=True)
class WeightUpdate:
    """One scored interval: what each source held, what it earned, and the DRL weight around it.

    bar_return is the asset's return over the interval the positions were held (open to open);
    costs are what moving each source's own book there cost, as a fraction of its equity; a loss
    is minus the log of the book's gross relative 1 + position * bar_return - cost. `extras` holds
    the same for each extra expert (`EXTRA_EXPERTS`) the learner has, by name.
    """

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
    extras: Mapping[str, ExtraScore] = field(default_factory=dict)

    @property
    def llm_weight_before(self) -> float:
        return 1.0 - self.drl_weight_before - sum(e.weight_before for e in self.extras.values())

    @property
    def llm_weight_after(self) -> float:
        return 1.0 - self.drl_weight_after - sum(e.weight_after for e in self.extras.values())


Learner = ExpertWeights | DelayedAdaHedge | ThompsonExperts


def make_learner(name: LearnerName, experts: Sequence[str]) -> Learner:
    """The learner `name` over `experts`, from equal weights: "hedge" AdaHedge, "hedge_delayed"
    AdaHedge with the hybrid's delay (`HYBRID_DELAY`), "thompson" Thompson sampling."""
    if name == "hedge":
        return ExpertWeights(experts)
    if name == "hedge_delayed":
        return DelayedAdaHedge(experts, delay=HYBRID_DELAY)
    if name == "thompson":
        return ThompsonExperts(experts)
    raise InvalidInputError(f"unknown weight learner {name!r}: choose one of {', '.join(LEARNERS)}")


class HedgeWeights:
    """The hybrid's weights: AdaHedge (or, with `learner="hedge_delayed"`, delayed AdaHedge; with
    `learner="thompson"`, Thompson sampling) over the two sources' own books, and over the extra
    experts' (`EXTRA_EXPERTS`) when asked for, from equal weights. Each update records the
    weights before it as the learner reports them: for delayed AdaHedge the weights the scored
    decision was traded with, for the others the weights it held when it scored."""

    def __init__(self, extras: Sequence[str] = (), learner: LearnerName = "hedge") -> None:
        unknown = [name for name in extras if name not in EXTRA_EXPERTS]
        if unknown or len(set(extras)) != len(extras):
            raise InvalidInputError(
                f"extra experts must be distinct names from {EXTRA_EXPERTS}, got {tuple(extras)}"
            )
        self.extras = tuple(extras)
        self.learner = learner
        experts = (*SOURCES, *self.extras)
        self._experts = make_learner(learner, experts)
        self._history: list[WeightUpdate] = []

    @property
    def drl_weight(self) -> float:
        return self._experts.weights["drl"]

    @property
    def llm_weight(self) -> float:
        return self._experts.weights["llm"]

    @property
    def weights(self) -> dict[str, float]:
        """Every expert's weight, by name (they sum to 1)."""
        return self._experts.weights

    @property
    def extra_weights(self) -> dict[str, float]:
        """The weight of each extra expert (empty without extras)."""
        weights = self._experts.weights
        return {name: weights[name] for name in self.extras}

    @property
    def regret_bound(self) -> float | None:
        """The most the Hedge loss can exceed the better source's, so far: 2 * Delta for AdaHedge
        (its weights at scoring time), Delta + ln N / eta for delayed AdaHedge (the weights each
        decision was traded with); None for Thompson sampling, which has no such bound."""
        return self._experts.regret_bound

    @property
    def book_log_wealth(self) -> dict[str, float]:
        """Each source's own book's log-wealth over the scored intervals, as the learner saw it."""
        return {name: -loss for name, loss in self._experts.cumulative_losses.items()}

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
        extra_positions: Mapping[str, float] | None = None,
        extra_costs: Mapping[str, float] | None = None,
    ) -> WeightUpdate:
        """Score every expert's book over one interval and move the weights (see `WeightUpdate`).

        extra_positions / extra_costs: each extra expert's position and cost, by name (all of
        `extras` when the learner has any; a missing cost is 0)."""
        positions = {"drl": drl_position, "llm": llm_position, **(extra_positions or {})}
        costs = {"drl": drl_cost, "llm": llm_cost, **(extra_costs or {})}
        if set(positions) != set(self._experts.experts):
            raise InvalidInputError(
                f"an update needs the positions of {self._experts.experts}, got {sorted(positions)}"
            )
        relatives = {
            name: max(RUINED_RELATIVE, 1.0 + position * bar_return - costs.get(name, 0.0))
            for name, position in positions.items()
        }
        scored = self._experts.update(positions, relatives, label=label)
        weights_before = scored.weights_before  # the weights the decision was traded with
        record = WeightUpdate(
            step=len(self._history) + 1,
            label=label,
            drl_position=drl_position,
            llm_position=llm_position,
            bar_return=bar_return,
            drl_cost=drl_cost,
            llm_cost=llm_cost,
            drl_loss=scored.losses["drl"],
            llm_loss=scored.losses["llm"],
            drl_weight_before=weights_before["drl"],
            drl_weight_after=self.drl_weight,
            extras={
                name: ExtraScore(
                    position=positions[name],
                    cost=costs.get(name, 0.0),
                    loss=scored.losses[name],
                    weight_before=weights_before[name],
                    weight_after=scored.weights_after[name],
                )
                for name in self.extras
            },
        )
        self._history.append(record)
        return record

    def state_dict(self) -> dict[str, object]:
        """The learner's state, JSON-ready: the same size however many updates were made.

        The history is kept apart (the journal holds one row per update) and handed back to
        `load_state_dict`.
        """
        return self._experts.state_dict()

    def load_state_dict(
        self, state: Mapping[str, object], history: Sequence[WeightUpdate] = ()
    ) -> None:
        """Continue from `state` (from `state_dict`) after `history`, the updates made so far."""
        history = list(history)
        for step, update in enumerate(history, start=1):
            if not isinstance(update, WeightUpdate) or update.step != step:
                raise InvalidInputError(
                    f"saved weights history must be WeightUpdates with steps 1..{len(history)}"
                    f" in order; entry {step} is {update!r}"
                )
        self._experts.load_state_dict(state)
        if self._experts.n_updates != len(history):
            raise InvalidInputError(
                f"saved weights made {self._experts.n_updates} updates, the history has"
                f" {len(history)}"
            )
        self._history = history
