"""One writer per journal: an exclusive `flock` on `<journal>.lock`, held while a run writes.

Why `fcntl.flock` on a side file:
- the kernel drops the lock when its holder dies, even by SIGKILL, so a crashed run can always be
  resumed; a lock file that only marks "in use" (or filelock's soft-lock fallback) would go stale;
- flock locks belong to an open file, so a second open in the same process is refused too;
- it never touches the journal itself: SQLite's own POSIX locks on the database are released when
  any descriptor of that file is closed, so locking the journal file directly could break them.
The side file stays after release (unlinking a lock file lets two waiters lock different inodes).
The holder's pid is written into it, only to name the holder in the error message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from orchestrator.journal_errors import JournalError, JournalLockedError


def lock_path_for(journal: Path) -> Path:
    return journal.with_name(journal.name + ".lock")


class JournalLock:
    """An acquired lock; `release` (or leaving the `with` block) gives it back."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor: int | None = descriptor

    @classmethod
    def acquire(cls, journal: Path) -> JournalLock:
        """Take the lock of `journal` now, or raise `JournalLockedError` naming the holder."""
        path = lock_path_for(journal)
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(f"cannot create the lock file {path}: {exc.strerror}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(descriptor)
            os.close(descriptor)
            raise JournalLockedError(
                f"journal {journal} is in use by another run{holder}; wait for it to finish, or"
                " give this run another --journal file"
            ) from None
        except OSError as exc:
            os.close(descriptor)
            raise JournalError(f"cannot lock {path}: {exc.strerror}") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        return cls(path, descriptor)

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def release(self) -> None:
        """Give the lock back; releasing twice is harmless."""
        if self._descriptor is not None:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self) -> JournalLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(descriptor: int) -> str:
    text = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
    return f" (process {text})" if text.isdigit() else ""
