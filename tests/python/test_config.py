"""Paths and settings: flag > environment > default, and what each path is for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scoring.config import (
    DEFAULT_RAW_DIR,
    DEFAULT_WAREHOUSE,
    TrainSettings,
    WarehouseMissingError,
    resolve_paths,
)


@pytest.fixture(autouse=True)
def _no_skipcache_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ["SKIPCACHE_RAW_DIR", "SKIPCACHE_WAREHOUSE", "SKIPCACHE_HOLDOUT_DAYS",
                 "SKIPCACHE_RETRAIN_EVERY_DAYS", "SKIPCACHE_SEARCH_THREADS"]:  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def test_paths_default_to_the_project_not_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = resolve_paths()
    assert paths.raw_dir == DEFAULT_RAW_DIR.resolve()
    assert paths.warehouse == DEFAULT_WAREHOUSE
    assert paths.engine == "duckdb"


def test_a_flag_beats_the_environment_which_beats_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("SKIPCACHE_RAW_DIR", str(tmp_path / "env-raw"))
    monkeypatch.setenv("SKIPCACHE_WAREHOUSE", str(tmp_path / "env" / "wh.duckdb"))
    from_env = resolve_paths()
    assert from_env.raw_dir == tmp_path / "env-raw"
    assert from_env.warehouse == tmp_path / "env" / "wh.duckdb"
    from_flags = resolve_paths(tmp_path / "flag-raw", tmp_path / "flag" / "wh.duckdb")
    assert from_flags.raw_dir == tmp_path / "flag-raw"
    assert from_flags.warehouse == tmp_path / "flag" / "wh.duckdb"


def test_everything_the_job_writes_is_beside_the_warehouse(tmp_path):
    paths = resolve_paths(tmp_path / "raw", tmp_path / "wh" / "skipcache.duckdb")
    home = tmp_path / "wh"
    assert paths.home == home
    assert paths.building == home / "skipcache.duckdb.building"
    assert paths.lock == home / "skipcache.duckdb.lock"
    assert paths.metrics == home / "metrics"
    assert paths.served_log == home / "serving" / "requests"
    assert (paths.reports, paths.docs) == (home / "reports", home / "docs")
    assert (paths.dbt_target, paths.dbt_logs) == (home / "dbt" / "target", home / "dbt" / "logs")


def test_the_warehouse_link_is_kept_not_resolved(tmp_path):
    (tmp_path / "generations").mkdir()
    (tmp_path / "generations" / "a.duckdb").touch()
    (tmp_path / "skipcache.duckdb").symlink_to(tmp_path / "generations" / "a.duckdb")
    assert resolve_paths(None, tmp_path / "skipcache.duckdb").warehouse.name == "skipcache.duckdb"


def test_a_missing_warehouse_is_a_clear_error(tmp_path):
    paths = resolve_paths(None, tmp_path / "nothing.duckdb")
    with pytest.raises(WarehouseMissingError, match="no warehouse there; run a build first"):
        paths.require_warehouse()
    (tmp_path / "nothing.duckdb").touch()
    assert paths.require_warehouse() == tmp_path / "nothing.duckdb"


def test_train_settings_from_the_environment_and_overrides(monkeypatch):
    assert TrainSettings.from_env() == TrainSettings()
    monkeypatch.setenv("SKIPCACHE_HOLDOUT_DAYS", "10")
    monkeypatch.setenv("SKIPCACHE_RETRAIN_EVERY_DAYS", "0")
    monkeypatch.setenv("SKIPCACHE_SEARCH_THREADS", "")  # empty: the default
    s = TrainSettings.from_env(train_window_days=30, holdout_days=None)
    assert (s.holdout_days, s.retrain_every_days, s.train_window_days) == (10, 0, 30)
    assert s.search_threads == TrainSettings.search_threads
    assert TrainSettings.from_env(holdout_days=7).holdout_days == 7  # the flag wins


@pytest.mark.parametrize(("value", "expected"), [(None, 0.5), ("", 0.5), ("0.7", 0.7)])
def test_the_threshold_comes_from_skipcache_threshold(value: str | None, expected: float):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])}
    if value is not None:
        env["SKIPCACHE_THRESHOLD"] = value
    out = subprocess.run(
        [sys.executable, "-c", "from scoring.config import DEFAULT_THRESHOLD as t; print(t)"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert float(out.stdout) == expected


@pytest.mark.parametrize("value", ["abc", "1.5", "-0.1", "nan"])
def test_a_bad_threshold_is_one_line_naming_the_variable(value: str):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2]),
           "SKIPCACHE_THRESHOLD": value}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "scoring", "lookup", "--help"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"skipcache: SKIPCACHE_THRESHOLD must be a number in [0, 1], got {value!r}"
    )
