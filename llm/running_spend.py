"""Spend since the start of one UTC day and one UTC month, kept as running totals.

The budget is checked before every model call; summing the day's and the month's ledger rows each
time would cost more as the ledger grows (an offline backtest writes four rows per bar), so the
ledger keeps these totals and adds each row it commits. They are exact: amounts are summed as
`Fraction`s (every float is a binary fraction), so the order of the additions (parallel threads,
rows from another process, a restart that re-reads the rows) cannot change the total by even one
rounding, and reading it rounds once.

Times are the ledger's fixed-width UTC text, whose string order is time order, so a row belongs
to a period exactly when the ledger's SQL (`at >= start`) would count it.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

SpendRow = tuple[int, str, float]
"""(row id, time as ledger text, dollars) of one ledger row."""


class RunningSpend:
    """Dollars recorded at or after `day_start` and at or after `month_start`.

    `last_id` is the highest row id counted: ids grow with every committed row, so a row with a
    higher id is one not counted yet. Not thread-safe on its own: the ledger calls it under its
    lock.
    """

    def __init__(
        self,
        day_start: str,
        month_start: str,
        rows: Iterable[SpendRow] = (),
        last_id: int = 0,
    ) -> None:
        """Totals of `rows` (every row of the ledger up to id `last_id` that may count)."""
        self.day_start = day_start
        self.month_start = month_start
        self._day = Fraction(0)
        self._month = Fraction(0)
        for row in rows:
            self._add(row)
        self.last_id = last_id

    def count(self, row: SpendRow) -> bool:
        """Count a row just committed by the ledger's own connection.

        False (nothing counted) when it is not the next row: another connection committed rows
        in between, and the caller must `catch_up` on every row after `last_id` instead.
        """
        row_id = row[0]
        if row_id <= self.last_id:
            return True  # already counted by a catch-up
        if row_id != self.last_id + 1:
            return False
        self._add(row)
        self.last_id = row_id
        return True

    def catch_up(self, rows: Iterable[SpendRow]) -> None:
        """Count the rows of `rows` (ascending ids) not counted yet."""
        for row in rows:
            if row[0] > self.last_id:
                self._add(row)
                self.last_id = row[0]

    def totals(self) -> tuple[float, float]:
        """(dollars today, dollars this month), each rounded once from the exact sum."""
        return float(self._day), float(self._month)

    def _add(self, row: SpendRow) -> None:
        _, at, cost = row
        if cost == 0 or at < self.month_start:
            return
        amount = Fraction(cost)
        self._month += amount
        if at >= self.day_start:
            self._day += amount
