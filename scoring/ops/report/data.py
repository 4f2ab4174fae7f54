"""The report's numbers, read from the warehouse (read-only) in one pass: ReportData."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from scoring.errors import ReportError
from scoring.model.evaluation import PairedAucBootstrap, percentile_interval
from scoring.model.registry import ModelRecord
from scoring.model.registry import read as read_record
from scoring.model.sql_scoring import prepared_sql

POLICIES = ["model", "user_history", "naive", "constant"]

#: Below these, per arm, an A/B difference is not read as a result: users are the independent
#: units, and a cluster-robust interval over a few dozen users is too optimistic to act on.
MIN_USERS_PER_ARM = 30
MIN_REQUESTS_PER_ARM = 100
#: Paired bootstrap of hold-out AUC differences (as the gate draws them).
BOOTSTRAP_RESAMPLES = 400
BOOTSTRAP_SEED = 0
COST_UNIT = "daily_cost units"


@dataclass
class ReportData:
    night: date
    summary: pd.DataFrame  # ab_daily_summary
    comparison: pd.DataFrame  # ab_arm_comparison
    model: ModelRecord  # the model reported on
    weights: pd.DataFrame
    holdout: pd.DataFrame  # y_play and the p_play of each policy on the model's hold-out
    registry: pd.DataFrame
    arms: pd.DataFrame = field(default_factory=pd.DataFrame)  # per arm over the period
    nights: list = field(default_factory=list)  # every decided night
    last_listen: date | None = None
    references: pd.DataFrame = field(default_factory=pd.DataFrame)  # per night, covered requests
    auc: dict = field(default_factory=dict)  # policy -> hold-out AUC
    auc_intervals: dict = field(default_factory=dict)  # baseline -> (low, high) of model - it
    correlation: dict = field(default_factory=dict)
    served: pd.DataFrame | None = None  # ab_served_daily_summary, when present
    policies: pd.DataFrame = field(default_factory=pd.DataFrame)  # arm, model_version, nights


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return rows[0][0] > 0


def _period(comparison: pd.DataFrame) -> tuple[str, str]:
    if len(comparison) and pd.notna(comparison["first_night"].iloc[0]):
        first, last = comparison["first_night"].iloc[0], comparison["last_night"].iloc[0]
        return f"{pd.Timestamp(first):%Y-%m-%d}", f"{pd.Timestamp(last):%Y-%m-%d}"
    return "0001-01-01", "9999-12-31"


def load(con: duckdb.DuckDBPyConnection) -> ReportData:
    nights = con.execute("select max(decision_date) from decisions.cache_decisions").fetchall()
    if not nights or nights[0][0] is None:
        raise ReportError("no decisions in the warehouse: run skipcache nightly or backfill first")
    night = nights[0][0]
    registry = _frame(con, "select * from ml.model_registry order by decision_date, trained_at")
    if registry.empty:
        raise ReportError("no model in the registry: run skipcache nightly or backfill first")
    # the model behind the last night's decisions: the newest promoted model trained before it,
    # else the newest model (then the report says it was not promoted)
    promoted = registry[registry["promoted"] & (registry["decision_date"] <= pd.Timestamp(night))]
    version = (promoted if len(promoted) else registry).iloc[-1]["model_version"]
    model = read_record(con, version)
    weights = _frame(
        con,
        "select feature, transform, weight from ml.model_weights where model_version = ? "
        "order by abs(weight) desc",
        [version],
    )
    rates = con.execute(
        """
        select
            avg(case when is_skipped then 0.0 else 1.0 end),
            avg(case when is_skipped then 0.0 else 1.0 end) filter (where is_favourite_genre),
            avg(case when is_skipped then 0.0 else 1.0 end) filter (where not is_favourite_genre)
        from marts.training_examples
        where listen_date >= ? and listen_date < ?
        """,
        [model.train_start_date, model.holdout_start_date],
    ).fetchall()[0]
    rate_all = rates[0] if rates[0] is not None else 0.5
    holdout = _frame(
        con,
        """
        select
            case when t.is_skipped then 0 else 1 end as y_play,
            h.p_play as model,
            t.is_favourite_genre,
            1 - t.user_skip_rate as user_history
        from ml.holdout_predictions as h
        inner join marts.training_examples as t on h.listen_id = t.listen_id
        where h.model_version = ?
        order by h.listen_id
        """,
        [version],
    )
    fav = holdout.pop("is_favourite_genre").fillna(False).astype(bool).to_numpy()
    rate_fav, rate_other = (rate_all if r is None else r for r in rates[1:])
    holdout["naive"] = np.where(fav, rate_fav, rate_other)
    holdout["constant"] = rate_all
    comparison = _frame(con, "select * from marts.ab_arm_comparison order by metric, arm")
    first, last = _period(comparison)
    summary = _frame(con, "select * from marts.ab_daily_summary order by decision_date, arm")
    data = ReportData(
        night=night,
        summary=summary,
        comparison=comparison,
        model=model,
        weights=weights,
        holdout=holdout,
        registry=registry,
        arms=_arm_totals(con, summary, first, last),
        nights=[
            r[0]
            for r in con.execute(
                "select decision_date from decisions.user_arms union "
                "select decision_date from decisions.cache_decisions order by 1"
            ).fetchall()
        ],
        last_listen=con.execute("select max(listen_date) from marts.fct_listens").fetchall()[0][0],
        references=_frame(
            con,
            """
            select
                r.decision_date,
                count(*) as covered_requests,
                avg(case when r.is_played_through then 1.0 else 0.0 end) as always_play,
                avg(case when (1 - coalesce(u.user_skip_rate, 0.5) >= 0.5) = r.is_played_through
                    then 1.0 else 0.0 end) as user_history
            from intermediate.int_decision_requests as r
            left join marts.user_features_daily as u
                on r.user_id = u.user_id and r.decision_date = u.feature_date
            where r.arm is not null and r.answered_by = 'pair'
            group by r.decision_date
            order by r.decision_date
            """,
        ),
        correlation=_correlation(con, model, weights),
    )
    data.auc, data.auc_intervals = _auc_comparison(data.holdout)
    data.policies = _frame(
        con,
        """
        select arm, model_version, count(distinct decision_date) as nights
        from decisions.cache_decisions
        where decision_date between ? and ?
        group by arm, model_version
        order by arm, min(decision_date)
        """,
        [first, last],
    )
    if _table_exists(con, "marts", "ab_served_daily_summary"):
        served = _frame(con, "select * from marts.ab_served_daily_summary")
        data.served = served if len(served) else None
    return data


def _arm_totals(
    con: duckdb.DuckDBPyConnection, summary: pd.DataFrame, first: str, last: str
) -> pd.DataFrame:
    """One row per arm over the compared nights: users, requests, hits, storage costs."""
    counts = _frame(
        con,
        """
        with arms as (
            select arm, count(distinct user_id) as users_assigned
            from decisions.user_arms
            where decision_date between ? and ?
            group by arm
        ),
        requests as (
            select
                arm,
                count(*) as requests,
                count(*) filter (where answered_by = 'pair') as covered_requests,
                count(distinct user_id) as users_with_requests,
                count(distinct user_id) filter (where answered_by = 'pair')
                    as users_with_covered_requests,
                count(*) filter (where is_cached) as cache_hits
            from intermediate.int_decision_requests
            where arm is not null and decision_date between ? and ?
            group by arm
        )
        select
            arms.arm,
            arms.users_assigned,
            coalesce(requests.users_with_requests, 0) as users_with_requests,
            coalesce(requests.users_with_covered_requests, 0) as users_with_covered_requests,
            coalesce(requests.requests, 0) as requests,
            coalesce(requests.covered_requests, 0) as covered_requests,
            coalesce(requests.cache_hits, 0) as cache_hits
        from arms
        left join requests on arms.arm = requests.arm
        order by arms.arm
        """,
        [first, last, first, last],
    )
    if counts.empty:
        return counts
    s = summary.copy()
    s["decision_date"] = pd.to_datetime(s["decision_date"])
    s = s[(s["decision_date"] >= pd.Timestamp(first)) & (s["decision_date"] <= pd.Timestamp(last))]
    sums = (
        s.groupby("arm")
        .agg(
            nights=("decision_date", "nunique"),
            cached_pairs=("cached_pairs", "sum"),
            cached_but_skipped_pairs=("cached_but_skipped_pairs", "sum"),
            cached_never_requested_pairs=("cached_never_requested_pairs", "sum"),
            cached_but_skipped_cost=("cached_but_skipped_cost", "sum"),
            cached_never_requested_cost=("cached_never_requested_cost", "sum"),
        )
        .reset_index()
    )
    out = counts.merge(sums, on="arm", how="left")
    out["cache_hit_rate"] = out["cache_hits"] / out["requests"].where(out["requests"] > 0)
    out["wasted_cost"] = out["cached_but_skipped_cost"] + out["cached_never_requested_cost"]
    out["wasted_cost_per_night"] = out["wasted_cost"] / out["nights"].where(out["nights"] > 0)
    user_nights = out["users_assigned"] * out["nights"]
    out["wasted_cost_per_user_night"] = out["wasted_cost"] / user_nights.where(user_nights > 0)
    return out


def _correlation(con: duckdb.DuckDBPyConnection, model: ModelRecord, weights: pd.DataFrame) -> dict:
    """Pearson correlations of the model's features (as the model sees them: log1p of counts,
    booleans as 0/1) over its training rows: the listens from train_start_date to fit_end_date,
    the most recent train_rows of them. Pairwise: a row counts where both values are known."""
    w = weights.sort_values("feature")  # stable order for the SQL; reordered below
    features = list(
        _frame(
            con,
            "select feature from ml.model_weights where model_version = ? "
            "order by feature_position",
            [model.model_version],
        )["feature"]
    )
    transform = dict(zip(w["feature"], w["transform"], strict=True))
    if not features:
        return {"features": [], "matrix": [], "rows": 0}

    def expr(name: str) -> str:
        col = f'"{name}"'
        return f"{prepared_sql(col, transform.get(name, 'none'))} as {col}"

    pairs = [(i, j) for i in range(len(features)) for j in range(i + 1, len(features))]
    aggregates = ", ".join(f'corr("{features[i]}", "{features[j]}")' for i, j in pairs)
    sql = f"""
        with training_rows as (
            select {", ".join(expr(f) for f in features)}
            from marts.training_examples
            where listen_date between ? and ?
            order by listen_date desc, listen_id
            limit ?
        )
        select count(*){", " + aggregates if aggregates else ""} from training_rows
    """
    row = con.execute(
        sql, [model.train_start_date, model.fit_end_date, int(model.train_rows)]
    ).fetchall()[0]
    matrix = np.eye(len(features))
    for k, (i, j) in enumerate(pairs):
        v = row[1 + k]
        matrix[i, j] = matrix[j, i] = np.nan if v is None or not math.isfinite(v) else v
    constant = [f for i, f in enumerate(features) if np.all(np.isnan(np.delete(matrix[i], i)))]
    for i, f in enumerate(features):
        if f in constant:
            matrix[i, i] = np.nan
    return {
        "features": features,
        "matrix": [[None if np.isnan(v) else float(v) for v in r] for r in matrix],
        "rows": int(row[0]),
        "first_date": f"{pd.Timestamp(model.train_start_date):%Y-%m-%d}",
        "last_date": f"{pd.Timestamp(model.fit_end_date):%Y-%m-%d}",
        "without_variance": constant,
    }


def _auc_comparison(holdout: pd.DataFrame) -> tuple[dict, dict]:
    """Hold-out AUC of each policy, and the paired bootstrap 95% interval of the model's AUC
    minus each baseline's (the gate's method), user history included."""
    y = holdout["y_play"].to_numpy()
    if len(np.unique(y)) < 2:
        return {}, {}
    auc = {p: float(roc_auc_score(y, holdout[p].astype(float))) for p in POLICIES}
    boot = PairedAucBootstrap(y, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED).aucs(
        {p: holdout[p].astype(float).to_numpy() for p in POLICIES}
    )
    intervals = {p: percentile_interval(boot["model"] - boot[p]) for p in POLICIES[1:]}
    return auc, intervals
