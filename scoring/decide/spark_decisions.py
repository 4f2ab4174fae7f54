"""The night's decisions on Spark (`--engine spark`): the tables of decisions.py, by Spark SQL.

The same p_play SQL (from the weights exported to the control database), the arm hash of
policy.arm_of in SQL, and each table's night overwritten as a partition
(`insert overwrite ... partition (decision_date)`). The session and the DuckDB views over
Spark's tables are scoring.ingest.spark's.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from scoring.decide import policy
from scoring.decide.policy import DecisionSettings
from scoring.ingest.spark import attach_views, session, warehouse_of
from scoring.model.sql_scoring import p_play_sql


def arm_sql(user_id: str, shares: dict[str, float]) -> str:
    """policy.arm_of in SQL: the md5 of the user id as a number in [0, 1) against the shares
    (the same bucket to the last bit: a 60-bit integer over 2**60)."""
    digits = f"conv(substr(md5(cast({user_id} as string)), 1, 15), 16, 10)"
    bucket = f"cast({digits} as double) / {float(16**15)!r}"
    names = sorted(shares)
    edge = 0.0
    branches = []
    for name in names[:-1]:
        edge += shares[name]
        branches.append(f"when {bucket} < {edge!r} then '{name}'")
    if not branches:
        return f"'{names[-1]}'"
    return f"case {' '.join(branches)} else '{names[-1]}' end"


def decide(
    con: duckdb.DuckDBPyConnection,
    decision_date: date,
    decision_policy: str,
    run_id: str,
    settings: DecisionSettings,
) -> dict:
    """decisions.decide on Spark: the night's arms, pair decisions and track defaults, each
    written by overwriting the night's partition of its Spark table. The SQL of p_play
    comes from the exported weights in the control database (`con`), as on DuckDB."""
    spark = session()
    day = f"date '{decision_date.isoformat()}'"
    decided_at = datetime.now().replace(microsecond=0)
    stamp = f"timestamp '{decided_at.isoformat(sep=' ')}'"
    if policy.is_model(decision_policy):
        model_p = p_play_sql(con, decision_policy, "f")
    else:
        model_p = policy.baseline_p_play_sql(decision_policy, "f")
    threshold = float(settings.threshold)
    spark.sql(
        f"""
        insert overwrite table decisions.user_arms partition (decision_date)
        select user_id, {arm_sql("user_id", settings.arm_shares)} as arm,
            '{run_id}' as run_id, {stamp} as decided_at, {day} as decision_date
        from (
            select user_id from marts.dim_users
            union
            select user_id from marts.scoring_features where decision_date = {day}
        ) as users
        """
    )
    spark.sql(
        f"""
        insert overwrite table decisions.cache_decisions partition (decision_date)
        select
            user_id, track_id, arm, p_play,
            {policy.should_cache_sql("p_play", "arm", threshold)} as should_cache,
            case when arm = '{policy.NAIVE}' then '{policy.NAIVE_RULE}'
                else '{decision_policy}' end as model_version,
            '{run_id}' as run_id, {stamp} as decided_at, decision_date
        from (
            select
                f.decision_date, f.user_id, f.track_id, a.arm,
                cast(case
                    when a.arm = '{policy.NAIVE}' then {policy.naive_p_play_sql("f")}
                    else {policy.clamp_sql(model_p)}
                end as double) as p_play
            from marts.scoring_features as f
            inner join decisions.user_arms as a
                on f.user_id = a.user_id and a.decision_date = {day}
            where f.decision_date = {day}
        ) as scored
        """
    )
    spark.sql(
        f"""
        insert overwrite table decisions.track_default_decisions partition (decision_date)
        select track_id, p_play, p_play >= {threshold!r} as should_cache,
            'track-default:{decision_policy}' as model_version, '{run_id}' as run_id,
            {stamp} as decided_at, {day} as decision_date
        from (
            select t.track_id,
                cast({policy.clamp_sql(policy.TRACK_DEFAULT_P_PLAY_SQL)} as double) as p_play
            from marts.dim_tracks as t
            cross join (select * from marts.global_features_daily where feature_date = {day}) as g
            left join marts.track_features_daily as tf
                on tf.track_id = t.track_id and tf.feature_date = g.feature_date
        ) as p
        """
    )
    counts = spark.sql(
        "select arm, count(*), sum(cast(should_cache as int)) from decisions.cache_decisions "
        f"where decision_date = {day} group by arm order by arm"
    ).collect()
    defaults = spark.sql(
        "select count(*), sum(cast(should_cache as int)) from decisions.track_default_decisions "
        f"where decision_date = {day}"
    ).collect()[0]
    attach_views(con, warehouse_of(con), ("decisions",))  # the night's files, now present
    return {
        "arms": {r[0]: (int(r[1]), int(r[2] or 0)) for r in counts},
        "track_defaults": (int(defaults[0]), defaults[1]),
    }
