"""dbt in-process (scoring/ingest/dbt_runner.py): a failure names its nodes, and the DuckDB file
is released when dbt returns, so that the caller can rename it or another process open it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from scoring.errors import DbtError
from scoring.ingest.dbt_runner import _describe_failure, dbt_vars, run_dbt


@pytest.fixture
def restored_environment():
    """run_dbt sets the environment of the process's dbt runs: keep it out of other tests."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _node(name: str, status: str, message: str | None) -> SimpleNamespace:
    return SimpleNamespace(status=status, node=SimpleNamespace(name=name), message=message)


def test_a_failure_names_each_failed_node_and_its_message():
    result = SimpleNamespace(exception=None, result=SimpleNamespace(results=[
        _node("fct_listens", "success", None),
        _node("unique_fct_listens_listen_id", "fail", "Got 3 results, configured to fail if != 0"),
        _node("dim_users", "error", "Binder Error: column x not found"),
    ]))  # fmt: skip
    assert _describe_failure("build", result) == (
        "dbt build failed: unique_fct_listens_listen_id: Got 3 results, configured to fail if "
        "!= 0; dim_users: Binder Error: column x not found"
    )
    crashed = SimpleNamespace(exception=RuntimeError("Compilation Error in model x"), result=None)
    assert _describe_failure("run", crashed) == "dbt run failed: Compilation Error in model x"
    assert _describe_failure("build", SimpleNamespace(exception=None, result=None)) == (
        "dbt build failed: see the dbt log above"
    )


def test_the_vars_of_a_run_are_stable():
    assert dbt_vars(Path("/raw")) == dbt_vars(Path("/raw")) == {"raw_dir": "/raw"}
    assert dbt_vars(Path("/raw"), {"x": 1}) == {"raw_dir": "/raw", "x": 1}


def test_dbt_runs_on_the_given_file_and_releases_it(tmp_path: Path, restored_environment):
    database = tmp_path / "wh" / "skipcache.duckdb"
    database.parent.mkdir()
    run = dict(database=database, target_path=tmp_path / "target", log_path=tmp_path / "logs",
               variables=dbt_vars(tmp_path / "raw"), quiet=True)  # fmt: skip
    result = run_dbt(["show", "--inline", "select 42 as answer"], decision_dates=[date(2025, 1, 2)],
                     **run)  # fmt: skip
    assert result is not None and os.environ["SKIPCACHE_DECISION_DATES"] == "2025-01-02"
    assert os.environ["SKIPCACHE_WAREHOUSE"] == str(database)
    # another process may write the file now: dbt-duckdb's instance was closed
    subprocess.run(
        [sys.executable, "-c",
         f"import duckdb; duckdb.connect({str(database)!r}).execute('create table t (x int)')"],
        check=True, timeout=60,
    )  # fmt: skip
    with pytest.raises(DbtError, match=r"(?s)^dbt show failed: .*no_such_table does not exist"):
        run_dbt(["show", "--inline", "select * from no_such_table"], **run)
    assert os.environ["SKIPCACHE_DECISION_DATES"] == ""  # never lingers into the next run


def test_dbt_imported_in_the_background_is_there_once_joined_and_a_failure_stays_quiet(
    monkeypatch: pytest.MonkeyPatch,
):
    code = (
        "import sys\n"
        "from scoring.ingest.dbt_runner import import_dbt_in_background\n"
        "assert 'dbt.cli.main' not in sys.modules\n"
        "import_dbt_in_background().join()\n"
        "from dbt.cli.main import dbtRunner\n"
        "print(sys.modules['dbt.cli.main'].dbtRunner is dbtRunner)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "True", done.stderr

    import importlib

    from scoring.ingest import dbt_runner

    def fail(name: str):
        raise ImportError(f"no {name} here")

    raised: list = []
    monkeypatch.setattr(importlib, "import_module", fail)
    monkeypatch.setattr(threading, "excepthook", raised.append)
    thread = dbt_runner.import_dbt_in_background()
    thread.join(timeout=10)
    assert not thread.is_alive() and raised == []  # left to run_dbt, which imports again


def test_each_warehouse_file_keeps_its_own_parse_state(tmp_path: Path, restored_environment):
    """Nights alternate between two files (scoring.ingest.generations), each with its own parse
    state. dbt writes target/partial_parse.msgpack only when it parses: a night that parsed
    nothing must not save the other file's state as its own (one night in three parsed the
    whole project again, 5.6 s at v2)."""
    target, logs = tmp_path / "target", tmp_path / "logs"
    files = [tmp_path / "gen-a.duckdb", tmp_path / "gen-b.duckdb"]
    parsed_in_full = []
    for night in range(5):
        log = logs / "dbt.log"
        start = log.stat().st_size if log.exists() else 0
        run_dbt(["parse"], database=files[night % 2], target_path=target, log_path=logs,
                variables=dbt_vars(tmp_path / "raw"), quiet=True)  # fmt: skip
        with log.open(encoding="utf-8") as f:
            f.seek(start)
            parsed_in_full.append("Unable to do partial parsing" in f.read())
    assert parsed_in_full == [True, True, False, False, False]
