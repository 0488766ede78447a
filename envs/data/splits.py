"""Date-based train / validation / test splits, so that no test bar is ever seen in training.

Two boundary dates define all three splits: train is every bar before `validation_start`,
validation runs up to `test_start`, test is every bar from `test_start` on. The bars given have
already been cut to the user's --start/--end, so the splits live inside that range.

- `sp500` and `nasdaq`: fixed calendar splits, the same for both so that an agent trained on one
  is tested on the other over the same years: train 1999-2012 (14 years, covering the 2000-02
  and 2008-09 bear markets), validation 2013-2014, test 2015-2018 (the 2015-16 drawdown, the 2017
  calm and the 2018 fourth-quarter sell-off).
- every other source: chronological 65% / 15% / 20% of its bars; the last 20% is the test period.
"""

from __future__ import annotations

from typing import Literal, Self

import pandas as pd
from pydantic import model_validator

from envs.data.contract import format_date
from envs.data.sources import ARCH_SOURCES
from envs.errors import EnvSetupError
from envs.validated import validated_dataclass

SplitName = Literal["train", "validation", "test"]
SPLIT_NAMES: tuple[SplitName, ...] = ("train", "validation", "test")

NAMED_VALIDATION_START = pd.Timestamp("2013-01-01")
NAMED_TEST_START = pd.Timestamp("2015-01-01")
TRAIN_FRACTION = 0.65
VALIDATION_FRACTION = 0.15  # the remaining 20% is test


@validated_dataclass(EnvSetupError, arbitrary_types=True)
class Splits:
    """Train = [.., validation_start), validation = [validation_start, test_start), test = rest."""

    validation_start: pd.Timestamp
    test_start: pd.Timestamp
    scheme: str  # how the boundaries were chosen, for manifests and `hybrid-trader data`

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if self.test_start < self.validation_start:
            raise ValueError(
                f"--test-start {format_date(self.test_start)} comes before the validation"
                f" split's start, {format_date(self.validation_start)} (--validation-start)"
            )
        return self

    def bounds(self, index: pd.DatetimeIndex) -> dict[SplitName, slice]:
        """Positional slices of each split in a sorted `index`."""
        validation_at = int(index.searchsorted(self.validation_start))
        test_at = int(index.searchsorted(self.test_start))
        return {
            "train": slice(0, validation_at),
            "validation": slice(validation_at, test_at),
            "test": slice(test_at, len(index)),
        }

    def cut(self, frame: pd.DataFrame, name: SplitName) -> pd.DataFrame:
        """The rows of `frame` (sorted by date) that fall in split `name`."""
        return frame.iloc[self.bounds(frame.index)[name]]


def make_splits(source: str, index: pd.DatetimeIndex) -> Splits:
    """The splits of `source`, whose bars (after --start/--end) are dated by `index`."""
    if source in ARCH_SOURCES:
        return Splits(
            validation_start=NAMED_VALIDATION_START,
            test_start=NAMED_TEST_START,
            scheme="calendar: train to 2012, validation 2013-2014, test 2015-2018",
        )
    return chronological_splits(index)


def chronological_splits(index: pd.DatetimeIndex) -> Splits:
    """65% / 15% / 20% of the bars in `index`, in time order; boundaries are bar dates."""
    n_bars = len(index)
    validation_at = round(n_bars * TRAIN_FRACTION)
    test_at = round(n_bars * (TRAIN_FRACTION + VALIDATION_FRACTION))
    end = index[-1] + pd.Timedelta(days=1)
    return Splits(
        validation_start=index[validation_at] if validation_at < n_bars else end,
        test_start=index[test_at] if test_at < n_bars else end,
        scheme="chronological: 65% train, 15% validation, 20% test",
    )
