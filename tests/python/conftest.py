"""Shared fixtures: small generated exports and warehouses built from them by the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPLAYED_NIGHTS, run_cli

from scoring.ingest.generate import GenerateOptions, generate


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "raw"
    generate(out, GenerateOptions(preset="tiny", seed=3))
    return out


@pytest.fixture(scope="session")
def tiny_warehouse(tiny_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    wh = tmp_path_factory.mktemp("wh-tiny") / "skipcache.duckdb"
    run_cli("build", "--raw-dir", str(tiny_export), "--warehouse", str(wh), "--quiet")
    return wh


@pytest.fixture(scope="session")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny export and a warehouse after one real night (decisions and snapshot published)."""
    from scoring.config import TrainSettings, resolve_paths
    from scoring.ops.nightly import run_night

    raw = tmp_path_factory.mktemp("night") / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=3))
    wh = raw.parent / "wh" / "skipcache.duckdb"
    run_night(resolve_paths(raw, wh), TrainSettings(), None, quiet=True)
    return raw, wh


@pytest.fixture(scope="session")
def demo_night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo export (600 users, 12,000 tracks) after one real night."""
    from scoring.config import TrainSettings, resolve_paths
    from scoring.ops.nightly import run_night

    raw = tmp_path_factory.mktemp("demo-night") / "raw"
    generate(raw, GenerateOptions(preset="demo", seed=7))
    wh = raw.parent / "wh" / "skipcache.duckdb"
    run_night(resolve_paths(raw, wh), TrainSettings(), None, quiet=True)
    return raw, wh


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Eight nights replayed on a tiny export (their listens are in it: outcomes exist)."""
    from datetime import date

    from scoring.config import TrainSettings, resolve_paths
    from scoring.ops.nightly import backfill

    raw = tmp_path_factory.mktemp("outcomes") / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=5))
    wh = raw.parent / "wh" / "skipcache.duckdb"
    start, end = (date.fromisoformat(n) for n in REPLAYED_NIGHTS)
    backfill(resolve_paths(raw, wh), TrainSettings(), start, end, quiet=True)
    return raw, wh


@pytest.fixture(scope="session")
def report(replayed) -> Path:
    """`skipcache report` on the replayed warehouse: reports/<last night>/."""
    _, wh = replayed
    proc = run_cli("report", "--warehouse", str(wh))
    out = wh.parent / "reports" / REPLAYED_NIGHTS[1]
    assert str(out) in proc.stdout
    return out
