"""One place for paths and settings.

Defaults are relative to the project root (never the current directory) and can be overridden
by environment variables (SKIPCACHE_*) and by command-line flags, in that order of precedence:
flag > environment > default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scoring.errors import WarehouseMissingError

if TYPE_CHECKING:
    import duckdb

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RAW_DIR = PROJECT_ROOT / "data" / "raw" / "demo"
DEFAULT_WAREHOUSE = PROJECT_ROOT / "warehouse" / "skipcache.duckdb"


def is_threshold(value: float) -> bool:
    """A threshold is a probability: within [0, 1] (NaN is not). Checked for the environment
    here and for --threshold in policy.DecisionSettings."""
    return 0.0 <= value <= 1.0


def _threshold_from_env() -> float:
    """SKIPCACHE_THRESHOLD, or 0.5; a value that is not a number in [0, 1] stops the program
    with one line naming the variable (it is read at import, before any command runs)."""
    text = os.environ.get("SKIPCACHE_THRESHOLD") or "0.5"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not is_threshold(value):
        raise SystemExit(f"skipcache: SKIPCACHE_THRESHOLD must be a number in [0, 1], got {text!r}")
    return value


# Cache when p_play >= this (scoring/decide/policy.py explains the cost model behind 0.5); the
# nightly job's --threshold overrides it, and the snapshot carries the night's value to the service.
DEFAULT_THRESHOLD = _threshold_from_env()

# dbt must never try the network.
DBT_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}

#: DuckDB's memory_limit for dbt (profiles.yml reads the same variable, with the same default)
#: and for the job's own connections (limit_memory): beyond it DuckDB spills to disk.
DUCKDB_MEMORY_DEFAULT = "5GB"


def limit_memory(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Give the job's DuckDB connection dbt's memory_limit (SKIPCACHE_DUCKDB_MEMORY): without it
    DuckDB takes 80% of the machine, and scoring ten times the v2 preset reached 6 GB."""
    limit = os.environ.get("SKIPCACHE_DUCKDB_MEMORY", DUCKDB_MEMORY_DEFAULT)
    con.execute(f"set memory_limit = '{limit}'")
    return con


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


@dataclass(frozen=True)
class Paths:
    """Where one run reads and writes. Everything the job writes lives beside the warehouse."""

    raw_dir: Path
    warehouse: Path
    #: where dbt builds and the job computes: "duckdb" (the warehouse file) or "spark"
    #: (Spark's Parquet tables in spark/ beside it; scoring.ingest.spark)
    engine: str = "duckdb"

    def require_warehouse(self) -> Path:
        """The warehouse file, for a command that only reads it; a clear error when absent."""
        if not self.warehouse.exists():
            raise WarehouseMissingError(f"{self.warehouse}: no warehouse there; run a build first")
        return self.warehouse

    @property
    def home(self) -> Path:
        return self.warehouse.parent

    @property
    def building(self) -> Path:
        """The copy a build writes to; it replaces the warehouse only when the build succeeds."""
        return self.warehouse.with_name(self.warehouse.name + ".building")

    @property
    def lock(self) -> Path:
        return self.warehouse.with_name(self.warehouse.name + ".lock")

    @property
    def metrics(self) -> Path:
        """node_exporter textfile-collector folder: skipcache.prom."""
        return self.home / "metrics"

    @property
    def served_log(self) -> Path:
        """The cache service's served-answer log: one ``<UTC date>.jsonl`` per day."""
        return self.home / "serving" / "requests"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def docs(self) -> Path:
        return self.home / "docs"

    @property
    def dbt_target(self) -> Path:
        return self.home / "dbt" / "target"

    @property
    def dbt_logs(self) -> Path:
        return self.home / "dbt" / "logs"


def resolve_paths(
    raw_dir: str | Path | None = None,
    warehouse: str | Path | None = None,
    engine: str = "duckdb",
) -> Paths:
    raw = Path(raw_dir) if raw_dir else _env_path("SKIPCACHE_RAW_DIR", DEFAULT_RAW_DIR)
    wh = Path(warehouse) if warehouse else _env_path("SKIPCACHE_WAREHOUSE", DEFAULT_WAREHOUSE)
    # the warehouse's own name is kept, not resolved: it is a link to the live generation
    wh = wh.expanduser()
    warehouse = wh.parent.resolve() / wh.name
    return Paths(raw_dir=raw.expanduser().resolve(), warehouse=warehouse, engine=engine)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass(frozen=True)
class TrainSettings:
    """How `skipcache train` splits time and searches the model (env: SKIPCACHE_<NAME>)."""

    holdout_days: int = 14  # the last days before D: never seen in training or calibration
    calibration_days: int = 14  # the days before the hold-out: fit the sigmoid on these
    validation_days: int = 14  # the days before calibration: choose C and class weights
    train_window_days: int = 365  # the sliding window of training data before calibration
    # the most recent rows of the window when it holds more. On the v2 preset (hold-out AUC,
    # seconds of `train`): 400,000 rows 0.7864, 20.2-21.2 s; 200,000 0.7863, 12.6 s; 100,000
    # 0.7862, 5.1 s (docs/features-and-model.md, "How many training rows")
    max_train_rows: int = 200_000
    # listens kept of each of the calibration and hold-out windows (a fixed sample by listen_id
    # hash when a window holds more: 1.1 M each at ten times the v2 preset, 112 k at v2)
    max_window_rows: int = 400_000
    max_search_rows: int = 100_000  # rows each candidate of the C / class-weight search fits on
    c_grid: tuple[float, ...] = (0.003, 0.03, 0.3)
    class_weights: tuple[str | None, ...] = (None, "balanced")
    # candidates of the search fitted at once, in threads (liblinear releases the GIL): the
    # search took 11 of the 25 s of training on the v2 preset one fit after another
    search_threads: int = 2
    bootstrap_resamples: int = 400
    seed: int = 0
    # nightly: a model trained for one of the last N nights is reused (0: train every night)
    retrain_every_days: int = 7

    @classmethod
    def from_env(cls, **overrides: int | None) -> TrainSettings:
        names = [
            "holdout_days",
            "calibration_days",
            "validation_days",
            "train_window_days",
            "retrain_every_days",
            "search_threads",
        ]
        values = {n: _env_int(f"SKIPCACHE_{n.upper()}", getattr(cls, n)) for n in names}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
