"""Cache decisions for one night, in SQL, written in one transaction.

Arms (like the seed's /abtest): users are split by a stable hash of user_id into arms with
configurable shares. `model` decides with the night's decision policy (the promoted model, or
the fallback the gate chose), `naive` with the seed's rule (cache iff the track's genres meet
the user's favourites), and the optional `holdout` arm caches nothing (an unbiased baseline;
its p_play is the model's, for evaluation).

The cost model: caching a pair that is played through gains G, caching one that is skipped
costs C (the storage and bandwidth wasted). Caching pays when p_play * G > (1 - p_play) * C,
that is when p_play >= C / (G + C). With G = C the threshold is 0.5, which reproduces the
seed's accuracy objective; `threshold` is a setting (DecisionSettings).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb
import pandas as pd

from scoring.sql_scoring import p_play_sql

# The tables written here (decisions.cache_decisions, track_default_decisions, user_arms) are
# created by dbt (macro create_decision_tables, on-run-start): a night builds before it decides.


class SettingsError(ValueError):
    """A setting given by the user is invalid; the message names it."""


@dataclass(frozen=True)
class DecisionSettings:
    threshold: float = 0.5
    arm_shares: dict[str, float] = field(default_factory=lambda: {"model": 0.5, "naive": 0.5})

    def __post_init__(self) -> None:
        unknown = set(self.arm_shares) - {"model", "naive", "holdout"}
        if unknown or abs(sum(self.arm_shares.values()) - 1) > 1e-9:
            raise SettingsError(
                f"--arms: shares must be of model/naive/holdout and sum to 1, got {self.arm_shares}"
            )


def arm_of(user_id: int, shares: dict[str, float]) -> str:
    """The user's arm: the md5 of the user id, as a number in [0, 1), against the shares."""
    digest = hashlib.md5(str(int(user_id)).encode()).hexdigest()
    bucket = int(digest[:15], 16) / 16**15
    edge = 0.0
    for name in sorted(shares):
        edge += shares[name]
        if bucket < edge:
            return name
    return sorted(shares)[-1]


def policy_expression(con: duckdb.DuckDBPyConnection, policy: str, alias: str) -> str:
    """SQL for p_play under the night's decision policy (a model version or a baseline)."""
    if policy == "baseline:user_history":
        return f"1 - {alias}.user_skip_rate"
    if policy == "baseline:constant":
        return f"1 - {alias}.global_skip_rate"
    if policy == "baseline:naive":
        return f"case when {alias}.is_favourite_genre then 1.0 else 0.0 end"
    return p_play_sql(con, policy, alias)


def decide(
    con: duckdb.DuckDBPyConnection,
    decision_date: date,
    policy: str,
    run_id: str,
    settings: DecisionSettings,
) -> dict:
    """Replace the night's decisions and per-track defaults in one transaction; return counts."""
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
    model_p = policy_expression(con, policy, "f")
    threshold = float(settings.threshold)
    con.execute("begin transaction")
    try:
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
                case when a.arm = 'holdout' then false else scored.p_play >= {threshold} end,
                case when a.arm = 'naive' then 'naive-rule' else ? end,
                ?, ?
            from marts.scoring_features as f
            inner join user_arms as a on f.user_id = a.user_id
            cross join lateral (
                select case
                    when a.arm = 'naive' then case when f.is_favourite_genre then 1.0 else 0.0 end
                    else least(greatest({model_p}, 0.0), 1.0)
                end as p_play
            ) as scored
            where f.decision_date = ?
            """,
            [policy, run_id, decided_at, decision_date],
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
                select least(greatest({TRACK_DEFAULT_P_PLAY}, 0.0), 1.0) as p_play
            ) as p
            """,
            [decision_date, f"track-default:{policy}", run_id, decided_at, decision_date],
        )
        con.unregister("user_arms")
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


#: p_play of a pair outside the candidates, the same under every policy since no user is known
#: for it: the track's smoothed play rate before the night (the global rate for a new track).
TRACK_DEFAULT_P_PLAY = "1 - coalesce(tf.track_skip_rate, g.global_skip_rate)"
