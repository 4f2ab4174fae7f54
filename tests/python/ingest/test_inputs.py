"""scoring.ingest.inputs: the fingerprint of what a night reads, and the record of the last night."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from scoring.config import TrainSettings, resolve_paths
from scoring.decide.policy import DecisionSettings
from scoring.errors import RawInputError
from scoring.ingest import inputs, rawfiles


def _export(root: Path) -> Path:
    for name in rawfiles.SINGLE_FILES.values():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b'{"id": "x"}\n')
    (root / "sessions").mkdir()
    (root / "sessions" / "2025-01-01.jsonl").write_bytes(b"{}\n")
    return root


@pytest.fixture
def paths(tmp_path: Path):
    return resolve_paths(_export(tmp_path / "raw"), tmp_path / "wh" / "skipcache.duckdb")


def _fp(paths, nights=(), settings=None, decisions=None) -> str:
    return inputs.fingerprint(
        paths, list(nights), settings or TrainSettings(), decisions or DecisionSettings()
    )


def test_the_same_inputs_give_the_same_fingerprint(paths):
    assert _fp(paths) == _fp(paths)


def _touch(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.mark.parametrize(
    "change",
    [
        "new drop",
        "touched file",
        "grown file",
        "served log",
        "settings",
        "decision settings",
        "night asked for",
        "engine",
    ],
)
def test_every_input_changes_the_fingerprint(paths, change: str):
    before = _fp(paths)
    args: dict = {}
    raw = paths.raw_dir
    if change == "new drop":
        (raw / "sessions" / "2025-01-02.jsonl").write_bytes(b"{}\n")
    elif change == "touched file":
        _touch(raw / "tracks.jsonl")
    elif change == "grown file":
        st = (raw / "users.jsonl").stat()
        with (raw / "users.jsonl").open("ab") as f:
            f.write(b"{}\n")
        os.utime(raw / "users.jsonl", ns=(st.st_atime_ns, st.st_mtime_ns))  # same time
    elif change == "served log":
        paths.served_log.mkdir(parents=True)
        (paths.served_log / "2025-01-02.jsonl").write_bytes(b"{}\n")
    elif change == "settings":
        args["settings"] = TrainSettings(holdout_days=13)
    elif change == "decision settings":
        args["decisions"] = DecisionSettings(threshold=0.6)
    elif change == "night asked for":
        args["nights"] = [date(2025, 1, 9)]
    elif change == "engine":
        paths = resolve_paths(paths.raw_dir, paths.warehouse, engine="spark")
    assert _fp(paths, **args) != before


def test_the_catalogue_fingerprint_follows_the_catalogue_files_not_the_sessions(paths):
    before = inputs.catalogue_fingerprint(paths)
    (paths.raw_dir / "sessions" / "2025-01-02.jsonl").write_bytes(b"{}\n")  # a daily drop
    _touch(paths.raw_dir / "sessions" / "2025-01-01.jsonl")
    assert inputs.catalogue_fingerprint(paths) == before
    assert (
        inputs.catalogue_fingerprint(resolve_paths(paths.raw_dir, paths.warehouse, engine="spark"))
        != before
    )
    renamed = paths.warehouse.with_name("prod.duckdb")  # views name the database
    assert inputs.catalogue_fingerprint(resolve_paths(paths.raw_dir, renamed)) != before
    for name in rawfiles.SINGLE_FILES.values():
        _touch(paths.raw_dir / name)
        after = inputs.catalogue_fingerprint(paths)
        assert after != before, name
        before = after


def test_a_catalogue_file_changed_during_the_night_is_not_recorded_or_stops_a_kept_night(paths):
    signatures = inputs.catalogue_signatures(paths)
    catalogue = inputs.catalogue_fingerprint(paths, signatures)
    _touch(paths.raw_dir / "sessions" / "2025-01-01.jsonl")  # not the catalogue's
    for kept in (False, True):
        assert inputs.settled_catalogue(paths, signatures, catalogue, kept=kept) == catalogue
    _touch(paths.raw_dir / "tracks.jsonl")
    assert inputs.settled_catalogue(paths, signatures, catalogue, kept=False) is None
    with pytest.raises(RawInputError, match=r"tracks\.jsonl in .*changed while the night ran"):
        inputs.settled_catalogue(paths, signatures, catalogue, kept=True)


def test_the_code_digest_follows_the_project_files(tmp_path: Path):
    (tmp_path / "models_sql").mkdir()
    model = tmp_path / "models_sql" / "m.sql"
    model.write_text("select 1")
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    before = inputs.code_digest(tmp_path)
    assert inputs.code_digest(tmp_path) == before
    (tmp_path / "models_sql" / "__pycache__").mkdir()
    (tmp_path / "models_sql" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"x")
    assert inputs.code_digest(tmp_path) == before  # caches are not code
    model.write_text("select 2")
    assert inputs.code_digest(tmp_path) != before
    model.write_text("select 1")
    (tmp_path / "scoring").mkdir()
    (tmp_path / "scoring" / "job.py").write_text("x = 1\n")
    assert inputs.code_digest(tmp_path) != before


def test_the_last_night_is_recorded_read_and_forgotten(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    assert inputs.last_night(db) is None  # no warehouse
    con = duckdb.connect(str(db))
    con.close()
    assert inputs.last_night(db) is None  # a warehouse with no night recorded
    night = inputs.NightInputs(
        "run1", date(2025, 1, 5), "svc-1", "svc-1", "abc", datetime(2025, 1, 5, 3, 0), "cat"
    )
    con = duckdb.connect(str(db))
    try:
        inputs.record(con, night)
        inputs.record(con, night)  # one row, replaced
        assert con.execute(f"select count(*) from {inputs.TABLE}").fetchall() == [(1,)]
    finally:
        con.close()
    assert inputs.last_night(db) == night
    con = duckdb.connect(str(db))
    try:  # a record written before the catalogue fingerprint was kept reads with none
        con.execute(f"alter table {inputs.TABLE} drop column catalogue_fingerprint")
    finally:
        con.close()
    assert inputs.last_night(db) == replace(night, catalogue_fingerprint=None)
    con = duckdb.connect(str(db))
    try:
        inputs.forget(con)
        inputs.forget(con)
    finally:
        con.close()
    assert inputs.last_night(db) is None
