"""The writer lock (scoring/ingest/lock.py): one writer per warehouse, released on exit or death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scoring.errors import WarehouseBusyError
from scoring.ingest.lock import writer_lock


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path):
    lock = tmp_path / "wh" / "skipcache.duckdb.lock"
    with writer_lock(lock):
        assert lock.read_text() == str(os.getpid())
        busy = pytest.raises(WarehouseBusyError, match=rf"pid {os.getpid()}\) is writing")
        with busy, writer_lock(lock):
            pass
    with writer_lock(lock):  # released at the end of the block
        pass


def test_the_lock_is_released_when_the_block_raises(tmp_path: Path):
    lock = tmp_path / "skipcache.duckdb.lock"
    with pytest.raises(RuntimeError), writer_lock(lock):
        raise RuntimeError("a failed night")
    with writer_lock(lock):
        pass


def test_a_killed_holder_releases_the_lock(tmp_path: Path):
    lock = tmp_path / "skipcache.duckdb.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from scoring.ingest.lock import writer_lock\n"
         f"with writer_lock(Path({str(lock)!r})):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusyError, match=str(holder.pid)), writer_lock(lock):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    deadline = time.monotonic() + 5
    while True:
        try:
            with writer_lock(lock):
                break
        except WarehouseBusyError:
            assert time.monotonic() < deadline, "the kernel did not release the lock"
            time.sleep(0.05)
