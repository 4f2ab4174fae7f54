"""One place for paths and settings.

Defaults are relative to the project root (never the current directory) and can be overridden
by environment variables (SKIPCACHE_*) and by command-line flags, in that order of precedence:
flag > environment > default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RAW_DIR = PROJECT_ROOT / "data" / "raw" / "demo"
DEFAULT_WAREHOUSE = PROJECT_ROOT / "warehouse" / "skipcache.duckdb"

# dbt must never try the network.
DBT_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


@dataclass(frozen=True)
class Paths:
    """Where one run reads and writes. Everything the job writes lives beside the warehouse."""

    raw_dir: Path
    warehouse: Path

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
    def dbt_target(self) -> Path:
        return self.home / "dbt" / "target"

    @property
    def dbt_logs(self) -> Path:
        return self.home / "dbt" / "logs"


def resolve_paths(raw_dir: str | Path | None = None, warehouse: str | Path | None = None) -> Paths:
    raw = Path(raw_dir) if raw_dir else _env_path("SKIPCACHE_RAW_DIR", DEFAULT_RAW_DIR)
    wh = Path(warehouse) if warehouse else _env_path("SKIPCACHE_WAREHOUSE", DEFAULT_WAREHOUSE)
    return Paths(raw_dir=raw.expanduser().resolve(), warehouse=wh.expanduser().resolve())
