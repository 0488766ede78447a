"""The error types a user can cause in envs, each printed by the CLI as a single line."""

from __future__ import annotations


class MarketDataError(ValueError):
    """A market-data problem a user can cause: a bad file, a bad option, an empty selection.

    The message names where (`source`, `row`) and which rule was broken, e.g.
    ``data/x.csv: row 17: high < low: high=9.5 low=10.0``. `row` is the 1-based data row
    (the first row after a CSV header is row 1), or None when the problem is not one row's.
    """

    def __init__(self, detail: str, *, source: str, rule: str, row: int | None = None) -> None:
        self.source = source
        self.row = row
        self.rule = rule
        self.detail = detail
        where = source if row is None else f"{source}: row {row}"
        super().__init__(f"{where}: {rule}: {detail}" if detail else f"{where}: {rule}")

    def __reduce__(self) -> tuple[object, ...]:
        """Keep the keyword fields when pickled (e.g. across worker processes)."""
        return (_rebuild, (self.detail, self.source, self.rule, self.row))


def _rebuild(detail: str, source: str, rule: str, row: int | None) -> MarketDataError:
    return MarketDataError(detail, source=source, rule=rule, row=row)


class EnvSetupError(ValueError):
    """A setting (`EnvConfig`, `CostModel`, `Splits`) or a market that envs cannot work with.

    The message is one line that names the field and says why (see `envs.validated`).
    """
