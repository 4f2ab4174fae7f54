"""All-or-nothing nights without copying the warehouse: two generations of the DuckDB file.

The warehouse path (``skipcache.duckdb``) is a symbolic link to one of two files beside it,
``skipcache.duckdb.gen-a`` and ``skipcache.duckdb.gen-b``: the *live* one, which analysts and
every reader open (read-only, as many as they like), and the *standby*, the state of the night
before, which only the nightly job opens. A night:

1. marks the standby as being written (``<standby>.writing``), then brings its job tables
   (``decisions.*``, ``ml.*``) level with the live file's, copying only the nights and model
   versions that differ (one night's rows, in one transaction);
2. runs the incremental dbt build on the standby: dbt's incremental models catch up from the
   state they hold, so the standby's models take in the last two nights' data (the tables equal
   a full build's, as every incremental build's do; only load-time metadata, ``loaded_at``,
   records when the standby computed them);
3. trains when due, scores and writes the night's decisions on the standby;
4. commits: the standby is closed cleanly (no WAL), then the link is replaced by one pointing at
   it, by an atomic ``rename``. The old live file becomes the standby of the next night.

Guarantees:
- Readers never see a half-written night: they open the live file, which no night writes; a
  reader that opened it before a commit keeps reading the night it opened.
- A failed night removes the standby it was writing (and its WAL and marker): nothing of it is
  left, the live file and the link are untouched. A killed night leaves its marker, so the next
  night throws that standby away. In both cases the next night starts its standby as a full copy
  of the live file (what every night cost before), then goes on as usual.
- The standby is copied afresh too when a reader still holds it open (a session opened two
  nights ago: DuckDB admits one writer or many readers of a file, never both) or when it lacks a
  job table.
- One writer: the caller holds the warehouse's writer lock (scoring.ingest.lock) throughout.

A plain warehouse file (an older layout, or one written by ``skipcache build``'s copy) is
adopted without a copy: a hard link makes it ``gen-a`` and a symbolic link replaces its name.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from scoring.config import Paths

GENERATIONS = ("gen-a", "gen-b")

#: The job's own tables (written by Python, not by dbt), per schema: the key that a night or a
#: training writes whole, and a stamp that changes when it is written again.
JOB_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "decisions": (
        "decision_date",
        {
            "cache_decisions": "max(decided_at)",
            "track_default_decisions": "max(decided_at)",
            "user_arms": "max(decided_at)",
        },
    ),
    "ml": (
        "model_version",
        {
            "model_registry": "max(trained_at)",
            "holdout_predictions": "null",
            "model_weights": "null",
            "model_calibration": "null",
        },
    ),
}

#: Tables a night writes whole (or drops) in its standby before it commits, so never carried
#: over: the record of the night's inputs (scoring.ingest.inputs).
NIGHT_RECORDS: dict[str, set[str]] = {"ml": {"night_inputs"}}


def generation(paths: Paths, name: str) -> Path:
    return paths.warehouse.with_name(f"{paths.warehouse.name}.{name}")


def marker(db: Path) -> Path:
    """Present while ``db`` is being written: the file is then not a committed state."""
    return db.with_name(db.name + ".writing")


def wal(db: Path) -> Path:
    return db.with_name(db.name + ".wal")


def live(paths: Paths) -> Path | None:
    """The live generation the warehouse link points at (None: no link)."""
    if not paths.warehouse.is_symlink():
        return None
    return paths.warehouse.with_name(Path(os.readlink(paths.warehouse)).name)


def other(paths: Paths, gen: Path) -> Path:
    a, b = (generation(paths, g) for g in GENERATIONS)
    return b if gen == a else a


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def point_at(paths: Paths, gen: Path) -> None:
    """Make ``gen`` the live generation: one atomic rename of a new link over the old name."""
    tmp = paths.warehouse.with_name(paths.warehouse.name + ".link")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(gen.name)
    tmp.replace(paths.warehouse)
    _fsync_dir(paths.home)


def _adopt(paths: Paths) -> Path:
    """A plain warehouse file becomes generation a, without a copy (a hard link)."""
    gen = generation(paths, GENERATIONS[0])
    discard(gen)
    os.link(paths.warehouse, gen)
    point_at(paths, gen)
    return gen


def discard(db: Path) -> None:
    """Remove a generation that is not a committed state, with its WAL and marker."""
    for stale in (db, wal(db), db.with_name(db.name + ".copying"), marker(db)):
        stale.unlink(missing_ok=True)


def _copy(source: Path, target: Path) -> None:
    """``target`` as a full copy of ``source``, through a temporary name."""
    tmp = target.with_name(target.name + ".copying")
    try:
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _changed_keys(con: duckdb.DuckDBPyConnection, schema: str) -> list | None:
    """The keys (nights or model versions) whose rows differ between live and standby in any
    job table of ``schema``; None when a table is missing on either side."""
    key, tables = JOB_TABLES[schema]
    present = {
        (db, t)
        for db, t in con.execute(
            "select database_name, table_name from duckdb_tables() where schema_name = ?",
            [schema],
        ).fetchall()
    }
    standby_db = con.execute("select current_database()").fetchall()[0][0]
    live_tables = {t for db, t in present if db == "live"} - NIGHT_RECORDS.get(schema, set())
    if not live_tables:
        return []  # nothing of this schema in the live file yet
    if live_tables - set(tables) or any((standby_db, t) not in present for t in live_tables):
        return None
    changed: set = set()
    for table in sorted(live_tables):
        stamp = tables[table]
        rows = con.execute(
            f"""
            with l as (select {key} as k, count(*) as n, {stamp} as s
                       from live.{schema}.{table} group by 1),
                 s as (select {key} as k, count(*) as n, {stamp} as s
                       from {schema}.{table} group by 1)
            select coalesce(l.k, s.k) from l full outer join s on l.k = s.k
            where l.n is distinct from s.n or l.s is distinct from s.s
            """
        ).fetchall()
        changed.update(r[0] for r in rows)
    return sorted(changed)


def sync_job_tables(standby: Path, live_db: Path) -> bool:
    """Bring the standby's job tables level with the live file's, in one transaction, copying
    only the nights and model versions that differ. False when it cannot (a reader holds the
    standby, or a table is missing): the caller then copies the whole file."""
    try:
        con = duckdb.connect(str(standby))
    except duckdb.IOException:  # a reader still holds this file open
        return False
    try:
        con.execute(f"attach '{live_db}' as live (read_only)")
        plan = {}
        for schema in JOB_TABLES:
            keys = _changed_keys(con, schema)
            if keys is None:
                return False
            plan[schema] = keys
        con.execute("begin")
        for schema, keys in plan.items():
            if not keys:
                continue
            key, tables = JOB_TABLES[schema]
            con.execute("create or replace temp table sync_keys as select unnest(?) as k", [keys])
            for table in tables:
                target = f"{schema}.{table}"
                con.execute(f"delete from {target} where {key} in (select k from sync_keys)")
                con.execute(
                    f"insert into {target} by name select * from live.{target} "
                    f"where {key} in (select k from sync_keys)"
                )
        con.execute("commit")
        con.execute("detach live")
    finally:
        con.close()
    return True


def prepare(paths: Paths) -> tuple[Path, Path | None]:
    """The generation to write tonight (marked as being written) and the live one (None on a
    first build). The standby is reused when it is a committed state nobody holds open."""
    paths.home.mkdir(parents=True, exist_ok=True)
    current = live(paths)
    if current is None and paths.warehouse.exists():
        current = _adopt(paths)
    if current is None:  # a first build: dbt creates the file
        standby = generation(paths, GENERATIONS[0])
        discard(standby)
        marker(standby).touch()
        return standby, None
    marker(current).unlink(missing_ok=True)  # a commit killed before it removed it
    standby = other(paths, current)
    reusable = standby.exists() and not marker(standby).exists() and not wal(standby).exists()
    marker(standby).touch()
    _fsync_dir(paths.home)
    try:
        if not (reusable and sync_job_tables(standby, current)):
            for stale in (standby, wal(standby)):
                stale.unlink(missing_ok=True)
            _copy(current, standby)
    except BaseException:
        discard(standby)
        raise
    return standby, current


def commit(paths: Paths, standby: Path) -> None:
    """The written standby becomes the live generation."""
    if wal(standby).exists():  # a clean close leaves none; make it so before it goes live
        duckdb.connect(str(standby)).close()
    fd = os.open(standby, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    point_at(paths, standby)
    marker(standby).unlink(missing_ok=True)


def publish_file(paths: Paths, built: Path) -> None:
    """Make a finished file (a full build's copy) the warehouse: it replaces the standby
    generation, which then goes live; a warehouse that is a plain file is replaced."""
    current = live(paths)
    if current is None:
        built.replace(paths.warehouse)
        return
    standby = other(paths, current)
    marker(standby).touch()
    built.replace(standby)
    commit(paths, standby)


@contextmanager
def night(paths: Paths) -> Iterator[Path]:
    """The generation a night writes; it goes live only if the block succeeds, and is removed
    (with everything the night wrote) if it fails."""
    standby, _ = prepare(paths)
    try:
        yield standby
        commit(paths, standby)
    except BaseException:
        discard(standby)
        raise
