"""`skipcache build`: the dbt project over one export, into one warehouse, all or nothing.

dbt writes into a copy of the warehouse (``<name>.building``) that replaces the warehouse by an
atomic rename only when every model and test passed. A failed or killed build leaves the last
good warehouse as it was, and readers of the warehouse are never blocked by the build.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from scoring.config import Paths
from scoring.ingest import generations, inputs, rawfiles
from scoring.ingest.dbt_runner import dbt_vars, run_dbt


@dataclass(frozen=True)
class FileAccount:
    source_file: str
    lines_read: int
    rows_staged: int
    rows_quarantined: int


#: The environment variable that macro get_where_subquery reads: "night" scopes data tests.
TEST_SCOPE_ENV = "SKIPCACHE_TEST_SCOPE"


def _wal(db: Path) -> Path:
    return db.with_name(db.name + ".wal")


def prepare_copy(paths: Paths) -> Path:
    """A fresh working copy of the warehouse (or nothing, for a first build)."""
    paths.home.mkdir(parents=True, exist_ok=True)
    work = paths.building
    discard_copy(paths)
    if paths.warehouse.exists():
        shutil.copy2(paths.warehouse, work)
    return work


def commit_copy(paths: Paths) -> None:
    """Replace the warehouse by the finished copy in one rename (see scoring.ingest.generations)."""
    if _wal(paths.building).exists():  # a clean close leaves none; make it so before the rename
        duckdb.connect(str(paths.building)).close()
    generations.publish_file(paths, paths.building)


def discard_copy(paths: Paths) -> None:
    for stale in (paths.building, _wal(paths.building)):
        stale.unlink(missing_ok=True)


@contextmanager
def working_copy(paths: Paths) -> Iterator[Path]:
    """A copy of the warehouse to write to; it becomes the warehouse only if the block succeeds."""
    work = prepare_copy(paths)
    try:
        yield work
        commit_copy(paths)
    except BaseException:
        discard_copy(paths)
        raise


def dbt_build(
    paths: Paths,
    database: Path,
    *,
    full_refresh: bool = False,
    decision_dates: Sequence[date] = (),
    extra_vars: dict | None = None,
    select: str | None = None,
    selector: str | None = None,
    quiet: bool = False,
    night_tests: bool = False,
) -> None:
    """`dbt build` (of `select` only, or of the YAML `selector`, when given) on ``database``.

    With ``night_tests`` (a night's incremental build) the data tests of incremental models see
    only the rows this build wrote (macro get_where_subquery: SKIPCACHE_TEST_SCOPE=night), and
    the unit tests, which test the SQL and not the data, are left to builds and CI."""
    rawfiles.discover(paths.raw_dir)  # fail fast, naming the missing or unreadable file
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    if selector:
        args += ["--selector", selector]
    if night_tests and not full_refresh:
        args += ["--exclude-resource-type", "unit_test"]
    os.environ[TEST_SCOPE_ENV] = "night" if night_tests and not full_refresh else "all"
    run_dbt(
        args,
        database=database,
        target_path=paths.dbt_target,
        log_path=paths.dbt_logs,
        variables=dbt_vars(paths.raw_dir, extra_vars),
        decision_dates=decision_dates,
        served_log_dir=paths.served_log,
        quiet=quiet,
        engine=paths.engine,
    )
    if paths.engine == "spark":  # the control database's views over Spark's tables
        from scoring.ingest.spark import attach_views

        con = duckdb.connect(str(database))
        try:
            attach_views(con, database)
        finally:
            con.close()


#: The models over the job's decisions (and their tests): built again after decisions change.
OUTCOME_SELECTOR = "int_decision_requests+"


def build_outcomes(paths: Paths, database: Path, *, quiet: bool = False) -> None:
    """Recompute the outcome models (decision_outcomes, A/B summaries) over new decisions."""
    dbt_build(paths, database, select=OUTCOME_SELECTOR, quiet=quiet)


def generate_docs(paths: Paths, *, quiet: bool = False) -> Path:
    """dbt docs (offline: static_index.html embeds manifest and catalog) into docs/ beside the
    warehouse. The catalog is read from the warehouse itself, so the caller holds the lock."""
    run_dbt(
        ["docs", "generate", "--static"],
        database=paths.require_warehouse(),
        target_path=paths.docs,
        log_path=paths.dbt_logs,
        variables=dbt_vars(paths.raw_dir),
        served_log_dir=paths.served_log,
        quiet=quiet,
    )
    return paths.docs


def build(
    paths: Paths,
    *,
    full_refresh: bool = False,
    quiet: bool = False,
    decision_dates: Sequence[date] = (),
    extra_vars: dict | None = None,
) -> list[FileAccount]:
    """Build every model and test into a copy, then publish it as the warehouse."""
    rawfiles.discover(paths.raw_dir)  # before copying the warehouse: fail fast and cheap
    with working_copy(paths) as work:
        dbt_build(
            paths,
            work,
            full_refresh=full_refresh,
            quiet=quiet,
            decision_dates=decision_dates,
            extra_vars=extra_vars,
        )
        con = duckdb.connect(str(work))
        try:  # a build is not a night: the next night runs whatever its inputs
            inputs.forget(con)
        finally:
            con.close()
    return accounting(paths.warehouse)


def accounting(warehouse: Path) -> list[FileAccount]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select source_file, lines_read, rows_staged, rows_quarantined "
            "from marts.raw_file_accounting order by entity, source_file"
        ).fetchall()
    finally:
        con.close()
    return [FileAccount(*row) for row in rows]


def format_accounting(accounts: list[FileAccount]) -> str:
    width = max([len("raw file")] + [len(a.source_file) for a in accounts])
    lines = [f"{'raw file':<{width}}  {'lines read':>11}  {'staged':>11}  {'quarantined':>11}"]
    for a in accounts:
        lines.append(
            f"{a.source_file:<{width}}  {a.lines_read:>11,}  {a.rows_staged:>11,}  "
            f"{a.rows_quarantined:>11,}"
        )
    return "\n".join(lines)
