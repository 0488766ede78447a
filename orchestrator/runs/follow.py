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


class FileFeed:
    """Waits for the file at `path` to change, polling every `poll_s` seconds.

    max_idle_s: seconds without a change after which the feed ends (None: it never does; stop the
    run with Ctrl-C). clock / sleep: monotonic seconds and a sleep, replaced in tests.
    """

    @checked_args(ConfigError)
    def __init__(
        self,
        path: Path,
        poll_s: Annotated[float, Field(gt=0.0, le=86_400.0)],
        max_idle_s: Annotated[float, Field(ge=0.0)] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = path
        self.poll_s = poll_s
        self.max_idle_s = max_idle_s
        self._clock = clock
        self._sleep = sleep
        self._seen = self._signature()
        self._changed_at = clock()

    def wait(self) -> bool:
        """Return True once the file changed since the last call and is complete, or False when
        it stayed as it was for `max_idle_s` seconds."""
        while True:
            signature = self._signature()
            if signature != self._seen and self._complete():
                self._seen = signature
                self._changed_at = self._clock()
                return True
            if signature != self._seen:
                self._changed_at = self._clock()  # a row is being written: not idle
            idle = self._clock() - self._changed_at
            if self.max_idle_s is not None and idle >= self.max_idle_s:
                return False
            self._sleep(self.poll_s)

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
