"""`skipcache build` end to end: the real dbt project over generated and real exports."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import copy_export, query, real_export, run_cli

from scoring.config import resolve_paths
from scoring.ingest import inputs
from scoring.ingest.build import build
from scoring.ingest.dbt_runner import DbtError
from scoring.ingest.generate import GenerateOptions, generate
from scoring.ingest.lock import writer_lock

CANONICAL_EVENTS = """
    select session_id, event_at, user_id, track_id, event_type
    from staging.stg_pozytywka__sessions
    order by session_id, event_at, event_type, track_id
"""


def _accounting(wh: Path) -> list[tuple]:
    return query(
        wh,
        "select source_file, lines_read, rows_staged, rows_quarantined "
        "from marts.raw_file_accounting order by source_file",
    )


def _build(raw: Path, wh: Path) -> None:
    build(resolve_paths(raw, wh), quiet=True)


def test_build_accounts_for_every_line(tiny_export: Path, tiny_warehouse: Path):
    rows = _accounting(tiny_warehouse)
    assert [r[0] for r in rows] == [
        "artists.jsonl",
        "sessions.jsonl",
        "track_storage.jsonl",
        "tracks.jsonl",
        "users.jsonl",
    ]
    for source_file, read, staged, quarantined in rows:
        lines = (tiny_export / source_file).read_text().splitlines()
        assert read == len(lines) == staged + quarantined
        assert quarantined == 0  # a clean export loses nothing


def test_cli_build_prints_the_summary(tiny_export: Path, tmp_path: Path):
    wh = tmp_path / "wh" / "skipcache.duckdb"
    proc = run_cli("build", "--raw-dir", str(tiny_export), "--warehouse", str(wh), "--quiet")
    assert "lines read" in proc.stdout and "sessions.jsonl" in proc.stdout
    assert wh.exists() and not (tmp_path / "wh" / "skipcache.duckdb.building").exists()


@pytest.mark.parametrize(
    "variant",
    [
        dict(timestamps="epoch_ms"),
        dict(timestamps="offset"),
        dict(event_case="upper", arrays=True),
        dict(event_case="title", session_id_last=True),
        dict(daily_drops=True),
    ],
    ids=["epoch_ms", "offset", "upper-arrays", "title-session-id-last", "daily-drops"],
)
def test_every_spelling_stages_the_same_events(tmp_path: Path, variant: dict):
    base_raw, var_raw = tmp_path / "base", tmp_path / "variant"
    generate(base_raw, GenerateOptions(preset="tiny", seed=9))
    generate(var_raw, GenerateOptions(preset="tiny", seed=9, **variant))
    _build(base_raw, tmp_path / "base.duckdb")
    _build(var_raw, tmp_path / "variant.duckdb")
    base = query(tmp_path / "base.duckdb", CANONICAL_EVENTS)
    assert len(base) > 1000
    assert query(tmp_path / "variant.duckdb", CANONICAL_EVENTS) == base
    assert query(tmp_path / "variant.duckdb", "select count(*) from staging.raw_quarantine") == [
        (0,)
    ]


def test_dirty_export_is_accounted_for_and_quarantined(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=4, dirty=True))
    _build(raw, tmp_path / "wh.duckdb")
    for _, read, staged, quarantined in _accounting(tmp_path / "wh.duckdb"):
        assert read == staged + quarantined
    reasons = dict(
        query(
            tmp_path / "wh.duckdb", "select reason, count(*) from staging.raw_quarantine group by 1"
        )
    )
    assert {"null_user_id", "null_event_type", "null_track_id", "bad_type_id"} <= set(reasons)
    users = query(
        tmp_path / "wh.duckdb",
        "select count(*), count(is_premium), sum(has_favourite_genres::int) from staging.stg_pozytywka__users",
    )[0]
    assert users[0] == 40 and users[1] < 40 or users[2] < 40


# Bad lines appended to a copy of an export, each with the reason it must be quarantined for.
BAD_LINES = {
    "sessions.jsonl": [
        (
            b'{"session_id": 1, "timestamp": "2024-01-01T10:00:00", "user_id": 101, "track_id"',
            "malformed_json",
        ),
        (
            b'{"session_id": 1, "timestamp": "2024-01-01T10:00:00", "user_id": 101, "track_id": "\xff\xfe", "event_type": "play"}',
            "invalid_utf8",
        ),
        (
            b'{"session_id": 1, "timestamp": "2024-01-01T10:00:00", "user_id": "abc", "track_id": "x", "event_type": "play"}',
            "bad_type_user_id",
        ),
        (
            b'{"session_id": 1, "timestamp": "yesterday", "user_id": 101, "track_id": "x", "event_type": "play"}',
            "bad_timestamp",
        ),
        (
            b'{"session_id": 1, "timestamp": "2024-01-01T10:00:00", "user_id": 101, "track_id": "x", "event_type": "rewind"}',
            "unknown_event_type",
        ),
        (
            b'{"session_id": null, "timestamp": "2024-01-01T10:00:00", "user_id": 101, "track_id": "x", "event_type": "play"}',
            "null_session_id",
        ),
        (
            b'{"session_id": 1, "timestamp": "2024-01-01T10:00:00", "user_id": 101, "track_id": "", "event_type": "skip"}',
            "null_track_id",
        ),
        (b'["2024-01-01T10:00:00", 101, "x", "play"]', "array_wrong_length"),
        (b"42", "not_an_object"),
    ],
    "users.jsonl": [
        (
            b'{"user_id": "abc", "name": "X", "favourite_genres": [], "premium_user": false}',
            "bad_type_user_id",
        ),
    ],
    "artists.jsonl": [(b'{"id": -1, "name": "Broken", "genres": ["pop"]}', "bad_type_id")],
    "track_storage.jsonl": [
        (
            b'{"track_id": "zzz", "storage_class": "glacier", "daily_cost": 0.1}',
            "unknown_storage_class",
        )
    ],
}


def _inject(raw: Path) -> dict[tuple[str, int], str]:
    expected = {}
    tracks = (raw / "tracks.jsonl").read_bytes().splitlines()
    BAD_LINES_TRACKS = [
        (tracks[0], "duplicate_track_id"),
        (tracks[1][: len(tracks[1]) // 2], "malformed_json"),
    ]
    for name, bad in [*BAD_LINES.items(), ("tracks.jsonl", BAD_LINES_TRACKS)]:
        path = raw / name
        content = path.read_bytes()
        if not content.endswith(b"\n"):
            content += b"\n"
        n = len(content.splitlines())
        content += b"\n"  # a blank line is not a line read
        for i, (line, reason) in enumerate(bad):
            content += line + b"\n"
            expected[(name, n + 2 + i)] = reason
        path.write_bytes(content)
    return expected


def _check_injected(raw: Path, wh: Path, expected: dict[tuple[str, int], str]) -> None:
    _build(raw, wh)
    found = {
        (f, n): r
        for f, n, r in query(
            wh, "select source_file, line_number, reason from staging.raw_quarantine"
        )
    }
    for key, reason in expected.items():
        assert found.get(key) == reason, key
    for _, read, staged, quarantined in _accounting(wh):
        assert read == staged + quarantined
    assert (
        query(wh, "select raw_line from staging.raw_quarantine where reason = 'invalid_utf8'")[0][
            0
        ].count("\\xFF")
        == 1
    )


def test_bad_lines_in_a_generated_export_are_quarantined(tiny_export: Path, tmp_path: Path):
    raw = copy_export(tiny_export, tmp_path / "raw")
    _check_injected(raw, tmp_path / "wh.duckdb", _inject(raw))


def test_bad_lines_in_a_real_export_are_quarantined(tmp_path: Path):
    raw = copy_export(real_export("ium23z-v2"), tmp_path / "raw")
    _check_injected(raw, tmp_path / "wh.duckdb", _inject(raw))


@pytest.mark.parametrize("name", ["ium23z-v1", "ium23z-v2"])
def test_real_exports_load(tmp_path: Path, name: str):
    raw = real_export(name)
    wh = tmp_path / "wh.duckdb"
    run_cli("build", "--raw-dir", str(raw), "--warehouse", str(wh), "--quiet")
    accounts = _accounting(wh)
    assert {a[0] for a in accounts} == {
        "sessions.jsonl",
        "tracks.jsonl",
        "users.jsonl",
        "artists.jsonl",
        "track_storage.jsonl",
    }
    for source_file, read, staged, quarantined in accounts:
        assert read == len((raw / source_file).read_bytes().splitlines()) == staged + quarantined
    sessions = next(a for a in accounts if a[0] == "sessions.jsonl")
    if name == "ium23z-v2":
        assert sum(a[3] for a in accounts) == 0
    else:  # about 5% nulls in user_id, track_id and event_type, and artists with id -1
        assert 0.05 < sessions[3] / sessions[1] < 0.2
        reasons = dict(query(wh, "select reason, count(*) from staging.raw_quarantine group by 1"))
        assert set(reasons) == {"null_user_id", "null_event_type", "null_track_id", "bad_type_id"}


def test_missing_file_fails_and_keeps_the_last_good_warehouse(tiny_export: Path, tmp_path: Path):
    raw = copy_export(tiny_export, tmp_path / "raw")
    wh = tmp_path / "wh" / "skipcache.duckdb"
    run_cli("build", "--raw-dir", str(raw), "--warehouse", str(wh), "--quiet")
    before = wh.read_bytes()
    (raw / "tracks.jsonl").unlink()
    proc = run_cli("build", "--raw-dir", str(raw), "--warehouse", str(wh), "--quiet", check=False)
    assert proc.returncode == 2
    assert "tracks.jsonl" in proc.stderr and "missing" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert wh.read_bytes() == before
    assert sorted(p.name for p in wh.parent.iterdir() if p.is_file()) == [
        "skipcache.duckdb",
        "skipcache.duckdb.lock",
    ]


def test_a_failing_dbt_build_leaves_the_last_good_warehouse(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=9, timestamps="epoch_ms"))
    wh = tmp_path / "wh" / "skipcache.duckdb"
    paths = resolve_paths(raw, wh)
    build(paths, quiet=True)
    before = wh.read_bytes()
    # a time zone DuckDB does not know makes the sessions model fail after the landing was built
    with pytest.raises(DbtError, match="base_pozytywka__sessions_parsed"):
        build(
            paths,
            quiet=True,
            full_refresh=True,
            extra_vars={"epoch_ms_timezone": "Nowhere/Atlantis"},
        )
    assert wh.read_bytes() == before
    assert not paths.building.exists()


def test_second_writer_is_refused(tiny_export: Path, tmp_path: Path):
    wh = tmp_path / "wh" / "skipcache.duckdb"
    paths = resolve_paths(tiny_export, wh)
    with writer_lock(paths.lock):
        proc = run_cli("build", "--raw-dir", str(tiny_export), "--warehouse", str(wh), check=False)
    assert proc.returncode == 2
    assert "another skipcache run" in proc.stderr


def _built_without_the_last_drop(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A tiny export in daily drops, built without its last drop: (the export, the warehouse,
    the drop held back beside them, to be moved into the export's sessions/)."""
    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=9, daily_drops=True))
    drops = sorted((raw / "sessions").glob("*.jsonl"))
    held_back = tmp_path / drops[-1].name
    drops[-1].rename(held_back)
    wh = tmp_path / "wh.duckdb"
    _build(raw, wh)
    return raw, wh, held_back


def test_new_daily_drop_is_landed_alone(tmp_path: Path):
    raw, wh, held_back = _built_without_the_last_drop(tmp_path)
    before = query(
        wh,
        "select source_file, file_signature, count(*) from staging.base_pozytywka__raw_lines group by all order by 1",
    )
    held_back.rename(raw / "sessions" / held_back.name)
    _build(raw, wh)
    after = query(
        wh,
        "select source_file, file_signature, count(*) from staging.base_pozytywka__raw_lines group by all order by 1",
    )
    assert [r for r in after if r[0] != f"sessions/{held_back.name}"] == before
    assert len(after) == len(before) + 1
    for _, read, staged, quarantined in _accounting(wh):
        assert read == staged + quarantined
    # the landing stamps its lines at or after the start of the run that landed them (which
    # the SQL models stamp): the second run's scoped tests see the new drop's lines only
    new_file = f"'sessions/{held_back.name}'"
    [(new_lines, old_lines, older_files_later)] = query(
        wh,
        "with second_run as (select max(loaded_at) as started "
        f"from staging.base_pozytywka__sessions_parsed where source_file = {new_file}) "
        f"select count(*) filter (where source_file = {new_file} and loaded_at >= started), "
        f"count(*) filter (where source_file = {new_file} and loaded_at < started), "
        f"count(*) filter (where source_file != {new_file} and loaded_at >= started) "
        "from staging.base_pozytywka__raw_lines, second_run",
    )
    assert new_lines > 0 and old_lines == 0 and older_files_later == 0


def test_a_landing_from_before_loaded_at_gets_the_column(tmp_path: Path):
    """A warehouse landed before the landing stamped loaded_at (f58e3a5) takes the next drop:
    the column is appended, null on the old lines (on_schema_change), not a failed build."""
    import duckdb

    raw, wh, held_back = _built_without_the_last_drop(tmp_path)
    con = duckdb.connect(str(wh))
    try:  # the landing as it was before
        con.execute("alter table staging.base_pozytywka__raw_lines drop column loaded_at")
    finally:
        con.close()
    held_back.rename(raw / "sessions" / held_back.name)
    _build(raw, wh)
    rows = query(
        wh,
        "select source_file = 'sessions/" + held_back.name + "' as is_new, "
        "count(*) filter (where loaded_at is null), count(*) "
        "from staging.base_pozytywka__raw_lines group by all order by all",
    )
    assert [(is_new, nulls == total) for is_new, nulls, total in rows] == [
        (False, True),  # the old lines: no stamp
        (True, False),  # the new drop's: stamped
    ]


#: the file name of the grain test of int_track_listens_daily (dbt shortens long test names)
LISTENS_DAILY_GRAIN = "unique_combination_int_track_l"


def test_a_night_tests_the_rows_it_wrote_and_a_full_pass_tests_all(
    tiny_export: Path, tiny_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Data tests scoped by macro get_where_subquery: an old duplicate (a row the night did not
    write) escapes a night's tests of that incremental model and fails the full pass."""
    import duckdb

    from scoring.ingest.build import TEST_SCOPE_ENV
    from scoring.ingest.dbt_runner import dbt_vars, run_dbt

    wh = tmp_path / "skipcache.duckdb"
    wh.write_bytes(tiny_warehouse.read_bytes())
    con = duckdb.connect(str(wh))
    try:  # a duplicate of an old row of an incremental model (and of a table's row)
        con.execute(
            "insert into intermediate.int_track_listens_daily "
            "select * from intermediate.int_track_listens_daily limit 1"
        )
    finally:
        con.close()

    def test(scope: str) -> None:
        monkeypatch.setenv(TEST_SCOPE_ENV, scope)
        run_dbt(
            ["test", "--select", "int_track_listens_daily"],
            database=wh, target_path=tmp_path / "target", log_path=tmp_path / "logs",
            variables=dbt_vars(tiny_export), quiet=True,
        )  # fmt: skip

    test("night")  # the night wrote no row of it: nothing of it to test
    with pytest.raises(DbtError, match="unique_combination_int_track_listens_daily"):
        test("all")
    assert all("loaded_at" not in sql for sql in _compiled_tests(tmp_path, LISTENS_DAILY_GRAIN))
    monkeypatch.setenv(TEST_SCOPE_ENV, "night")
    selected = [
        "int_track_listens_daily", "dim_tracks", "base_pozytywka__raw_lines",
        "stg_pozytywka__sessions", "stg_pozytywka__tracks",
    ]  # fmt: skip
    run_dbt(
        ["compile", "--select", *[f"test_type:data,{name}" for name in selected]],
        database=wh, target_path=tmp_path / "target", log_path=tmp_path / "logs",
        variables=dbt_vars(tiny_export), quiet=True,
    )  # fmt: skip
    for prefix in (
        LISTENS_DAILY_GRAIN,  # an incremental model: this run's rows
        "unique_combination_base_pozy",  # the Python landing, likewise
        "not_null_stg_pozytywka__sessions_",  # a view that asks for it (meta night_test_scope)
    ):
        scoped = _compiled_tests(tmp_path, prefix)
        assert scoped and all("loaded_at >= cast(" in sql for sql in scoped), prefix
    for prefix in ("unique_dim_tracks_track_id", "unique_stg_pozytywka__tracks_track_id"):
        whole = _compiled_tests(tmp_path, prefix)  # a table, a view that does not ask
        assert whole and all("loaded_at" not in sql for sql in whole), prefix


def _compiled_tests(home: Path, prefix: str) -> list[str]:
    """The compiled SQL of the data tests whose file name starts with ``prefix``."""
    tests = (home / "target" / "compiled").rglob(f"{prefix}*.sql")
    return [path.read_text() for path in tests if path.parent.suffix == ".yml"]


def test_the_catalogue_tag_marks_the_models_no_session_or_served_log_reaches(
    tiny_warehouse: Path,
):
    """tag:catalogue (selector catalogue_unchanged: what a night keeps as built while no
    catalogue file changed) is exactly the models below the catalogue parsers that neither the
    session parser nor the served-log landing reaches: a tagged model that new sessions reach
    would go stale, an untagged catalogue model would be rebuilt for nothing."""
    import json

    manifest = json.loads((tiny_warehouse.parent / "dbt/target/manifest.json").read_text())
    children = manifest["child_map"]

    def below(*names: str) -> set[str]:
        found, todo = set(), [f"model.skipcache.{name}" for name in names]
        while todo:
            node = todo.pop()
            if node not in found:
                found.add(node)
                todo += children.get(node, [])
        return {n.split(".")[-1] for n in found if n.startswith("model.")}

    catalogue = below(
        *[f"base_pozytywka__{entity}_parsed" for entity in inputs.CATALOGUE_ENTITIES]
    ) - below("base_pozytywka__sessions_parsed", "base_serving__log_lines")
    tagged = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and "catalogue" in node["config"]["tags"]
    }
    assert "dim_tracks" in catalogue and "fct_listens" not in catalogue
    assert tagged == catalogue
