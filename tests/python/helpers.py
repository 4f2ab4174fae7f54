"""Test helpers: the real CLI, warehouse queries, the real exports (skipped when absent)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from scoring.config import PROJECT_ROOT

REAL_DATA = PROJECT_ROOT.parent / "shared" / "data" / "pozytywka"
SKIPCACHE = [sys.executable, "-m", "scoring"]


def real_export(name: str) -> Path:
    path = REAL_DATA / name
    if not (path / "sessions.jsonl").exists():
        pytest.skip(f"real export {path} is absent (it lives in ../shared, present in CI)")
    return path


def run_cli(*args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the real `skipcache` command line in a subprocess."""
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    proc = subprocess.run(
        [*SKIPCACHE, *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"skipcache {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def copy_export(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_truth*"))
    for f in dst.rglob("*"):
        f.chmod(0o644 if f.is_file() else 0o755)
    return dst
