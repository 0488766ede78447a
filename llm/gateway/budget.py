"""Daily and monthly LLM budgets, summed from the ledger, with one alert per period.

The router asks for the status before every call: two indexed sums over the period's paid rows
(see `llm.gateway.ledger`), right after a restart or another process's writes.

The alert for a period (a UTC day or month) fires once, when spend first reaches
`alert_threshold` x budget: a logged warning plus the optional callback. The claim is stored in
the ledger's database, so a restarted process does not alert again for the same period.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from llm.gateway.ledger import Ledger, day_start, month_start

logger = logging.getLogger(__name__)


class Period(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class BudgetAlert:
    """Spend in `period` (key like 2026-11-22 or 2026-11) reached `threshold` of `limit_usd`."""

    period: Period
    period_key: str
    spent_usd: float
    limit_usd: float
    threshold: float


@dataclass(frozen=True)
class BudgetStatus:
    """Spend against both budgets at one moment."""

    spent_today_usd: float
    spent_month_usd: float
    daily_limit_usd: float
    monthly_limit_usd: float
    alert_threshold: float

    @property
    def fraction_used(self) -> float:
        """The larger of the two budgets' used fractions (infinite for a $0 budget with spend)."""
        return max(
            _fraction(self.spent_today_usd, self.daily_limit_usd),
            _fraction(self.spent_month_usd, self.monthly_limit_usd),
        )

    @property
    def remaining_usd(self) -> float:
        """Dollars left before either budget is spent (never negative)."""
        return max(
            0.0,
            min(
                self.daily_limit_usd - self.spent_today_usd,
                self.monthly_limit_usd - self.spent_month_usd,
            ),
        )

    @property
    def is_low(self) -> bool:
        """At or past the alert threshold of either budget: time to downgrade."""
        return self.fraction_used >= self.alert_threshold

    @property
    def is_exhausted(self) -> bool:
        """Nothing left in either budget."""
        return self.remaining_usd <= 0.0


def _fraction(spent: float, limit: float) -> float:
    if limit > 0:
        return spent / limit
    return float("inf") if spent > 0 else 1.0


AlertCallback = Callable[[BudgetAlert], None]


def usd(amount: float) -> str:
    """Dollars with the precision they need: cents from $10, four decimals from a cent, six below
    (a call costs a fraction of a cent; a two-decimal $0.00 hides it)."""
    if amount == 0:
        return "$0"
    if abs(amount) >= 10:
        return f"${amount:,.2f}"
    return f"${amount:.4f}" if abs(amount) >= 0.01 else f"${amount:.6f}"


def used_fraction(spent: float, limit: float) -> str:
    """`spent` as a share of `limit` for people: a percentage, or how many times over."""
    if limit <= 0:
        return "no budget" if spent > 0 else "-"
    share = spent / limit
    return f"{share:.1%}" if share < 10 else f"{share:,.0f}x the budget"


class Budget:
    """Budgets in US dollars per UTC day and per UTC month, checked against the ledger."""

    def __init__(
        self,
        ledger: Ledger,
        daily_usd: float,
        monthly_usd: float,
        alert_threshold: float = 0.8,
        on_alert: AlertCallback | None = None,
    ) -> None:
        if daily_usd < 0 or monthly_usd < 0 or not 0 < alert_threshold <= 1:
            raise ValueError("budgets must be >= 0 and the alert threshold in (0, 1]")
        self._ledger = ledger
        self.daily_usd = daily_usd
        self.monthly_usd = monthly_usd
        self.alert_threshold = alert_threshold
        self._on_alert = on_alert

    def status(self) -> BudgetStatus:
        now = self._ledger.now()
        return BudgetStatus(
            spent_today_usd=self._ledger.spend_since(day_start(now)),
            spent_month_usd=self._ledger.spend_since(month_start(now)),
            daily_limit_usd=self.daily_usd,
            monthly_limit_usd=self.monthly_usd,
            alert_threshold=self.alert_threshold,
        )

    def check_alerts(self) -> list[BudgetAlert]:
        """Fire (and return) the alerts newly due; call after each charged call."""
        status = self.status()
        today = day_start(self._ledger.now())
        periods = (
            (Period.DAILY, today.strftime("%Y-%m-%d"), status.spent_today_usd, self.daily_usd),
            (Period.MONTHLY, today.strftime("%Y-%m"), status.spent_month_usd, self.monthly_usd),
        )
        fired = []
        for period, key, spent, limit in periods:
            if spent <= 0 or spent < self.alert_threshold * limit:
                continue
            if not self._ledger.claim_alert(f"{period.value}:{key}"):
                continue
            alert = BudgetAlert(period, key, spent, limit, self.alert_threshold)
            logger.warning(
                "LLM %s budget alert for %s: $%.4f spent of $%.2f (threshold %.0f%%)",
                period.value,
                key,
                spent,
                limit,
                100 * self.alert_threshold,
            )
            if self._on_alert is not None:
                self._on_alert(alert)
            fired.append(alert)
        return fired
