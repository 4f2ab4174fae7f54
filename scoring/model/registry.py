"""The model registry, hold-out predictions and model artefacts.

Tables (schema ``ml``, written by Python in one transaction per trained model; declared with
their columns in models_sql/marts/decisions/_decisions__sources.yml, created by job_tables):
  ml.model_registry       one row per model_version; in Python a ModelRecord (to_row/from_row
                          map it to and from the row, column for column)
  ml.holdout_predictions  one row per hold-out listen per model_version
Artefacts beside the warehouse: ``models/<version>/`` holds model.joblib (the fitted pipeline and
its sigmoid), features.json and metrics.json.
"""

from __future__ import annotations

import importlib
import json
import math
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from scoring.model import job_tables
from scoring.model.features import FEATURES, LOG_COUNT_FEATURES

POLICIES = ("model", "naive", "constant", "user_history")
POLICY_METRICS = ("roc_auc", "accuracy", "f1_play", "f1_skip", "log_loss", "brier")
#: the baselines whose AUC difference to the model has a bootstrap interval in the registry
INTERVAL_BASELINES = ("naive", "constant")


@dataclass(frozen=True)
class PolicyMetrics:
    """The hold-out metrics of one policy (the model or a baseline); None where undefined,
    e.g. no AUC on a hold-out of one class."""

    roc_auc: float | None
    accuracy: float | None
    f1_play: float | None
    f1_skip: float | None
    log_loss: float | None
    brier: float | None

    @classmethod
    def from_metrics(cls, m: Mapping[str, object]) -> PolicyMetrics:
        """From evaluation.metrics' dict (which has more keys than the registry keeps)."""
        return cls(**{name: m[name] for name in POLICY_METRICS})


@dataclass(frozen=True)
class ModelRecord:
    """One row of ml.model_registry: a trained model, its windows, metrics and gate verdict.

    The per-policy metrics are ``metrics[policy]`` (policies: POLICIES), the gate's bootstrap
    intervals of AUC(model) - AUC(baseline) are ``auc_diff[baseline]`` (INTERVAL_BASELINES).
    """

    model_version: str
    trained_at: datetime
    decision_date: date
    train_start_date: date
    train_end_date: date
    fit_end_date: date
    holdout_start_date: date
    holdout_end_date: date
    train_rows: int
    calibration_rows: int
    holdout_rows: int
    c: float | None
    class_weight: str | None
    sigmoid_a: float | None
    sigmoid_b: float | None
    metrics: Mapping[str, PolicyMetrics]
    seed_replica_accuracy: float | None
    seed_replica_roc_auc: float | None
    auc_diff: Mapping[str, tuple[float | None, float | None]]
    promoted: bool
    reason: str
    decision_policy: str
    metrics_json: str

    def metric(self, policy: str, name: str) -> float | None:
        """One hold-out metric of one policy, e.g. metric("model", "roc_auc")."""
        if name not in POLICY_METRICS:
            raise KeyError(f"{name!r} is not a registry metric: {', '.join(POLICY_METRICS)}")
        return getattr(self.metrics[policy], name)

    def to_row(self) -> dict[str, object]:
        """The ml.model_registry row: column name -> value, in the table's column order."""
        row: dict[str, object] = {}
        for f in fields(self):
            if f.name == "metrics":
                for p in POLICIES:
                    for m in POLICY_METRICS:
                        row[f"{p}_{m}"] = getattr(self.metrics[p], m)
            elif f.name == "auc_diff":
                for b in INTERVAL_BASELINES:
                    row[f"auc_diff_{b}_low"], row[f"auc_diff_{b}_high"] = self.auc_diff[b]
            else:
                row[f.name] = getattr(self, f.name)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> ModelRecord:
        """The record of an ml.model_registry row (column name -> value); a missing or NaN
        number is None."""
        values = {k: _none_if_nan(v) for k, v in row.items()}
        plain = {
            f.name: values[f.name] for f in fields(cls) if f.name not in ("metrics", "auc_diff")
        }
        return cls(
            **plain,
            metrics={
                p: PolicyMetrics(**{m: values[f"{p}_{m}"] for m in POLICY_METRICS})
                for p in POLICIES
            },
            auc_diff={
                b: (values[f"auc_diff_{b}_low"], values[f"auc_diff_{b}_high"])
                for b in INTERVAL_BASELINES
            },
        )


def _none_if_nan(value: object) -> object:
    return None if isinstance(value, float) and math.isnan(value) else value


def _records(cur: duckdb.DuckDBPyConnection) -> list[ModelRecord]:
    names = [c[0] for c in cur.description]
    return [ModelRecord.from_row(dict(zip(names, row, strict=True))) for row in cur.fetchall()]


def read(con: duckdb.DuckDBPyConnection, version: str) -> ModelRecord | None:
    """The registry record of one model version, or None."""
    ensure_tables(con)
    cur = con.execute("select * from ml.model_registry where model_version = ?", [version])
    records = _records(cur)
    return records[0] if records else None


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    job_tables.ensure(con, "ml")


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
) -> ModelRecord | None:
    """The registry record of a model trained for a night in (night - retrain_every_days, night]
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
    for record in _records(cur):
        features = [
            f
            for (f,) in con.execute(
                "select feature from ml.model_weights where model_version = ? "
                "order by feature_position",
                [record.model_version],
            ).fetchall()
        ]
        if features == FEATURES:
            return record
    return None


def write(
    con: duckdb.DuckDBPyConnection,
    record: ModelRecord,
    predictions: pd.DataFrame,
    also: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> None:
    """Replace the registry row and hold-out predictions of one version (and run `also`, e.g.
    the weight export) in one transaction."""
    ensure_tables(con)
    version = record.model_version
    row = record.to_row()
    con.execute("begin transaction")
    try:
        con.execute("delete from ml.holdout_predictions where model_version = ?", [version])
        con.execute("delete from ml.model_registry where model_version = ?", [version])
        con.execute(
            f"insert into ml.model_registry ({', '.join(row)}) "
            f"values ({', '.join('?' for _ in row)})",
            list(row.values()),
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
    import joblib  # only a night that trains writes artefacts

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


#: modules renamed since artefacts were first written: a model.joblib pickled before a rename
#: names the old module (scoring.training became scoring.model_fit, then the package was
#: grouped in wings and it became scoring.model.model_fit)
RENAMED_MODULES = {
    "scoring.training": "scoring.model.model_fit",
    "scoring.model_fit": "scoring.model.model_fit",
    "scoring.features": "scoring.model.features",
}


def load_model(home: Path, version: str) -> object:
    """The fitted model of models/<version>/, also one pickled under a module's old name."""
    import joblib

    for old, new in RENAMED_MODULES.items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)
    return joblib.load(home / "models" / version / "model.joblib")
