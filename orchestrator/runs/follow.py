"""A data file followed as a live feed: `hybrid-trader paper --follow` waits here for new bars.

Whatever writes the file (a downloader appending a row per bar, a script rewriting it) is watched by
polling its size and modification time, which works on every filesystem and needs no extra
package (watchdog's inotify backend would wake sooner, but a bar is minutes to days apart and a
poll of a second costs nothing). A CSV whose last line is not finished yet (no newline at the
end) is not ready: its half-written row would be read as a bar with wrong numbers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from pydantic import Field

from orchestrator.checks import checked_args
from orchestrator.errors import ConfigError

_TEXT_SUFFIXES = (".csv", ".txt")


class IdlePoller:
    """Paces looks at something that changes: `poll_s` seconds apart, until `max_idle_s` seconds
    pass without news (None: never; stop the run with Ctrl-C). clock / sleep: monotonic seconds
    and a sleep, replaced in tests."""

    @checked_args(ConfigError)
    def __init__(
        self,
        poll_s: Annotated[float, Field(gt=0.0, le=86_400.0)],
        max_idle_s: Annotated[float, Field(ge=0.0)] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.poll_s = poll_s
        self.max_idle_s = max_idle_s
        self._clock = clock
        self._sleep = sleep
        self._news_at = clock()

    def news(self) -> None:
        """Something changed: the idle time starts again."""
        self._news_at = self._clock()

    def next_look(self) -> bool:
        """Sleep until the next look and return True, or return False when idle too long."""
        idle = self._clock() - self._news_at
        if self.max_idle_s is not None and idle >= self.max_idle_s:
            return False
        self._sleep(self.poll_s)
        return True


class FileFeed:
    """Waits for the file at `path` to change, as often and as long as `poller` says."""

    def __init__(self, path: Path, poller: IdlePoller) -> None:
        self.path = path
        self.poller = poller
        self._seen = self._signature()

    @classmethod
    def of(cls, source: str, poller: IdlePoller) -> FileFeed:
        """The feed of `source`, which must be a data file, not a named source."""
        path = Path(source)
        if path.suffix.lower() not in (*_TEXT_SUFFIXES, ".parquet", ".pq") or not path.is_file():
            raise ConfigError(f"--follow needs a CSV or Parquet file that exists, got {source!r}")
        return cls(path, poller)

    def wait(self) -> bool:
        """Return True once the file changed since the last call and is complete, or False when
        it stayed as it was for the poller's idle time."""
        while True:
            signature = self._signature()
            if signature != self._seen:
                self.poller.news()  # a row being written counts: the feed is not idle
                if self._complete():
                    self._seen = signature
                    return True
            if not self.poller.next_look():
                return False

    def _signature(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:  # replaced by a rename: it reappears at the next poll
            return None
        return status.st_size, status.st_mtime_ns

    def _complete(self) -> bool:
        """Whether the file can be read: it exists and a text file ends with a newline."""
        try:
            with self.path.open("rb") as handle:
                if self.path.suffix.lower() not in _TEXT_SUFFIXES:
                    return True
                handle.seek(0, os.SEEK_END)
                if handle.tell() == 0:
                    return False
                handle.seek(-1, os.SEEK_END)
                return handle.read(1) == b"\n"
        except FileNotFoundError:
            return False
