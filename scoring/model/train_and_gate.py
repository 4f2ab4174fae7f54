"""`skipcache train` (and a night's training step): fit, evaluate against the baselines, gate,
register. One decision date. The fitting itself (splits, SVC, calibration) is model_fit's."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd

from scoring.config import TrainSettings
from scoring.errors import TrainingDataError
from scoring.model import registry
from scoring.model.features import FEATURES
from scoring.model.registry import ModelRecord, PolicyMetrics

if TYPE_CHECKING:  # model_fit and evaluation load scikit-learn: only a night that trains needs it
    from scoring.model.model_fit import Windows


@dataclass
class TrainReport:
    model_version: str
    promoted: bool
    reason: str
    decision_policy: str
    record: ModelRecord
    metrics: dict  # the model's metrics.json
    reused_for: date | None = None  # set when the night reused a recent model (no training)

    def verdict(self) -> str:
        """One line a person can read."""
        state = "PROMOTED" if self.promoted else "NOT PROMOTED"
        if self.reused_for is not None:
            return (
                f"{self.model_version} (trained for {self.record.decision_date}, {state}) "
                f"is reused: it is within the retraining interval (retrain_every_days). "
                f"Decisions for {self.reused_for} use {self.decision_policy}."
            )
        return (
            f"{self.model_version}: {state}: {self.reason}. "
            f"Decisions for {self.record.decision_date} use {self.decision_policy}."
        )

    @property
    def decision_date(self) -> date:
        return self.reused_for or self.record.decision_date


def default_decision_date(con: duckdb.DuckDBPyConnection) -> date:
    """The day after the latest listen. (Here and not in model_fit, which loads scikit-learn:
    a night that reuses its model asks this too, and the import cost it 0.9-1.0 s at v2.)"""
    row = con.execute("select max(listen_date) from marts.training_examples").fetchall()[0]
    if row[0] is None:
        raise TrainingDataError("marts.training_examples is empty: build an export first")
    return row[0] + timedelta(days=1)


#: Settings of when and how fast training runs, which cannot change the model it gives.
NOT_IN_VERSION = ("retrain_every_days", "search_threads")


def _version(d: date, w: Windows, s: TrainSettings, frame: pd.DataFrame) -> str:
    import sklearn

    settings = {k: v for k, v in asdict(s).items() if k not in NOT_IN_VERSION}
    fingerprint = json.dumps(
        {
            "windows": asdict(w),
            "settings": settings,
            "features": FEATURES,
            "rows": len(frame),
            "skips": int(frame["is_skipped"].sum()),
            "ids": hashlib.sha1("".join(frame["listen_id"]).encode()).hexdigest(),
            "sklearn": sklearn.__version__,
        },
        default=str,
        sort_keys=True,
    )
    return f"svc-{d:%Y%m%d}-{hashlib.sha1(fingerprint.encode()).hexdigest()[:8]}"


def reuse_recent(
    con: duckdb.DuckDBPyConnection, s: TrainSettings, decision_date: date | None = None
) -> TrainReport | None:
    """The report of a model trained within the last s.retrain_every_days nights, if any.

    Its training ended before its own night, so before this one too; its gate verdict and
    decision policy stand until the next retraining.
    """
    d = decision_date or default_decision_date(con)
    record = registry.reusable_model(con, d, s.retrain_every_days)
    if record is None:
        return None
    return TrainReport(
        record.model_version,
        record.promoted,
        record.reason,
        record.decision_policy,
        record,
        json.loads(record.metrics_json),
        reused_for=d,
    )


def train(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    s: TrainSettings,
    decision_date: date | None = None,
) -> TrainReport:
    """Train on training_examples before the decision date; write registry rows and artefacts."""
    from scoring.model import evaluation
    from scoring.model.features import played, prepare
    from scoring.model.model_fit import Windows, first_needed_date, fit, load_examples
    from scoring.model.sql_scoring import export_weights

    d = decision_date or default_decision_date(con)
    w = Windows.for_date(d, s)
    frame = load_examples(con, first_needed_date(con, w, s.max_train_rows), d, w, s.max_window_rows)
    dates = frame["listen_date"].to_numpy(dtype="datetime64[D]")
    is_holdout = dates >= np.datetime64(w.holdout_start)
    if is_holdout.sum() < 20:
        raise TrainingDataError(
            f"only {int(is_holdout.sum())} hold-out listens in "
            f"{w.holdout_start}..{d - timedelta(days=1)}"
        )
    before = frame[~is_holdout]
    holdout = frame[is_holdout]
    fitted = fit(before, w, s)

    y_hold = played(holdout)
    p_model = fitted.model.p_play(prepare(holdout))
    baselines = evaluation.baseline_scores(before, holdout)
    scores = {"model": p_model, **baselines}
    metrics = {name: evaluation.metrics(y_hold, p) for name, p in scores.items()}
    aucs = {name: m["roc_auc"] for name, m in metrics.items()}
    verdict = evaluation.gate(
        y_hold, p_model, baselines, aucs["model"], aucs, s.bootstrap_resamples, s.seed
    )
    seed = evaluation.seed_replica(frame, s.seed, s.max_train_rows)
    version = _version(d, w, s, frame)

    # a refused model leaves decisions to the last promoted model, else to the best baseline
    policy = version if verdict.promoted else registry.last_promoted(con, d) or _best_baseline(aucs)
    all_metrics = {
        "holdout": metrics,
        "seed_replica": seed,
        "gate_intervals": verdict.intervals,
        "hyperparameters": {
            "c": fitted.choice.c,
            "class_weight": fitted.choice.class_weight,
            "reason": fitted.choice.reason,
            "validation": fitted.choice.scores,
        },
        "windows": asdict(w),
    }
    record = ModelRecord(
        model_version=version,
        trained_at=datetime.now().replace(microsecond=0),
        decision_date=d,
        train_start_date=_first(before["listen_date"]),
        train_end_date=w.holdout_start - timedelta(days=1),
        fit_end_date=w.calibration_start - timedelta(days=1),
        holdout_start_date=w.holdout_start,
        holdout_end_date=d - timedelta(days=1),
        train_rows=fitted.fit_rows,
        calibration_rows=fitted.calibration_rows,
        holdout_rows=int(len(holdout)),
        c=fitted.choice.c,
        class_weight=fitted.choice.class_weight or "none",
        sigmoid_a=fitted.model.a,
        sigmoid_b=fitted.model.b,
        metrics={name: PolicyMetrics.from_metrics(metrics[name]) for name in registry.POLICIES},
        seed_replica_accuracy=seed["accuracy"],
        seed_replica_roc_auc=seed["roc_auc"],
        auc_diff={
            name: verdict.intervals.get(name, (None, None)) for name in registry.INTERVAL_BASELINES
        },
        promoted=verdict.promoted,
        reason=verdict.reason,
        decision_policy=policy,
        metrics_json=json.dumps(all_metrics, default=str),
    )

    predictions = pd.DataFrame(
        {"listen_id": holdout["listen_id"].to_numpy(), "model_version": version, "p_play": p_model}
    )
    registry.save_artefacts(home, version, fitted.model, all_metrics)
    registry.write(
        con, record, predictions, also=lambda c: export_weights(c, version, fitted.model)
    )
    return TrainReport(version, verdict.promoted, verdict.reason, policy, record, all_metrics)


def _first(values: pd.Series) -> date:
    return pd.Timestamp(values.min()).date()


def _best_baseline(aucs: dict[str, float | None]) -> str:
    names = [n for n in registry.POLICIES if n != "model"]
    return "baseline:" + max(names, key=lambda n: aucs[n] if aucs[n] is not None else 0.0)
