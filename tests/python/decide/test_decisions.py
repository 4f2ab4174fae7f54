"""The night's decisions (scoring/decide/decisions.py) on a hand-made warehouse: the arms, each arm's
rule, the threshold, the per-track defaults, a re-run night, and a failed night that leaves
the previous decisions as they were."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from scoring.decide import policy
from scoring.decide.decisions import decide
from scoring.decide.policy import DecisionSettings
from scoring.errors import GrainError
from scoring.model import job_tables

NIGHT = date(2025, 1, 1)
SHARES = {"model": 0.4, "naive": 0.4, "holdout": 0.2}
USERS = range(1, 41)


@pytest.fixture
def con():
    con = duckdb.connect(":memory:")
    job_tables.ensure(con, "decisions")
    con.execute("create schema marts")
    con.execute("create table marts.dim_users as select range as user_id from range(1, 41)")
    con.execute(
        "create table marts.dim_tracks as select * from (values ('a'), ('b'), ('c')) t(track_id)"
    )
    con.execute(
        "create table marts.scoring_features as "
        "select date '2025-01-01' as decision_date, u as user_id, t as track_id, "
        "u % 3 = 0 as is_favourite_genre, (u % 10) / 10.0 as user_skip_rate, "
        "0.3 as global_skip_rate "
        "from range(1, 41) r(u), (values ('a'), ('b')) s(t)"
    )
    con.execute(
        "create table marts.global_features_daily as "
        "select date '2025-01-01' as feature_date, 0.3 as global_skip_rate"
    )
    con.execute(
        "create table marts.track_features_daily as select * from "
        "(values ('a', date '2025-01-01', 0.7), ('b', date '2025-01-01', 0.2)) "
        "t(track_id, feature_date, track_skip_rate)"
    )
    yield con
    con.close()


def _rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_each_arm_answers_by_its_rule(con):
    settings = DecisionSettings(threshold=0.5, arm_shares=SHARES)
    counts = decide(con, NIGHT, policy.BASELINE_USER_HISTORY, "run1", settings)
    rows = _rows(
        con,
        "select d.user_id, d.track_id, d.arm, d.p_play, d.should_cache, d.model_version, "
        "f.is_favourite_genre, f.user_skip_rate from decisions.cache_decisions d "
        "join marts.scoring_features f using (decision_date, user_id, track_id)",
    )
    assert len(rows) == 80  # every candidate pair, once
    for user, _, arm, p, cache, version, favourite, skip_rate in rows:
        assert arm == policy.arm_of(user, SHARES)
        if arm == policy.NAIVE:
            assert (p, version) == (1.0 if favourite else 0.0, policy.NAIVE_RULE)
        else:
            assert (
                p == pytest.approx(1 - float(skip_rate)) and version == policy.BASELINE_USER_HISTORY
            )
        assert cache == (arm != policy.HOLDOUT and p >= 0.5)
    assert {a for _, _, a, *_ in rows} == {"model", "naive", "holdout"}
    # every known user has the night's arm, candidate or not
    assert _rows(con, "select count(*) from decisions.user_arms") == [(len(USERS),)]
    # a track's default: its smoothed play rate before the night, the global rate when unheard
    defaults = dict(_rows(con, "select track_id, p_play from decisions.track_default_decisions"))
    assert defaults == pytest.approx({"a": 0.3, "b": 0.8, "c": 0.7})
    assert counts["track_defaults"] == (3, 2)
    assert sum(n for n, _ in counts["arms"].values()) == 80


def test_a_rerun_night_replaces_its_rows(con):
    decide(con, NIGHT, policy.BASELINE_CONSTANT, "run1", DecisionSettings(arm_shares=SHARES))
    decide(con, NIGHT, policy.BASELINE_CONSTANT, "run2", DecisionSettings(arm_shares=SHARES))
    for table in ("cache_decisions", "track_default_decisions", "user_arms"):
        assert _rows(con, f"select distinct run_id from decisions.{table}") == [("run2",)]
    assert _rows(con, "select count(*) from decisions.cache_decisions") == [(80,)]


def test_a_failed_night_leaves_the_previous_decisions(con):
    decide(con, NIGHT, policy.BASELINE_CONSTANT, "run1", DecisionSettings(arm_shares=SHARES))
    before = _rows(con, "select * from decisions.cache_decisions order by all")
    # a candidate without a track breaks the NOT NULL of cache_decisions.track_id mid-night
    con.execute(
        "insert into marts.scoring_features values (date '2025-01-01', 1, null, false, 0.1, 0.3)"
    )
    with pytest.raises(duckdb.ConstraintException):
        decide(con, NIGHT, policy.BASELINE_CONSTANT, "run2", DecisionSettings(arm_shares=SHARES))
    assert _rows(con, "select * from decisions.cache_decisions order by all") == before
    assert _rows(con, "select distinct run_id from decisions.user_arms") == [("run1",)]


def test_a_night_that_repeats_a_pair_writes_nothing_and_names_the_table(con):
    """cache_decisions has no primary-key index (job_tables: key_index false): the job checks
    the grain of the night it writes, before it commits."""
    decide(con, NIGHT, policy.BASELINE_CONSTANT, "run1", DecisionSettings(arm_shares=SHARES))
    before = _rows(con, "select * from decisions.cache_decisions order by all")
    con.execute(
        "insert into marts.scoring_features "
        "select * from marts.scoring_features where user_id = 7 and track_id = 'b'"
    )
    with pytest.raises(GrainError, match=r"decisions\.cache_decisions: 2 rows for the key "):
        decide(con, NIGHT, policy.BASELINE_CONSTANT, "run2", DecisionSettings(arm_shares=SHARES))
    assert _rows(con, "select * from decisions.cache_decisions order by all") == before
    assert _rows(con, "select distinct run_id from decisions.user_arms") == [("run1",)]


def test_a_night_drops_the_key_index_of_an_earlier_version_and_keeps_its_nights(con):
    """Tables created with a primary key (before key_index false) lose it in the night's
    transaction, their earlier nights kept."""
    decide(con, NIGHT, policy.BASELINE_CONSTANT, "run1", DecisionSettings(arm_shares=SHARES))
    for t in job_tables.tables("decisions"):
        indexed = job_tables.Table(t.schema, t.name, t.columns, t.primary_key, key_index=True)
        con.execute(f"alter table decisions.{t.name} rename to {t.name}_rows")
        con.execute(indexed.create_statement())
        con.execute(f"insert into decisions.{t.name} select * from decisions.{t.name}_rows")
        con.execute(f"drop table decisions.{t.name}_rows")
    earlier = _rows(con, "select * from decisions.cache_decisions order by all")
    later = date(2025, 1, 2)
    con.execute("update marts.scoring_features set decision_date = ?", [later])
    con.execute("update marts.global_features_daily set feature_date = ?", [later])
    con.execute("update marts.track_features_daily set feature_date = ?", [later])
    decide(con, later, policy.BASELINE_CONSTANT, "run2", DecisionSettings(arm_shares=SHARES))
    assert _rows(
        con,
        "select count(*) from duckdb_constraints() where schema_name = 'decisions' "
        "and constraint_type = 'PRIMARY KEY'",
    ) == [(0,)]
    assert (
        _rows(
            con,
            f"select * from decisions.cache_decisions where decision_date = '{NIGHT}' order by all",
        )
        == earlier
    )
    assert _rows(con, "select count(*) from decisions.cache_decisions") == [(160,)]
