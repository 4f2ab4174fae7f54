"""Shared fixtures: small generated exports and warehouses built from them by the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_cli

from scoring.generate import GenerateOptions, generate


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
