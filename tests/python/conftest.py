"""Shared fixtures: small generated exports and warehouses built from them by the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPLAYED_NIGHTS, run_cli

from scoring.ingest.generate import GenerateOptions, generate

HERE = Path(__file__).parent

#: Test files that take minutes, the longest first (paths under tests/python). `make test` hands
#: whole files to two pytest-xdist workers in collection order (`--dist loadfile
#: --no-loadscope-reorder`; by default xdist orders files by how many tests they hold, which
#: left the Spark equality file, four tests and 9-11 minutes, to start last, alone). First,
#: they run beside the short files instead of after them.
LONG_FILES = (
    "sql/test_spark_parity.py",
    "sql/test_listens_features.py",
    "ingest/test_generations.py",
    "ops/test_nightly.py",
    "ops/test_bench.py",
    "ingest/test_build.py",
    "ops/test_bench_serve.py",
    "decide/test_service.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = [f for f in LONG_FILES if not (HERE / f).is_file()]
    if missing:
        raise pytest.UsageError(f"conftest.LONG_FILES names files that do not exist: {missing}")

    def rank(item: pytest.Item) -> int:
        path = item.path.relative_to(HERE).as_posix() if item.path.is_relative_to(HERE) else ""
        return LONG_FILES.index(path) if path in LONG_FILES else len(LONG_FILES)

    items.sort(key=rank)  # stable: the other files keep their order, and so do tests in a file


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
