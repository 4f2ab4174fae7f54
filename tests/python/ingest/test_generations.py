"""Nights on two generations of the warehouse (scoring.ingest.generations): no copy per night, readers
during nights, the job tables carried over, a full disk mid-night."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from helpers import assert_compared_tables_equal, assert_summary_matches, query, run_cli

from scoring.config import resolve_paths
from scoring.ingest.build import build
from scoring.ingest.generate import GenerateOptions, generate

READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("select count(*) from marts.fct_listens").fetchall()[0][0], flush=True)
for line in sys.stdin:  # each line asks again, on the connection opened at the start
    print(con.execute("select count(*) from marts.fct_listens").fetchall()[0][0], flush=True)
"""


def _night(raw: Path, wh: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("nightly", "--raw-dir", str(raw), "--warehouse", str(wh), "--quiet", *extra)


def _files(home: Path) -> set[str]:
    return {p.name for p in home.iterdir() if p.name.startswith("skipcache.duckdb")}


def _built(home: Path) -> set[str]:
    """The names of the nodes the last dbt invocation in ``home`` ran (its run_results.json)."""
    results = json.loads((home / "dbt" / "target" / "run_results.json").read_text())
    return {r["unique_id"].split(".")[2] for r in results["results"]}


#: The grain tests of the decisions tables, which a night leaves out (selector night).
DECISION_TESTS = "source_unique_combination_decisions_"

#: The catalogue models (tag catalogue, selector catalogue_unchanged) the comparisons read.
CATALOGUE_TABLES = {
    "marts.dim_tracks": "track_id",
    "marts.dim_users": "user_id",
    "marts.service_track_genres": "track_id, genre",
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_nights_alternate_generations_readers_keep_reading_and_tables_equal_a_full_build(
    tmp_path: Path,
):
    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=21, daily_drops=True))
    held = tmp_path / "held"
    held.mkdir()
    drops = sorted((raw / "sessions").glob("*.jsonl"))
    for d in drops[-2:]:
        d.rename(held / d.name)
    wh = tmp_path / "wh" / "skipcache.duckdb"

    _night(raw, wh)
    assert wh.is_symlink() and os.readlink(wh) == "skipcache.duckdb.gen-a"

    # an analyst opens the warehouse before night 2 and keeps the connection through nights 2-3
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(wh)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        before = int(reader.stdout.readline())
        for name in sorted(p.name for p in held.iterdir()):
            (held / name).rename(raw / "sessions" / name)
            # night 2 writes gen-b; night 3 finds gen-a held by the reader and copies instead
            _night(raw, wh)
            # a session drop only: the catalogue models stay as built, their tests with them,
            # but for a test that also reads the night's rows
            assert {
                "fct_listens",
                "relationships_fct_listens_track_id__track_id__ref_dim_tracks_",
            } <= _built(wh.parent)
            assert not {
                "dim_tracks",
                "dim_users",
                "base_pozytywka__tracks_parsed",
                "unique_dim_tracks_track_id",
            } & _built(wh.parent)
            # nor the grain tests of the job's tables (selector night): the job checks each
            # night it writes
            assert not {n for n in _built(wh.parent) if n.startswith(DECISION_TESTS)}
            reader.stdin.write("again\n")
            reader.stdin.flush()
            assert int(reader.stdout.readline()) == before  # the night it opened, unchanged
    finally:
        reader.stdin.close()
        reader.wait(timeout=60)
    assert reader.returncode == 0
    assert os.readlink(wh) == "skipcache.duckdb.gen-a"

    # night 4 reuses gen-b (two nights old): the job tables are brought level, not copied. A
    # table only gen-b holds tells: a copy of the live file would not have it
    con = duckdb.connect(str(wh.parent / "skipcache.duckdb.gen-b"))
    con.execute("create table main.only_in_the_standby as select 1 as x")
    con.close()
    # a new track in the catalogue: gen-b's catalogue tables (night 2's) are built again
    tracks = (raw / "tracks.jsonl").read_text().splitlines()
    new_track = json.loads(tracks[0]) | {"id": "0" * 21 + "N", "name": "A new track"}
    (raw / "tracks.jsonl").write_text("\n".join([*tracks, json.dumps(new_track)]) + "\n")
    _night(raw, wh, "--date", "2025-01-05")
    assert os.readlink(wh) == "skipcache.duckdb.gen-b"
    assert {"dim_tracks", "unique_dim_tracks_track_id"} <= _built(wh.parent)
    assert not {n for n in _built(wh.parent) if n.startswith(DECISION_TESTS)}
    assert query(
        wh, f"select track_name from marts.dim_tracks where track_id = '{new_track['id']}'"
    ) == [("A new track",)]
    assert query(wh, "select x from main.only_in_the_standby") == [(1,)]
    assert _files(wh.parent) == {
        "skipcache.duckdb",
        "skipcache.duckdb.gen-a",
        "skipcache.duckdb.gen-b",
        "skipcache.duckdb.lock",
    }
    live, previous = wh.parent / "skipcache.duckdb.gen-b", wh.parent / "skipcache.duckdb.gen-a"
    job_tables = [
        "decisions.cache_decisions",
        "decisions.track_default_decisions",
        "decisions.user_arms",
        "ml.model_registry",
        "ml.model_weights",
        "ml.model_calibration",
        "ml.holdout_predictions",
    ]
    con = duckdb.connect(str(live), read_only=True)
    try:
        con.execute(f"attach '{previous}' as previous (read_only)")
        nights = con.execute(
            "select distinct decision_date from decisions.cache_decisions order by 1"
        ).fetchall()
        assert len(nights) == 4
        for table in job_tables:  # the previous night's rows, all of them, carried over
            missing = con.execute(
                f"select count(*) from (select * from previous.{table} except all "
                f"select * from {table})"
            ).fetchall()[0][0]
            assert missing == 0, table
    finally:
        con.close()

    # ab_daily_summary, incremental per night, took in each night once the next one built
    # (the standby a night behind included): it equals a recomputation from the job's tables
    assert assert_summary_matches(wh, before=str(nights[-1][0])) > 0

    # a full build: every listen-grain table, and the features of every day with listens, are
    # equal (a night also adds rows for its decision date, which depend on the nights run)
    full = tmp_path / "full" / "skipcache.duckdb"
    build(resolve_paths(raw, full), quiet=True)
    assert len({n for n in _built(full.parent) if n.startswith(DECISION_TESTS)}) == 3
    assert_compared_tables_equal(wh, full, "select listen_date from marts.fct_listens")
    for table, key in CATALOGUE_TABLES.items():
        sql = f"select * from {table} order by {key}"
        assert query(wh, sql) == query(full, sql), table


def test_a_full_disk_mid_night_says_so_in_one_line_and_cleans_up(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=3))
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        wh = disk / "skipcache.duckdb"
        _night(raw, wh)
        live = wh.parent / os.readlink(wh)
        before = _sha(live)
        serving = {p.name: p.read_bytes() for p in (disk / "serving").iterdir()}
        # leave room for part of a night only
        filler = disk / "filler"
        free = shutil.disk_usage(disk).free
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.posix_fallocate(fd, 0, free - 14 * 2**20)
        finally:
            os.close(fd)

        proc = run_cli(
            "nightly", "--raw-dir", str(raw), "--warehouse", str(wh), "--quiet", "--force",
            check=False,
        )  # fmt: skip
        assert proc.returncode == 1
        message = [line for line in proc.stderr.splitlines() if line.startswith("skipcache ")]
        assert len(message) == 1, proc.stderr
        assert "out of disk space" in message[0] and str(disk) in message[0]
        assert "Traceback" not in proc.stderr
        # nothing of the failed night is left; the live warehouse and snapshot are as they were
        assert _files(disk) == {"skipcache.duckdb", live.name, "skipcache.duckdb.lock"}
        assert not [p for p in disk.rglob("*") if ".tmp-" in p.name]
        assert wh.parent / os.readlink(wh) == live and _sha(live) == before
        assert {p.name: p.read_bytes() for p in (disk / "serving").iterdir()} == serving

        filler.unlink()
        _night(raw, wh, "--force")  # space freed: the next night succeeds
        assert wh.parent / os.readlink(wh) != live
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
