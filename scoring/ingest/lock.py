"""One writer per warehouse: an exclusive advisory lock beside the DuckDB file."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scoring.errors import WarehouseBusyError


@contextmanager
def writer_lock(lock_path: Path) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block, or fail at once with a clear message.

    The lock is released by the kernel when the process dies, even by kill -9.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise WarehouseBusyError(
                f"{lock_path.with_suffix('')}: another skipcache run (pid {holder}) is writing "
                "this warehouse; wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
