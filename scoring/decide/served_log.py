"""The served-answer log: every answer the service gives, one JSON line, off the request path.

Handlers append ready-made lines to an in-memory buffer (a list append, no I/O); a writer thread
flushes the buffer every `interval` seconds (and at shutdown) to
`serving/requests/<UTC date>.jsonl` beside the warehouse, one `os.write` per file and flush on
a descriptor opened with O_APPEND, so the lines of several workers never interleave. A kill -9
loses at most the last interval. A torn last line (a writer killed mid-write, a full disk) is
left for the landing to quarantine; the next writer starts on a fresh line, so it never glues a
good line to a torn one. A failed write is counted and logged, never raised into a request.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("skipcache.served_log")


class ServedLog:
    def __init__(
        self,
        folder: Path,
        interval: float = 0.5,
        on_failure: Callable[[int], None] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.interval = interval
        self.on_failure = on_failure or (lambda lines: None)
        self._buffer: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fds: dict[str, int] = {}

    def append(self, day: str, line: bytes) -> None:
        """Queue lines (bytes, each line ending in a newline) for the file of UTC date `day`."""
        with self._lock:  # flush swaps the buffer under the same lock
            self._buffer.append((day, line))

    def start(self) -> ServedLog:
        self._thread = threading.Thread(target=self._run, name="served-log", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()
        self.flush()

    def close(self) -> None:
        """Flush what is buffered and stop the writer thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def _fd(self, day: str) -> int:
        fd = self._fds.get(day)
        if fd is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{day}.jsonl"
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            size = os.fstat(fd).st_size
            if size:  # a torn last line stays torn (quarantined), but never absorbs ours
                with open(path, "rb") as f:
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        os.write(fd, b"\n")
            for old in [d for d in self._fds if d < day]:  # yesterday's file is done
                os.close(self._fds.pop(old))
            self._fds[day] = fd
        return fd

    def flush(self) -> None:
        with self._flushing:  # the writer thread and close() may both flush, in turn
            with self._lock:
                self._buffer, pending = [], self._buffer
            if not pending:
                return
            by_day: dict[str, list[bytes]] = {}
            for day, line in pending:
                by_day.setdefault(day, []).append(line)
            for day, lines in by_day.items():
                try:
                    data = b"".join(lines)
                    fd = self._fd(day)
                    written = os.write(fd, data)
                    if written != len(data):
                        raise OSError(f"short write: {written} of {len(data)} bytes")
                except OSError as exc:
                    fd = self._fds.pop(day, None)
                    if fd is not None:  # reopened (and its last line checked) next time
                        os.close(fd)
                    lost = sum(chunk.count(b"\n") for chunk in lines)
                    log.error("served-answer log %s: %s (%d lines lost)", day, exc, lost)
                    self.on_failure(lost)


_second: list = [None, "", ""]  # the last second formatted: (second, its text, its date)


def utc_now() -> tuple[str, str]:
    """(served_at as ISO UTC with Z, the UTC date that names the log file); the date and time
    of the second are formatted once a second."""
    now = time.time()
    second = int(now)
    if second != _second[0]:
        moment = time.gmtime(second)
        _second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", moment),
                      time.strftime("%Y-%m-%d", moment)]  # fmt: skip
    return f"{_second[1]}.{int((now - second) * 1e6):06d}Z", _second[2]
