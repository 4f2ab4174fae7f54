"""Run the dbt project in-process against one warehouse file and one raw export."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from scoring.config import DBT_ENV, PROJECT_ROOT
from scoring.errors import DbtError


def dbt_vars(raw_dir: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The vars of a run: the same from one night to the next, so that dbt can parse
    partially (a changed var makes it parse the whole project again)."""
    return {"raw_dir": str(raw_dir), **(extra or {})}


def import_dbt_in_background() -> threading.Thread:
    """Start importing dbt (about 1.4 s on this machine) in a daemon thread, so that
    the import overlaps work that runs without the GIL (the night's DuckDB preparation of its
    standby); join the thread before the first dbt call. A failed import is left to run_dbt,
    which imports dbt again and raises. The caller must not import dbt's dependencies meanwhile
    (Python's per-module import locks admit it, but a concurrent circular import can hand out a
    half-initialised module)."""

    def load() -> None:
        with contextlib.suppress(Exception):  # run_dbt imports it again and reports the failure
            importlib.import_module("dbt.cli.main")

    thread = threading.Thread(target=load, name="import-dbt", daemon=True)
    thread.start()
    return thread


def run_dbt(
    args: Sequence[str],
    *,
    database: Path,
    target_path: Path,
    log_path: Path,
    variables: dict[str, Any],
    quiet: bool = False,
    decision_dates: Sequence[date] = (),
    served_log_dir: Path | None = None,
    engine: str = "duckdb",
) -> Any:
    """Invoke `dbt <args>` on ``database``; raise DbtError naming the failed nodes.

    The nights to decide for go in SKIPCACHE_DECISION_DATES (macro decision_date_list), always
    set, so that a night's dates never linger into another invocation. The service's
    served-answer log folder goes in SKIPCACHE_SERVED_LOG_DIR (the default of the var
    served_log_dir), always set too: empty means no served logs. With engine "spark" the
    project runs on the profile's `spark` target (scoring.ingest.spark), whose tables live in
    spark/ beside ``database``.
    """
    os.environ.update(DBT_ENV)
    os.environ["SKIPCACHE_WAREHOUSE"] = str(database)
    if engine == "spark":
        from scoring.ingest.spark import check_installed, spark_env

        check_installed()
        os.environ.update(spark_env(database))
    os.environ["SKIPCACHE_DECISION_DATES"] = ",".join(d.isoformat() for d in decision_dates)
    os.environ["SKIPCACHE_SERVED_LOG_DIR"] = str(served_log_dir) if served_log_dir else ""
    if engine == "spark" and served_log_dir:
        # Spark's text reader fails on a missing folder (the Python landing treats it as no logs)
        Path(served_log_dir).mkdir(parents=True, exist_ok=True)
    from dbt.cli.main import dbtRunner  # imported late: dbt is slow to import

    cli_args = [
        *args,
        "--project-dir",
        str(PROJECT_ROOT),
        "--profiles-dir",
        str(PROJECT_ROOT),
        "--target-path",
        str(target_path),
        "--log-path",
        str(log_path),
        "--vars",
        json.dumps(variables),
    ]
    if engine == "spark":
        cli_args += ["--target", "spark"]
    if quiet:
        cli_args.insert(0, "--quiet")
    saved = parse_state(target_path, database)
    if saved.exists():
        cli_args += ["--partial-parse-file-path", str(saved)]
    written = target_path / PARTIAL_PARSE_FILE
    # dbt writes it only when it parses: a copy left by an earlier run (of the other warehouse
    # file) must not be taken for this run's and overwrite this file's state
    written.unlink(missing_ok=True)
    try:
        result = dbtRunner().invoke(cli_args)
    finally:
        if engine == "duckdb":
            _close_dbt_connection()
    if written.exists():
        shutil.copyfile(written, saved)
    if not result.success:
        raise DbtError(_describe_failure(args[0], result))
    return result.result


#: The file in which dbt saves its parsed project (dbt.parser.manifest.PARTIAL_PARSE_FILE_NAME).
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def parse_state(target_path: Path, database: Path) -> Path:
    """Where the parsed project of runs on ``database`` is kept between runs.

    The profile's path is part of what dbt checks before it parses partially, and the nights
    alternate between two files (scoring.ingest.generations): with one saved state each night
    found the other file's and parsed the whole project again (5 s of a 40 s night at v2).
    So each warehouse file keeps its own copy of dbt's partial_parse.msgpack, handed back with
    dbt's --partial-parse-file-path; dbt still parses in full whenever that state is stale.
    dbt reads that path but writes target/partial_parse.msgpack, and only when it parsed:
    run_dbt removes the target's copy first and keeps it only when this run wrote it."""
    return target_path / f"partial_parse.{database.name}.msgpack"


def _close_dbt_connection() -> None:
    """dbt-duckdb keeps one DuckDB instance per process: close it so the file is released
    (checkpointed, unlocked) before the caller renames or reopens it.

    Through the connection manager's public class methods: env() gives the instance's
    environment (it raises when there is none), close_all_connections() makes the manager forget
    it (it does not close it), and the environment's close() closes the DuckDB instance."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    try:
        env = DuckDBConnectionManager.env()
    except Exception:  # noqa: BLE001  "environment requested before creation": nothing open
        return
    DuckDBConnectionManager.close_all_connections()
    env.close()


def _describe_failure(command: str, result: Any) -> str:
    if result.exception is not None:
        return f"dbt {command} failed: {result.exception}"
    failed = []
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result, "status", ""))
        if status.lower() in {"error", "fail", "runtime error"}:
            name = getattr(getattr(node_result, "node", None), "name", "?")
            failed.append(f"{name}: {(node_result.message or status).strip()}")
    detail = "; ".join(failed) if failed else "see the dbt log above"
    return f"dbt {command} failed: {detail}"
