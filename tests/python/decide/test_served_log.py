"""The cache service's served-answer logs in the dbt project: every line accounted for, the
torn and bad lines quarantined, and served_outcomes equal to a count by hand from fct_listens."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from helpers import query, run_cli

from scoring.config import resolve_paths
from scoring.ingest import rawfiles
from scoring.ingest.rawfiles import RawInputError

SERVED_TABLES = [
    "staging.base_serving__log_lines",
    "staging.served_quarantine",
    "marts.served_answers",
    "marts.served_outcomes",
    "marts.ab_served_daily_summary",
    "marts.served_log_accounting",
]


def _answer(n: int, user_id, track_id, night: date, **fields) -> dict:
    """One log line's object, as the service writes it (fields override the defaults)."""
    line = {
        "request_id": f"req-{n}",
        "served_at": f"{night.isoformat()}T10:11:{n % 60:02d}.123456Z",
        "endpoint": "abtest",
        "user_id": user_id,
        "track_id": track_id,
        "arm": "model",
        "policy": "v-test",
        "model_version": "v-test",
        "decision_date": night.isoformat(),
        "p_play": 0.61,
        "should_cache": True,
        "source": "pair",
    }
    return {**line, **fields}


def _line(obj: dict) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def _plays_and_skips(export: Path) -> tuple[dict[date, list], dict[date, set]]:
    """(user, track) pairs played, and skipped, per day, read from the raw sessions file."""
    plays: dict[date, list] = {}
    skips: dict[date, set] = {}
    for text in (export / "sessions.jsonl").read_text().splitlines():
        event = json.loads(text)
        day = date.fromisoformat(event["timestamp"][:10])
        pair = (event["user_id"], event["track_id"])
        if event["event_type"] == "play":
            plays.setdefault(day, []).append(pair)
        elif event["event_type"] == "skip":
            skips.setdefault(day, set()).add(pair)
    return plays, skips


@pytest.fixture(scope="module")
def served(tiny_export: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A warehouse built by the real CLI with two hand-written log files beside it."""
    wh = tmp_path_factory.mktemp("wh-served") / "skipcache.duckdb"
    log_dir = resolve_paths(tiny_export, wh).served_log
    log_dir.mkdir(parents=True)
    plays, skips = _plays_and_skips(tiny_export)
    night = max(plays, key=lambda d: (len(skips.get(d, ())), d))  # a busy day with skips
    next_night = min(d for d in plays if d > night)
    once = [pair for pair, n in sorted(Counter(plays[night]).items()) if n == 1]
    skipped = next(p for p in once if p in skips[night])  # its only play that day was skipped
    played = next(p for p in once if p not in skips[night])
    elsewhere = next(  # a pair listened to on another day only
        p for d in sorted(plays) if d != night for p in plays[d] if p not in plays[night]
    )
    good = _answer(1, *played, night)
    day_one = [
        _line(good),
        _line(_answer(2, *played, night, endpoint="decisions", arm=None, request_id="batch")),
        _line(_answer(3, *skipped, night, arm="naive", source="model", p_play=0.2)),
        _line(_answer(4, str(elsewhere[0]), elsewhere[1], night, source="cold_start")),
        b"   \n",  # blank: not a line read
        b'{"request_id": "bad-\xff\xfe", "endpoint": "abtest"}\n',
        _line(_answer(7, "abc", played[1], night)),
        _line(_answer(8, *played, night, should_cache="maybe")),
        _line(_answer(9, *played, night, endpoint="bogus")),
        _line(
            _answer(
                10,
                *skipped,
                night,
                endpoint="recommend",
                arm=None,
                should_cache=False,
                source="track_default",
            )
        ),
        b"[1, 2]\n",
        _line(good)[:40],  # the writer was killed mid-line: torn, no newline
    ]
    day_two = [
        _line(good)[:55] + b"\n",  # torn, then the next writer started on a fresh line
        _line(_answer(12, *plays[next_night][0], next_night)),
    ]
    files = {f"{night}.jsonl": day_one, f"{next_night}.jsonl": day_two}
    for name, lines in files.items():
        (log_dir / name).write_bytes(b"".join(lines))
    run_cli("build", "--raw-dir", str(tiny_export), "--warehouse", str(wh), "--quiet")
    return {"warehouse": wh, "log_dir": log_dir, "night": night, "next_night": next_night}


def _accounting(wh: Path) -> dict[str, tuple]:
    rows = query(wh, "select * from marts.served_log_accounting")
    return {r[0]: r[1:] for r in rows}


def test_every_served_line_is_accounted_for(served: dict):
    night, next_night = served["night"], served["next_night"]
    assert _accounting(served["warehouse"]) == {
        f"{night}.jsonl": (11, 5, 6),  # 12 lines, one blank
        f"{next_night}.jsonl": (2, 1, 1),
    }
    quarantined = query(
        served["warehouse"],
        "select source_file, line_number, reason from staging.served_quarantine "
        "order by source_file, line_number",
    )
    assert quarantined == [
        (f"{night}.jsonl", 6, "invalid_utf8"),
        (f"{night}.jsonl", 7, "bad_type_user_id"),
        (f"{night}.jsonl", 8, "bad_type_should_cache"),
        (f"{night}.jsonl", 9, "unknown_endpoint"),
        (f"{night}.jsonl", 11, "not_an_object"),
        (f"{night}.jsonl", 12, "malformed_json"),
        (f"{next_night}.jsonl", 1, "malformed_json"),
    ]
    raw_line = query(
        served["warehouse"],
        f"select raw_line from staging.served_quarantine where source_file = '{night}.jsonl' "
        "and line_number = 6",
    )[0][0]
    assert "request_id" in raw_line and "bad-\\xFF\\xFE" in raw_line  # bytes as \xNN


def test_served_answers_are_typed(served: dict):
    rows = query(
        served["warehouse"],
        "select served_answer_id, request_id, served_at, served_date, endpoint, arm, "
        "user_id, decision_date, answer_source from marts.served_answers "
        "order by source_file, line_number",
    )
    night = served["night"]
    assert [r[0] for r in rows] == [f"{night}.jsonl:{n}" for n in (1, 2, 3, 4, 10)] + [
        f"{served['next_night']}.jsonl:2"
    ]
    first = rows[0]
    assert first[1] == "req-1" and first[2].isoformat() == f"{night}T10:11:01.123456"
    assert first[3] == night and first[7] == night
    assert [r[4] for r in rows[:5]] == ["abtest", "decisions", "abtest", "abtest", "recommend"]
    assert [r[5] for r in rows[:5]] == ["model", None, "naive", "model", None]
    assert [r[8] for r in rows[:5]] == ["pair", "pair", "model", "cold_start", "track_default"]
    assert isinstance(rows[3][6], int)  # "101" as a string is an integer id


def test_served_outcomes_match_a_count_by_hand_from_fct_listens(served: dict):
    wh = served["warehouse"]
    listens = query(wh, "select user_id, track_id, listen_date, is_skipped from marts.fct_listens")
    heard, played_through = Counter(), Counter()
    for user_id, track_id, listen_date, is_skipped in listens:
        heard[(user_id, track_id, listen_date)] += 1
        played_through[(user_id, track_id, listen_date)] += not is_skipped
    answers = query(
        wh,
        "select served_answer_id, user_id, track_id, decision_date, should_cache "
        "from marts.served_answers",
    )
    expected = {}
    for answer_id, user_id, track_id, night, should_cache in answers:
        n, p = heard[(user_id, track_id, night)], played_through[(user_id, track_id, night)]
        outcome = "played_through" if p else ("skipped" if n else "not_played")
        expected[answer_id] = (
            n,
            p,
            n - p,
            outcome,
            should_cache and n > 0,
            should_cache == (p > 0) if n else None,
        )
    actual = query(
        wh,
        "select served_answer_id, listens, played_through_listens, skipped_listens, "
        "outcome, is_cache_hit, is_correct from marts.served_outcomes",
    )
    assert {r[0]: r[1:] for r in actual} == expected
    outcomes = Counter(v[3] for v in expected.values())
    assert outcomes["played_through"] >= 2 and outcomes["skipped"] >= 2
    assert outcomes["not_played"] >= 1  # every case is met

    summary = query(
        wh,
        "select decision_date, endpoint, arm, answers, listened_answers, accuracy, "
        "cache_hits from marts.ab_served_daily_summary",
    )
    keys = query(
        wh, "select served_answer_id, decision_date, endpoint, arm from marts.served_answers"
    )
    by_group: dict[tuple, list] = {}
    for answer_id, night, endpoint, arm in keys:
        by_group.setdefault((night, endpoint, arm), []).append(expected[answer_id])
    assert len(summary) == len(by_group)
    for night, endpoint, arm, n_answers, listened, accuracy, hits in summary:
        group = by_group[(night, endpoint, arm)]
        met = [g for g in group if g[0] > 0]
        assert n_answers == len(group) and listened == len(met)
        assert hits == sum(bool(g[4]) for g in group)
        if met:
            assert accuracy == pytest.approx(sum(g[5] for g in met) / len(met))
        else:
            assert accuracy is None


def test_a_second_build_lands_the_grown_file_and_keeps_a_deleted_one(served: dict, tiny_export):
    wh, log_dir = served["warehouse"], served["log_dir"]
    night, next_night = served["night"], served["next_night"]
    before = dict(
        query(
            wh, "select distinct source_file, file_signature from staging.base_serving__log_lines"
        )
    )
    (log_dir / f"{night}.jsonl").unlink()  # a retention job removed an old day
    with (log_dir / f"{next_night}.jsonl").open("ab") as f:
        f.write(_line(_answer(13, 101, "x" * 22, next_night)))
    run_cli("build", "--raw-dir", str(tiny_export), "--warehouse", str(wh), "--quiet")
    assert _accounting(wh) == {f"{night}.jsonl": (11, 5, 6), f"{next_night}.jsonl": (3, 2, 1)}
    after = dict(
        query(
            wh, "select distinct source_file, file_signature from staging.base_serving__log_lines"
        )
    )
    assert after[f"{night}.jsonl"] == before[f"{night}.jsonl"]
    assert after[f"{next_night}.jsonl"] != before[f"{next_night}.jsonl"]


def test_without_a_log_folder_the_served_models_build_empty(tiny_export: Path, tiny_warehouse):
    assert not resolve_paths(tiny_export, tiny_warehouse).served_log.exists()
    for table in SERVED_TABLES:
        assert query(tiny_warehouse, f"select count(*) from {table}") == [(0,)], table


def test_discover_served_logs(tmp_path: Path):
    assert rawfiles.discover_served_logs(None) == []
    assert rawfiles.discover_served_logs("") == []
    assert rawfiles.discover_served_logs(tmp_path / "absent") == []
    (tmp_path / "2024-05-02.jsonl").write_bytes(b"{}\n")
    (tmp_path / "2024-05-01.jsonl").write_bytes(b"")
    (tmp_path / "2024-05-03.jsonl.tmp").write_bytes(b"{}\n")
    found = rawfiles.discover_served_logs(tmp_path)
    assert [f.source_file for f in found] == ["2024-05-01.jsonl", "2024-05-02.jsonl"]
    assert {f.entity for f in found} == {rawfiles.SERVED_ANSWERS}
    table = rawfiles.land_served_logs(
        tmp_path, {"2024-05-01.jsonl": found[0].signature()}
    ).read_all()
    assert table.schema == rawfiles.LANDING_SCHEMA
    assert table["source_file"].to_pylist() == ["2024-05-02.jsonl"]
    with pytest.raises(RawInputError, match="not a folder"):
        rawfiles.discover_served_logs(tmp_path / "2024-05-02.jsonl")


# --- the writer (scoring/decide/served_log.py) ------------------------------------------------------


def test_the_writer_appends_whole_lines_per_day_and_never_glues_to_a_torn_one(tmp_path: Path):
    from scoring.decide.served_log import ServedLog

    folder = tmp_path / "requests"
    folder.mkdir()
    (folder / "2025-01-01.jsonl").write_bytes(b'{"torn": ')
    writer = ServedLog(folder, interval=3600)  # flushed by hand here
    writer.append("2025-01-01", b'{"a": 1}\n')
    writer.append("2025-01-02", b'{"b": 2}\n{"c": 3}\n')
    writer.flush()
    writer.append("2025-01-02", b'{"d": 4}\n')
    writer.close()  # flushes what is left
    assert (folder / "2025-01-01.jsonl").read_bytes() == b'{"torn": \n{"a": 1}\n'
    assert (folder / "2025-01-02.jsonl").read_bytes() == b'{"b": 2}\n{"c": 3}\n{"d": 4}\n'


def test_a_failed_write_is_counted_not_raised(tmp_path: Path):
    import os

    from scoring.decide.served_log import ServedLog

    blocked = tmp_path / "requests"
    blocked.write_text("a file where the folder should be")
    lost: list[int] = []
    writer = ServedLog(blocked, interval=3600, on_failure=lost.append)
    writer.append("2025-01-01", b"{}\n{}\n")
    writer.flush()
    assert lost == [2]  # the lines lost, not the appends
    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        writer.append("2025-01-01", b"{}\n")
        writer.flush()
    assert len(os.listdir("/proc/self/fd")) <= fds  # no descriptor leaks per failure
    writer.close()
