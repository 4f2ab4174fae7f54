"""Test helpers: the real CLI, warehouse queries, the real exports (skipped when absent)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from scoring.config import PROJECT_ROOT

REAL_DATA = PROJECT_ROOT.parent / "shared" / "data" / "pozytywka"
SKIPCACHE = [sys.executable, "-m", "scoring"]


def real_export(name: str) -> Path:
    path = REAL_DATA / name
    if not (path / "sessions.jsonl").exists():
        pytest.skip(f"real export {path} is absent (it lives in ../shared, present in CI)")
    return path


def run_cli(
    *args: str, check: bool = True, timeout: int = 600, env_defaults: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the real `skipcache` command line in a subprocess; `env_defaults` are variables the
    environment of the tests may override."""
    env = {**(env_defaults or {}), **os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    proc = subprocess.run(
        [*SKIPCACHE, *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"skipcache {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def model_record(metrics: dict[str, dict] | None = None, **fields):
    """A complete registry record with plausible values; ``fields`` and the per-policy
    ``metrics`` (policy -> {metric: value}, the rest None) replace them."""
    from datetime import date, datetime

    from scoring.model.registry import (
        INTERVAL_BASELINES,
        POLICIES,
        POLICY_METRICS,
        ModelRecord,
        PolicyMetrics,
    )

    metrics = metrics or {}
    values = dict(
        model_version="svc-20241225-abc", trained_at=datetime(2024, 12, 25, 3, 0),
        decision_date=date(2024, 12, 25), train_start_date=date(2023, 12, 1),
        train_end_date=date(2024, 12, 10), fit_end_date=date(2024, 11, 26),
        holdout_start_date=date(2024, 12, 11), holdout_end_date=date(2024, 12, 24),
        train_rows=50_000, calibration_rows=4_000, holdout_rows=9_000, c=0.1,
        class_weight="none", sigmoid_a=1.5, sigmoid_b=-0.2,
        metrics={
            p: PolicyMetrics(**{m: metrics.get(p, {}).get(m) for m in POLICY_METRICS})
            for p in POLICIES
        },
        seed_replica_accuracy=None, seed_replica_roc_auc=None,
        auc_diff={b: (None, None) for b in INTERVAL_BASELINES}, promoted=True,
        reason="model AUC 0.754 beats naive and constant", decision_policy="model",
        metrics_json="{}",
    )  # fmt: skip
    return ModelRecord(**{**values, **fields})


#: copytree's ignore for a shared night's home: the served-answer logs that service tests wrote
#: there (serving/requests) are not the night's, and are an input of the next night
NO_SERVED_LOGS = shutil.ignore_patterns("requests")


def started_from_stored_totals(dbt_target: Path, model: str) -> bool:
    """Whether the last dbt run of a *_features_daily model (its compiled SQL under
    ``dbt_target``) started the older totals from its own stored rows (macro
    stored_history_base) rather than from a grouped sum over all older daily rows."""
    [compiled] = dbt_target.glob(f"compiled/skipcache/models_sql/**/{model}.sql")
    return "from the stored rows (stored_history_base)" in compiled.read_text()


def copy_export(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_truth*"))
    for f in dst.rglob("*"):
        f.chmod(0o644 if f.is_file() else 0o755)
    return dst


def frame(warehouse: Path, sql: str):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


SUMMARY_COLUMNS = [
    "requests", "covered_requests", "accuracy", "cache_precision", "cache_recall",
    "cache_hits", "cache_hit_rate", "pair_decisions", "cached_pairs",
    "cached_but_skipped_pairs", "cached_never_requested_pairs", "cached_but_skipped_cost",
    "cached_never_requested_cost",
]  # fmt: skip


def recompute_ab_daily_summary(warehouse: Path):
    """ab_daily_summary by hand, in pandas, from the job's tables and fct_listens only."""
    import numpy as np

    arms = frame(warehouse, "select decision_date, user_id, arm from decisions.user_arms")
    pairs = frame(warehouse, "select * from decisions.cache_decisions")
    defaults = frame(warehouse, "select * from decisions.track_default_decisions")
    listens = frame(
        warehouse, "select user_id, track_id, listen_date, is_skipped from marts.fct_listens"
    )
    cost = frame(warehouse, "select track_id, daily_cost from marts.dim_tracks")
    nights = set(arms["decision_date"])
    req = listens[listens["listen_date"].isin(nights)].rename(
        columns={"listen_date": "decision_date"}
    )
    req = req.merge(arms, on=["decision_date", "user_id"], how="inner")
    req = req.merge(
        pairs[["decision_date", "user_id", "track_id", "should_cache"]],
        on=["decision_date", "user_id", "track_id"], how="left",
    )  # fmt: skip
    req = req.merge(
        defaults[["decision_date", "track_id", "should_cache"]].rename(
            columns={"should_cache": "default_cache"}
        ),
        on=["decision_date", "track_id"], how="left",
    )  # fmt: skip
    covered = req["should_cache"].notna()
    played = ~req["is_skipped"].astype(bool)
    default_cache = req["default_cache"].astype("boolean").fillna(False).astype(bool)
    cached = np.where(covered, req["should_cache"].astype("boolean").fillna(False).astype(bool),
                      default_cache & (req["arm"] != "holdout"))  # fmt: skip
    req = req.assign(covered=covered, played=played, cached=cached)
    out = {}
    for (d, arm), g in req.groupby(["decision_date", "arm"]):
        c = g[g["covered"]]
        out[(d, arm)] = {
            "requests": len(g),
            "covered_requests": len(c),
            "accuracy": (c["cached"] == c["played"]).mean() if len(c) else None,
            "cache_precision": c[c["cached"]]["played"].mean() if c["cached"].any() else None,
            "cache_recall": c[c["played"]]["cached"].mean() if c["played"].any() else None,
            "cache_hits": int(g["cached"].sum()),
            "cache_hit_rate": g["cached"].mean(),
        }
    counts = (
        listens.rename(columns={"listen_date": "decision_date"})
        .assign(played=lambda f: ~f["is_skipped"].astype(bool))
        .groupby(["decision_date", "user_id", "track_id"])["played"]
        .agg(["size", "sum"])
        .reset_index()
    )
    p = pairs.merge(counts, on=["decision_date", "user_id", "track_id"], how="left").merge(
        cost, on="track_id", how="left"
    )
    p["size"] = p["size"].fillna(0)
    p["sum"] = p["sum"].fillna(0)
    skipped = p["should_cache"] & (p["size"] > 0) & (p["sum"] == 0)
    never = p["should_cache"] & (p["size"] == 0)
    for (d, arm), g in p.assign(skipped=skipped, never=never).groupby(["decision_date", "arm"]):
        row = out.setdefault(
            (d, arm),
            {"requests": 0, "covered_requests": 0, "cache_hits": 0, "accuracy": None,
             "cache_precision": None, "cache_recall": None, "cache_hit_rate": None},
        )  # fmt: skip
        row.update(
            pair_decisions=len(g),
            cached_pairs=int(g["should_cache"].sum()),
            cached_but_skipped_pairs=int(g["skipped"].sum()),
            cached_never_requested_pairs=int(g["never"].sum()),
            cached_but_skipped_cost=float(g.loc[g["skipped"], "daily_cost"].sum()),
            cached_never_requested_cost=float(g.loc[g["never"], "daily_cost"].sum()),
        )
    return out


def assert_summary_matches(warehouse: Path, before: str | None = None) -> int:
    """ab_daily_summary equals the recomputation, cell by cell; return the rows compared. With
    ``before`` (an ISO date), the nights before it only: a night's own decisions are written
    after its build, so its summary comes with the next night's."""
    import math

    expected = recompute_ab_daily_summary(warehouse)
    if before is not None:
        expected = {k: v for k, v in expected.items() if str(k[0]) < before}
    actual = frame(warehouse, "select * from marts.ab_daily_summary")
    assert len(actual) == len(expected) > 0
    for _, row in actual.iterrows():
        want = expected[(row["decision_date"], row["arm"])]
        for col in SUMMARY_COLUMNS:
            got, exp = row[col], want.get(col, 0)
            if exp is None or (isinstance(exp, float) and math.isnan(exp)):
                assert got is None or math.isnan(got), (row["decision_date"], row["arm"], col)
            else:
                assert math.isclose(float(got), float(exp), rel_tol=1e-9, abs_tol=1e-9), (
                    row["decision_date"], row["arm"], col, got, exp,
                )  # fmt: skip
    return len(actual)


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run `promtool ARGS` (Debian package prometheus); skip when it is not installed."""
    exe = shutil.which("promtool")
    if exe is None:
        pytest.skip("promtool is absent (apt-get install prometheus; .ci/run installs it in CI)")
    return subprocess.run(
        [exe, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def promtool_check(text: str) -> str:
    """Assert that `promtool check metrics` accepts this exposition text (lint included: HELP
    and TYPE, counters ending in _total, base units); return promtool's output."""
    proc = promtool("check", "metrics", stdin=text)
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, f"promtool check metrics exited {proc.returncode}:\n{output}"
    return output


#: the incremental tables compared between an incremental and a full build, with their keys
COMPARED_TABLES = {
    "marts.fct_listens": "listen_id",
    "marts.training_examples": "listen_id",
    "marts.user_features_daily": "user_id, feature_date",
    "marts.track_features_daily": "track_id, feature_date",
    "marts.user_genre_features_daily": "user_id, genre, feature_date",
    "marts.global_features_daily": "feature_date",
}


def assert_compared_tables_equal(warehouse: Path, full: Path, feature_dates: str = "") -> None:
    """COMPARED_TABLES of ``warehouse`` equal those of ``full`` row for row (``loaded_at``
    aside), the *_features_daily tables only at ``feature_dates`` (a SQL relation of dates, read
    in each warehouse) when given."""
    for table, key in COMPARED_TABLES.items():
        where = (
            f" where feature_date in ({feature_dates})"
            if feature_dates and "features_daily" in table
            else ""
        )
        sql = f"select * exclude (loaded_at) from {table}{where} order by {key}"
        built, complete = query(warehouse, sql), query(full, sql)
        assert len(built) == len(complete) > 0, table
        assert built == complete, table


#: the nights of the session fixture `replayed` (conftest.py)
REPLAYED_NIGHTS = ("2024-12-22", "2024-12-29")

#: the charts of `skipcache report`, each a PNG with its numbers in charts.json
REPORT_CHARTS = [
    "accuracy_by_arm",
    "feature_weights",
    "feature_correlation",
    "roc",
    "calibration",
    "leakage_gap",
]
