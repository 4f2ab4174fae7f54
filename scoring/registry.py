"""The model registry, hold-out predictions and model artefacts.

Tables (schema ``ml``, written by Python in one transaction per trained model):
  ml.model_registry       one row per model_version
  ml.holdout_predictions  one row per hold-out listen per model_version
Artefacts beside the warehouse: ``models/<version>/`` holds model.joblib (the fitted pipeline and
its sigmoid), features.json and metrics.json.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import joblib
import pandas as pd

from scoring.features import FEATURES, LOG_COUNT_FEATURES

POLICIES = ("model", "naive", "constant", "user_history")
POLICY_METRICS = ("roc_auc", "accuracy", "f1_play", "f1_skip", "log_loss", "brier")

DDL = [
    "create schema if not exists ml",
    """
    create table if not exists ml.model_registry (
        model_version varchar primary key,
        trained_at timestamp not null,
        decision_date date not null,
        train_start_date date not null,
        train_end_date date not null,
        fit_end_date date not null,
        holdout_start_date date not null,
        holdout_end_date date not null,
        train_rows bigint not null,
        calibration_rows bigint not null,
        holdout_rows bigint not null,
        c double,
        class_weight varchar,
        sigmoid_a double,
        sigmoid_b double,
        """
    + ",\n".join(f"{p}_{m} double" for p in POLICIES for m in POLICY_METRICS)
    + """,
        seed_replica_accuracy double,
        seed_replica_roc_auc double,
        auc_diff_naive_low double,
        auc_diff_naive_high double,
        auc_diff_constant_low double,
        auc_diff_constant_high double,
        promoted boolean not null,
        reason varchar not null,
        decision_policy varchar not null,
        metrics_json varchar not null
    )
    """,
    """
    create table if not exists ml.holdout_predictions (
        listen_id varchar not null,
        model_version varchar not null,
        p_play double not null,
        primary key (listen_id, model_version)
    )
    """,
]


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        con.execute(statement)


def last_promoted(con: duckdb.DuckDBPyConnection, before: date) -> str | None:
    """The newest promoted model whose training ended before `before`."""
    ensure_tables(con)
    rows = con.execute(
        "select model_version from ml.model_registry where promoted and train_end_date < ? "
        "order by train_end_date desc, trained_at desc limit 1",
        [before],
    ).fetchall()
    return rows[0][0] if rows else None


def reusable_model(
    con: duckdb.DuckDBPyConnection, night: date, retrain_every_days: int
) -> dict | None:
    """The registry row of a model trained for a night in (night - retrain_every_days, night]
    whose exported weights cover exactly today's features (newest first), or None: then the
    night trains a new one. retrain_every_days = 0 always trains."""
    if retrain_every_days <= 0:
        return None
    ensure_tables(con)
    cur = con.execute(
        """
        select r.* from ml.model_registry as r
        where r.decision_date <= ? and r.decision_date > ? - cast(? as integer)
        order by r.decision_date desc, r.trained_at desc
        """,
        [night, night, retrain_every_days],
    )
    names = [c[0] for c in cur.description]
    for row in cur.fetchall():
        record = dict(zip(names, row, strict=True))
        features = [
            f
            for (f,) in con.execute(
                "select feature from ml.model_weights where model_version = ? "
                "order by feature_position",
                [record["model_version"]],
            ).fetchall()
        ]
        if features == FEATURES:
            return record
    return None


def write(
    con: duckdb.DuckDBPyConnection,
    record: dict,
    predictions: pd.DataFrame,
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """Replace the registry row and hold-out predictions of one version (and run `also`, e.g.
    the weight export) in one transaction."""
    ensure_tables(con)
    version = record["model_version"]
    columns = list(record)
    con.execute("begin transaction")
    try:
        con.execute("delete from ml.holdout_predictions where model_version = ?", [version])
        con.execute("delete from ml.model_registry where model_version = ?", [version])
        con.execute(
            f"insert into ml.model_registry ({', '.join(columns)}) "
            f"values ({', '.join('?' for _ in columns)})",
            [record[c] for c in columns],
        )
        con.register("new_predictions", predictions)
        con.execute(
            "insert into ml.holdout_predictions select listen_id, model_version, p_play "
            "from new_predictions"
        )
        con.unregister("new_predictions")
        if also is not None:
            also(con)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def save_artefacts(home: Path, version: str, model: object, metrics: dict) -> Path:
    """Write models/<version>/ through a temporary folder and a rename (replacing a rerun's)."""
    target = home / "models" / version
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=target.parent))
    try:
        joblib.dump(model, tmp / "model.joblib")
        (tmp / "features.json").write_text(
            json.dumps({"features": FEATURES, "log1p": LOG_COUNT_FEATURES}, indent=2)
        )
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_model(home: Path, version: str) -> object:
    return joblib.load(home / "models" / version / "model.joblib")
