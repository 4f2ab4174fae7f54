"""What a night reads, as one fingerprint: a night whose inputs equal the last one's has nothing
to build.

The inputs of a night are:
- every raw file of the export and every served-answer log, by the signature the landing itself
  compares (name, size, modification time: ``RawFile.signature``), so a file the landing would
  take in again changes the fingerprint;
- the dbt project (its YAML files and every file under its model, macro, seed, test and
  analysis folders) and the ``scoring`` package's code, by content: a changed model or job is a
  changed night (what dbt's ``state:modified`` sees, and the job's Python beside it);
- the versions of the packages that compute (DuckDB, dbt, scikit-learn, pyspark);
- the settings of training and decisions, the engine and the nights asked for.

The last successful night records its fingerprint in the warehouse it commits
(``ml.night_inputs``, written in the standby generation, so it goes live with the tables it
describes). Reading the fingerprint costs file listings and hashing the code (milliseconds);
no raw file is read.

Beside it the night records the fingerprint of what the catalogue models read (the models
tagged ``catalogue``: tracks, users, artists, track storage): the catalogue files, the code,
the packages, the engine, the database name and the raw folder, as they were before its
build and still are after it (settled_catalogue). A warehouse file whose record holds the
catalogue fingerprint of tonight has catalogue tables equal to what tonight would build, so
the night leaves them as they are (selector ``catalogue_unchanged``, selectors.yml).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from importlib import metadata
from pathlib import Path

import duckdb

from scoring.config import PROJECT_ROOT, Paths
from scoring.errors import RawInputError
from scoring.ingest.rawfiles import SINGLE_FILES, discover, discover_served_logs

#: The dbt project's files and folders, and the job's code, relative to the project root.
PROJECT_FILES = (
    "dbt_project.yml",
    "profiles.yml",
    "selectors.yml",
    "packages.yml",
    "dependencies.yml",
)
PROJECT_FOLDERS = ("models_sql", "macros", "seeds", "tests/dbt", "analyses", "scoring")
#: Packages whose version can change what a night computes.
PACKAGES = (
    "duckdb",
    "dbt-core",
    "dbt-adapters",  # the materializations' macros
    "dbt-common",
    "dbt-duckdb",
    "scikit-learn",
    "numpy",
    "pyspark",
    "dbt-spark",
)
#: The table of the last night's fingerprint, in the warehouse that night committed.
TABLE = "ml.night_inputs"


def code_digest(root: Path = PROJECT_ROOT) -> str:
    """sha1 over the dbt project's files and the scoring package's code, path and content."""
    h = hashlib.sha1()
    paths = [root / name for name in PROJECT_FILES if (root / name).is_file()]
    for folder in PROJECT_FOLDERS:
        paths += sorted(
            p
            for p in (root / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
    for p in paths:
        h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


#: The entities whose files only the models tagged ``catalogue`` read (every one but sessions).
CATALOGUE_ENTITIES = tuple(SINGLE_FILES)


def catalogue_signatures(paths: Paths) -> dict[str, str]:
    """The catalogue files of the export by the landing's signature (``RawFile.signature``)."""
    return {
        f.source_file: f.signature()
        for f in discover(paths.raw_dir)
        if f.entity in CATALOGUE_ENTITIES
    }


def catalogue_fingerprint(paths: Paths, signatures: dict[str, str] | None = None) -> str:
    """The fingerprint of what the catalogue models read: the catalogue files' ``signatures``
    (read now when not given), the raw folder, the engine, the database name, the code and the
    packages (not the session drops, the served logs, the settings or the nights asked for,
    which none of them reads)."""
    if signatures is None:
        signatures = catalogue_signatures(paths)
    return _sha1(_described(paths, signatures))


def settled_catalogue(
    paths: Paths, signatures: dict[str, str], catalogue: str, kept: bool
) -> str | None:
    """The catalogue fingerprint a night records once its build is done: ``catalogue``, taken
    from ``signatures`` before the build, when no catalogue file changed since; else None, so
    that the next night builds the catalogue. A night that ``kept`` the catalogue as built
    cannot commit then: its landing may have taken the new lines while the parsers were left
    out (RawInputError, naming the files)."""
    moved = sorted(
        name for name, sig in catalogue_signatures(paths).items() if signatures.get(name) != sig
    )
    if not moved:
        return catalogue
    if kept:
        raise RawInputError(
            f"{', '.join(moved)} in {paths.raw_dir}: changed while the night ran with the "
            "catalogue kept as built; nothing was committed, and the next night builds the "
            "catalogue"
        )
    return None


def fingerprint(paths: Paths, nights: list[date], settings: object, decisions: object) -> str:
    """The fingerprint of everything a night of ``paths`` would read (see the module's doc)."""
    files = discover(paths.raw_dir) + discover_served_logs(paths.served_log)
    return _sha1(
        _described(paths, {f.source_file: f.signature() for f in files})
        | {
            "train": asdict(settings),  # type: ignore[call-overload]
            "decide": asdict(decisions),  # type: ignore[call-overload]
            "nights": [d.isoformat() for d in nights],
        }
    )


def _described(paths: Paths, signatures: dict[str, str]) -> dict:
    """What every fingerprint covers: the engine, the raw folder, the files by their
    ``signatures``, the code, the packages, and the database name that dbt-duckdb takes from
    the warehouse file's name (views name their tables with it)."""
    return {
        "engine": paths.engine,
        "raw_dir": str(paths.raw_dir.resolve()),
        "database": paths.warehouse.name.split(".")[0],
        "files": sorted(signatures.items()),
        "code": code_digest(),
        "packages": {p: _version(p) for p in PACKAGES},
    }


def _sha1(described: dict) -> str:
    return hashlib.sha1(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class NightInputs:
    """The last committed night: its run, decision date, policy, model and input fingerprints
    (all its inputs, and the catalogue's: None in a record written before it was kept)."""

    run_id: str
    decision_date: date
    decision_policy: str
    model_version: str
    fingerprint: str
    recorded_at: datetime
    catalogue_fingerprint: str | None = None


def record(con: duckdb.DuckDBPyConnection, night: NightInputs) -> None:
    """Write ``night`` as the warehouse's last night (one row, replaced each night)."""
    con.execute("create schema if not exists ml")
    con.execute(
        f"create or replace table {TABLE} (run_id string, decision_date date, "
        "decision_policy string, model_version string, fingerprint string, "
        "recorded_at timestamp, catalogue_fingerprint string)"
    )
    values = list(asdict(night).values())
    con.execute(f"insert into {TABLE} values ({', '.join('?' * len(values))})", values)


def forget(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the record of the last night: the warehouse is being written by something else
    (a build, a replay, a training), so the next night must run whatever its inputs."""
    con.execute(f"drop table if exists {TABLE}")


def last_night(warehouse: Path) -> NightInputs | None:
    """The last night recorded in the live warehouse, or None (no warehouse, none recorded)."""
    if not warehouse.exists():
        return None
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return recorded(con)
    finally:
        con.close()


def recorded(con: duckdb.DuckDBPyConnection) -> NightInputs | None:
    """The night recorded in the warehouse file of ``con``, or None. A record written before
    the catalogue fingerprint was kept reads with none."""
    found = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'ml' and table_name = 'night_inputs'"
    ).fetchall()
    columns = {name for (name,) in found}
    if not columns:
        return None
    wanted = [f.name for f in fields(NightInputs)]
    select = ", ".join(name if name in columns else f"null as {name}" for name in wanted)
    rows = con.execute(f"select {select} from {TABLE}").fetchall()
    return NightInputs(*rows[0]) if rows else None
