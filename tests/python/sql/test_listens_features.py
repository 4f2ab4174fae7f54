"""Listens and point-in-time features, checked against independent recomputations."""

from __future__ import annotations

import json
import random
import re
import shutil
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import (
    COMPARED_TABLES,
    assert_compared_tables_equal,
    query,
    real_export,
    started_from_stored_totals,
)

from scoring.config import resolve_paths
from scoring.ingest.build import build
from scoring.ingest.generate import GenerateOptions, generate

FEATURE_MODELS = ("user_features_daily", "track_features_daily", "user_genre_features_daily")
EVENT_TYPES = {"play", "skip", "like", "advertisement", "advertisment", "buypremium"}


def derive_listens(raw_dir: Path) -> tuple[int, int]:
    """Listens and skipped listens straight from the raw file(s), in plain Python.

    An event needs a session, a user, a time, a known event type and (for play/skip) a track;
    each skip belongs to the latest play of its track in its session at or before it.
    """
    files = (
        [raw_dir / "sessions.jsonl"]
        if (raw_dir / "sessions.jsonl").exists()
        else sorted((raw_dir / "sessions").glob("*.jsonl"))
    )
    by_key: dict[tuple, list] = defaultdict(list)
    for f in files:
        for line in f.read_text().splitlines():
            e = json.loads(line)
            kind = re.sub("[^a-z]", "", (e.get("event_type") or "").lower())
            if (
                kind not in {"play", "skip"}
                or None in (e.get("session_id"), e.get("user_id"), e.get("timestamp"))
                or not e.get("track_id")
            ):
                continue
            at = datetime.fromisoformat(e["timestamp"])
            by_key[(e["session_id"], e["track_id"])].append((at, 0 if kind == "play" else 1))
    listens = skipped = 0
    for events in by_key.values():
        events.sort()
        current = None  # index of the latest play so far
        skipped_plays: set[int] = set()
        for i, (_, kind) in enumerate(events):
            if kind == 0:
                current = i
                listens += 1
            elif current is not None:
                skipped_plays.add(current)
        skipped += len(skipped_plays)
    return listens, skipped


def _assert_before_columns_are_exact(wh: Path) -> None:
    """The four *_before columns equal counts over strictly earlier dates, for every row."""
    bad = query(
        wh,
        """
        with daily_user as (
            select user_id, listen_date, count(*) as n, sum(is_skipped::int) as s
            from marts.fct_listens group by all
        ), daily_track as (
            select track_id, listen_date, count(*) as n, sum(is_skipped::int) as s
            from marts.fct_listens group by all
        )
        select count(*) from marts.training_examples as t
        where user_listens_before <> coalesce((select sum(n) from daily_user as d where d.user_id = t.user_id and d.listen_date < t.listen_date), 0)
           or user_skips_before <> coalesce((select sum(s) from daily_user as d where d.user_id = t.user_id and d.listen_date < t.listen_date), 0)
           or track_listens_before <> coalesce((select sum(n) from daily_track as d where d.track_id = t.track_id and d.listen_date < t.listen_date), 0)
           or track_skips_before <> coalesce((select sum(s) from daily_track as d where d.track_id = t.track_id and d.listen_date < t.listen_date), 0)
        """,
    )
    assert bad == [(0,)]
    assert query(wh, "select count(*) from marts.training_examples") == query(
        wh, "select count(*) from marts.fct_listens"
    )


@pytest.fixture(scope="module")
def v2_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    raw = real_export("ium23z-v2")
    wh = tmp_path_factory.mktemp("v2") / "wh.duckdb"
    build(resolve_paths(raw, wh), quiet=True)
    return raw, wh


def test_listens_match_the_raw_file_generated(tiny_export: Path, tiny_warehouse: Path):
    listens, skipped = derive_listens(tiny_export)
    assert query(
        tiny_warehouse, "select count(*), sum(is_skipped::int) from marts.fct_listens"
    ) == [(listens, skipped)]
    _assert_before_columns_are_exact(tiny_warehouse)


def test_listens_match_the_raw_file_real_v2(v2_warehouse: tuple[Path, Path]):
    raw, wh = v2_warehouse
    listens, skipped = derive_listens(raw)
    assert (listens, skipped) == (14456, 4570)
    assert query(wh, "select count(*), sum(is_skipped::int) from marts.fct_listens") == [
        (listens, skipped)
    ]
    assert query(wh, "select count(*) from marts.orphan_track_events") == [(0,)]
    _assert_before_columns_are_exact(wh)


def test_listens_match_the_raw_file_real_v1(tmp_path: Path):
    raw = real_export("ium23z-v1")
    wh = tmp_path / "wh.duckdb"
    build(resolve_paths(raw, wh), quiet=True)
    listens, skipped = derive_listens(raw)
    assert query(wh, "select count(*), sum(is_skipped::int) from marts.fct_listens") == [
        (listens, skipped)
    ]
    # dirty: skips whose play was quarantined (or never existed) are kept in account
    orphans = query(wh, "select count(*) from marts.orphan_track_events where event_type = 'skip'")[
        0
    ][0]
    matched = query(
        wh,
        "select count(*) from intermediate.int_track_events_matched where event_type = 'skip' and listen_id is not null",
    )[0][0]
    staged = query(
        wh, "select count(*) from staging.stg_pozytywka__sessions where event_type = 'skip'"
    )[0][0]
    assert orphans > 0 and orphans + matched == staged
    _assert_before_columns_are_exact(wh)


def _recompute_from_staged_events(wh: Path, listen_ids: list[str]) -> dict[str, dict]:
    """Features of some listens recomputed in Python from staged events before their date."""
    events = query(
        wh,
        "select session_id, user_id, track_id, event_type, event_at from staging.stg_pozytywka__sessions "
        "where event_type in ('play', 'skip')",
    )
    by_key: dict[tuple, list] = defaultdict(list)
    for session_id, user_id, track_id, kind, at in events:
        by_key[(session_id, track_id)].append((at, 0 if kind == "play" else 1, user_id))
    plays = []  # (user, track, date, at, skipped)
    for (_, track_id), evs in by_key.items():
        evs.sort(key=lambda e: (e[0], e[1]))
        current = None
        for at, kind, user_id in evs:
            if kind == 0:
                current = [user_id, track_id, at.date(), at, False]
                plays.append(current)
            elif current is not None:
                current[4] = True
    wanted = query(
        wh,
        "select listen_id, user_id, track_id, listen_date from marts.fct_listens where listen_id in ("
        + ", ".join(f"'{i}'" for i in listen_ids)
        + ")",
    )
    out = {}
    for listen_id, user_id, track_id, day in wanted:
        before = [p for p in plays if p[2] < day]
        user_before = [p for p in before if p[0] == user_id]
        g_skips, g_listens = sum(p[4] for p in before), len(before)
        prior = g_skips / g_listens if g_listens else 0.5
        out[listen_id] = {
            "user_listens_before": len(user_before),
            "user_skips_before": sum(p[4] for p in user_before),
            "track_listens_before": sum(1 for p in before if p[1] == track_id),
            "user_skip_rate": (sum(p[4] for p in user_before) + 10 * prior)
            / (len(user_before) + 10),
            "seed_user_skip_rate": sum(p[4] for p in plays if p[0] == user_id)
            / sum(1 for p in plays if p[0] == user_id),
        }
    return out


def test_sampled_features_equal_a_recomputation_from_staged_events(tiny_warehouse: Path):
    ids = [
        r[0]
        for r in query(tiny_warehouse, "select listen_id from marts.fct_listens order by listen_id")
    ]
    sample = random.Random(1).sample(ids, 150)
    expected = _recompute_from_staged_events(tiny_warehouse, sample)
    rows = query(
        tiny_warehouse,
        "select listen_id, user_listens_before, user_skips_before, track_listens_before, user_skip_rate "
        "from marts.training_examples where listen_id in ("
        + ", ".join(f"'{i}'" for i in sample)
        + ")",
    )
    assert len(rows) == len(sample)
    seed_way_mismatches = 0
    for listen_id, user_listens, user_skips, track_listens, user_rate in rows:
        e = expected[listen_id]
        assert (user_listens, user_skips, track_listens) == (
            e["user_listens_before"],
            e["user_skips_before"],
            e["track_listens_before"],
        )
        assert user_rate == pytest.approx(e["user_skip_rate"], abs=1e-12)
        # the seed computed the user's skip rate over all rows, the predicted one included:
        # the same check catches it (it sees the listen's own label and the future)
        seed_way_mismatches += e["seed_user_skip_rate"] != pytest.approx(
            e["user_skip_rate"], abs=1e-3
        )
    assert seed_way_mismatches > 0.9 * len(sample)


def _snapshot(wh: Path, with_load_time: bool = False) -> dict[str, list]:
    exclude = "" if with_load_time else " exclude (loaded_at)"
    return {
        t: query(wh, f"select *{exclude} from {t} order by {key}")
        for t, key in COMPARED_TABLES.items()
    }


def test_daily_drops_one_by_one_equal_one_full_build_late_events_included(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=21, daily_drops=True))
    drops = sorted((raw / "sessions").glob("*.jsonl"))
    # a late drop: half of an already-built day arrives after two newer days
    middle = drops[len(drops) // 2]
    lines = middle.read_text().splitlines(keepends=True)
    middle.write_text("".join(lines[: len(lines) // 2]))
    late = tmp_path / "zz-late.jsonl"
    late.write_text("".join(lines[len(lines) // 2 :]))
    # the next day, then a day with a gap before it, then the missing day, late
    held = [tmp_path / d.name for d in (drops[-3], drops[-1], drops[-2])]
    for d in drops[-3:]:
        d.rename(tmp_path / d.name)

    wh = tmp_path / "incremental.duckdb"
    paths = resolve_paths(raw, wh)
    build(paths, quiet=True)
    for f in [*held, late]:
        f.rename(raw / "sessions" / f.name)
        build(paths, quiet=True)
        # every one of these nights started the older totals from the tables' stored rows
        for model in FEATURE_MODELS:
            assert started_from_stored_totals(paths.dbt_target, model), (f.name, model)
        if f == held[1]:
            # after a day without data the first changed date is past the last stored date
            # (user_genre_features_daily, with no window, starts its history there): the
            # night's tables equal a full build of the same files, before the late drops
            # rewrite those dates; the feature tables at the days with listens and the night
            # (the last night's date, a day without data now, is a full build's no longer)
            gap = tmp_path / "gap.duckdb"
            build(resolve_paths(raw, gap), quiet=True)
            assert_compared_tables_equal(
                wh,
                gap,
                feature_dates="select listen_date from marts.fct_listens "
                "union select max(listen_date) + 1 from marts.fct_listens",
            )
    before_rebuild = _snapshot(wh, with_load_time=True)
    build(paths, quiet=True)  # nothing new: nothing changes, load times included
    assert _snapshot(wh, with_load_time=True) == before_rebuild

    full = tmp_path / "full.duckdb"
    build(resolve_paths(raw, full), quiet=True)
    incremental, complete = _snapshot(wh), _snapshot(full)
    for table in COMPARED_TABLES:
        assert len(incremental[table]) == len(complete[table]) > 0, table
        assert incremental[table] == complete[table], table
    shutil.rmtree(raw)


def test_a_past_decision_date_asked_of_a_built_warehouse_equals_a_full_build(
    tiny_export: Path, tmp_path: Path
):
    # a backfill or a re-decided night on a warehouse that is already built: the incremental run
    # rewrites that date's feature rows, those of the entities that listened that day included
    wh = tmp_path / "incremental.duckdb"
    build(resolve_paths(tiny_export, wh), quiet=True)
    [(night,)] = query(wh, "select max(listen_date) - 10 from marts.fct_listens")
    [(listens_that_night,)] = query(
        wh, f"select count(*) from marts.fct_listens where listen_date = '{night}'"
    )
    assert listens_that_night > 0
    build(resolve_paths(tiny_export, wh), quiet=True, decision_dates=[night])
    full = tmp_path / "full.duckdb"
    build(resolve_paths(tiny_export, full), quiet=True, decision_dates=[night])
    incremental, complete = _snapshot(wh), _snapshot(full)
    for table in COMPARED_TABLES:
        assert len(incremental[table]) == len(complete[table]) > 0, table
        assert incremental[table] == complete[table], table


def test_a_stored_date_older_than_later_drops_is_not_a_starting_point(tmp_path: Path):
    # a decision date asked beyond the data (a night planned ahead) leaves that date's rows in
    # place while later drops arrive; after a day with a gap, that date is still the table's last
    # one, but its totals predate a drop: the older totals must not start from it
    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=21, daily_drops=True))
    drops = sorted((raw / "sessions").glob("*.jsonl"))
    held = [tmp_path / d.name for d in (drops[-3], drops[-1])]
    for d in drops[-3:]:
        d.rename(tmp_path / d.name)
    ahead = (datetime.fromisoformat(drops[-1].stem) + timedelta(days=5)).date()

    wh = tmp_path / "incremental.duckdb"
    paths = resolve_paths(raw, wh)
    build(paths, quiet=True, decision_dates=[ahead])
    for f in held:  # the next day, then a day with a gap before it
        f.rename(raw / "sessions" / f.name)
        build(paths, quiet=True)

    full = tmp_path / "full.duckdb"
    build(resolve_paths(raw, full), quiet=True)
    # the dates a full build has: listen days and the day after the last (the date asked ahead
    # and the second night's spine date keep their rows, which a full build has not)
    assert_compared_tables_equal(
        wh,
        full,
        "select listen_date from marts.fct_listens"
        " union select max(listen_date) + 1 from marts.fct_listens",
    )
