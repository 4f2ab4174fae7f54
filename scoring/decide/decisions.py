"""Cache decisions for one night, in SQL, written in one transaction.

The rules (threshold, arms and their shares, the naive rule, the holdout arm, the baselines)
live in scoring/decide/policy.py; this module applies them to the night's candidate pairs
(marts.scoring_features) and to every catalogue track (the per-track defaults).
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

from scoring.decide import policy
from scoring.decide.policy import DecisionSettings, arm_of
from scoring.model import job_tables
from scoring.model.sql_scoring import p_play_sql

# The tables written here (decisions.cache_decisions, track_default_decisions, user_arms) are
# created by dbt (macro create_decision_tables, on-run-start): a night builds before it decides.


def policy_expression(con: duckdb.DuckDBPyConnection, name: str, alias: str) -> str:
    """SQL for p_play under the night's decision policy (a model version or a baseline)."""
    if policy.is_model(name):
        return p_play_sql(con, name, alias)
    return policy.baseline_p_play_sql(name, alias)


def decide(
    con: duckdb.DuckDBPyConnection,
    decision_date: date,
    decision_policy: str,
    run_id: str,
    settings: DecisionSettings,
) -> dict:
    """Replace the night's decisions and per-track defaults in one transaction; return counts.
    A night whose rows repeat a table's key raises GrainError and writes nothing."""
    # every known user gets the night's arm (candidates or not): the outcome models count
    # each arm's requests, including those answered by the track defaults
    users = con.execute(
        "select user_id from marts.dim_users union "
        "select user_id from marts.scoring_features where decision_date = ? order by 1",
        [decision_date],
    ).fetchall()
    arms = pd.DataFrame(
        {
            "user_id": [u for (u,) in users],
            "arm": [arm_of(u, settings.arm_shares) for (u,) in users],
        }
    )
    decided_at = datetime.now().replace(microsecond=0)
    model_p = policy_expression(con, decision_policy, "f")
    threshold = float(settings.threshold)
    con.execute("begin transaction")
    try:
        # a decisions table with the primary-key index of an earlier version loses it, once
        job_tables.drop_key_indexes(con, "decisions")
        con.register("user_arms", arms)
        con.execute("delete from decisions.user_arms where decision_date = ?", [decision_date])
        con.execute(
            "insert into decisions.user_arms select ?, user_id, arm, ?, ? from user_arms",
            [decision_date, run_id, decided_at],
        )
        con.execute(
            "delete from decisions.cache_decisions where decision_date = ?", [decision_date]
        )
        con.execute(
            f"""
            insert into decisions.cache_decisions
            select
                f.decision_date, f.user_id, f.track_id, a.arm,
                scored.p_play,
                {policy.should_cache_sql("scored.p_play", "a.arm", threshold)},
                case when a.arm = '{policy.NAIVE}' then '{policy.NAIVE_RULE}' else ? end,
                ?, ?
            from marts.scoring_features as f
            inner join user_arms as a on f.user_id = a.user_id
            cross join lateral (
                select case
                    when a.arm = '{policy.NAIVE}' then {policy.naive_p_play_sql("f")}
                    else {policy.clamp_sql(model_p)}
                end as p_play
            ) as scored
            where f.decision_date = ?
            """,
            [decision_policy, run_id, decided_at, decision_date],
        )
        con.execute(
            "delete from decisions.track_default_decisions where decision_date = ?", [decision_date]
        )
        con.execute(
            f"""
            insert into decisions.track_default_decisions
            select ?, t.track_id, p.p_play, p.p_play >= {threshold}, ?, ?, ?
            from marts.dim_tracks as t
            cross join (select * from marts.global_features_daily where feature_date = ?) as g
            left join marts.track_features_daily as tf
                on tf.track_id = t.track_id and tf.feature_date = g.feature_date
            cross join lateral (
                select {policy.clamp_sql(policy.TRACK_DEFAULT_P_PLAY_SQL)} as p_play
            ) as p
            """,
            [decision_date, f"track-default:{decision_policy}", run_id, decided_at, decision_date],
        )
        con.unregister("user_arms")
        for table in job_tables.tables("decisions"):  # the grain of the night just written
            if not table.key_index:
                job_tables.check_grain(con, table, "decision_date = ?", [decision_date])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    counts = con.execute(
        "select arm, count(*), sum(should_cache::int) from decisions.cache_decisions "
        "where decision_date = ? group by arm order by arm",
        [decision_date],
    ).fetchall()
    defaults = con.execute(
        "select count(*), sum(should_cache::int) from decisions.track_default_decisions "
        "where decision_date = ?",
        [decision_date],
    ).fetchall()[0]
    return {"arms": {a: (n, c) for a, n, c in counts}, "track_defaults": defaults}
