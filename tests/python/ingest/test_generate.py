"""scoring.ingest.generate: synthetic exports that behave like the real ones, deterministically."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from scoring.ingest.generate import GenerateOptions, generate

FILES = ["sessions.jsonl", "tracks.jsonl", "users.jsonl", "artists.jsonl", "track_storage.jsonl"]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_same_seed_same_bytes(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, GenerateOptions(preset="tiny", seed=5))
    generate(b, GenerateOptions(preset="tiny", seed=5))
    for name in [*FILES, "_truth.parquet"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    generate(b, GenerateOptions(preset="tiny", seed=6))
    assert (a / "sessions.jsonl").read_bytes() != (b / "sessions.jsonl").read_bytes()


def test_default_format_is_23z_v2(tiny_export: Path):
    first = _lines(tiny_export / "sessions.jsonl")[0]
    assert list(json.loads(first)) == [
        "session_id",
        "timestamp",
        "user_id",
        "track_id",
        "event_type",
    ]
    events = [json.loads(line) for line in _lines(tiny_export / "sessions.jsonl")]
    kinds = {e["event_type"] for e in events}
    assert {"play", "skip", "like", "advertisment"} <= kinds  # (sic), as in the real export
    assert all(e["track_id"] is None for e in events if e["event_type"] == "advertisment")
    assert any("." not in e["timestamp"] for e in events) and any(
        "." in e["timestamp"] for e in events
    )
    user = json.loads(_lines(tiny_export / "users.jsonl")[0])
    assert list(user) == ["user_id", "name", "city", "street", "favourite_genres", "premium_user"]
    track = json.loads(_lines(tiny_export / "tracks.jsonl")[0])
    assert {
        "id",
        "popularity",
        "duration_ms",
        "explicit",
        "id_artist",
        "release_date",
        "tempo",
    } <= set(track)


def test_behaviour_is_realistic(tiny_export: Path):
    con = duckdb.connect()
    con.execute(
        f"create view ev as select * from read_json_auto('{tiny_export / 'sessions.jsonl'}')"
    )
    con.execute(
        f"create view users as select * from read_json_auto('{tiny_export / 'users.jsonl'}')"
    )
    con.execute(
        f"create view artists as select * from read_json_auto('{tiny_export / 'artists.jsonl'}')"
    )
    con.execute(f"create view truth as select * from '{tiny_export / '_truth.parquet'}'")
    # every skip follows a play of the same track in the same session
    orphan_skips = con.execute(
        """select count(*) from ev as s where s.event_type = 'skip' and not exists (
               select 1 from ev as p where p.event_type = 'play' and p.session_id = s.session_id
               and p.track_id = s.track_id and p.timestamp <= s.timestamp)"""
    ).fetchall()[0][0]
    assert orphan_skips == 0
    # ads only for free users
    premium_ads = con.execute(
        """select count(*) from ev join users using (user_id)
           where ev.event_type = 'advertisment' and users.premium_user"""
    ).fetchall()[0][0]
    assert premium_ads == 0
    # favourite genres come from the artists' vocabulary
    unknown = con.execute(
        """select count(*) from (select unnest(favourite_genres) as g from users)
           where g not in (select unnest(genres) from artists)"""
    ).fetchall()[0][0]
    assert unknown == 0
    # one truth row per play, and the per-user skip propensity is spread widely
    plays = con.execute("select count(*) from ev where event_type = 'play'").fetchall()[0][0]
    assert con.execute("select count(*) from truth").fetchall()[0][0] == plays
    lo, hi = con.execute(
        "select min(p), max(p) from (select user_id, avg(p_skip) as p from truth group by 1)"
    ).fetchall()[0]
    assert lo < 0.3 and hi > 0.7
    sessions, events = con.execute(
        "select count(distinct session_id), count(*) from ev"
    ).fetchall()[0]
    assert events / sessions > 5


@pytest.mark.parametrize(
    ("options", "check"),
    [
        (dict(timestamps="epoch_ms"), lambda e: isinstance(e["timestamp"], int)),
        (dict(timestamps="offset"), lambda e: e["timestamp"].endswith(" +02:00:00")),
        (
            dict(event_case="upper"),
            lambda e: e["event_type"] in {"PLAY", "SKIP", "LIKE", "ADVERTISEMENT", "BUY_PREMIUM"},
        ),
        (
            dict(event_case="title"),
            lambda e: e["event_type"] in {"Play", "Skip", "Like", "Advertisement", "BuyPremium"},
        ),
        (dict(session_id_last=True), lambda e: list(e)[-1] == "session_id"),
        (dict(arrays=True), lambda e: isinstance(e, list) and len(e) == 5),
    ],
)
def test_spelling_switches(tmp_path: Path, options: dict, check):
    generate(tmp_path, GenerateOptions(preset="tiny", seed=2, **options))
    events = [json.loads(line) for line in _lines(tmp_path / "sessions.jsonl")]
    assert all(check(e) for e in events)


def test_daily_drops(tmp_path: Path):
    generate(tmp_path, GenerateOptions(preset="tiny", seed=2, daily_drops=True))
    drops = sorted((tmp_path / "sessions").glob("*.jsonl"))
    assert len(drops) > 30 and not (tmp_path / "sessions.jsonl").exists()
    for drop in drops[:5]:
        days = {json.loads(line)["timestamp"][:10] for line in _lines(drop)}
        assert days == {drop.stem}


def test_dirty_has_v1_dirt(tmp_path: Path):
    generate(tmp_path, GenerateOptions(preset="tiny", seed=2, dirty=True))
    events = [json.loads(line) for line in _lines(tmp_path / "sessions.jsonl")]
    for key in ("user_id", "event_type"):
        share = sum(e[key] is None for e in events) / len(events)
        assert 0.03 < share < 0.08, key
    assert any(json.loads(line).get("id") == -1 for line in _lines(tmp_path / "users.jsonl"))
    assert any(json.loads(line)["id"] == -1 for line in _lines(tmp_path / "artists.jsonl"))
