"""Fitting the model: time-ordered splits, the SVC pipeline, hyper-parameter choice and sigmoid
calibration. The `skipcache train` step that uses it (evaluate, gate, register) is
scoring.model.train_and_gate.

For a decision date D the days before D are cut, newest last, into:
    [train_start, validation_start)  inner training rows for choosing C and class weights
    [validation_start, calibration_start)  validation days (scored by each candidate)
    [train_start, calibration_start)  the final fit (the most recent max_train_rows of it)
    [calibration_start, holdout_start)  the sigmoid that turns SVC margins into p_play
    [holdout_start, D)  the hold-out: never seen by the fit or the calibration
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from scoring.config import TrainSettings
from scoring.errors import TrainingDataError
from scoring.model.features import FEATURES, played, prepare


@dataclass(frozen=True)
class Windows:
    decision_date: date
    train_start: date
    validation_start: date
    calibration_start: date
    holdout_start: date

    @classmethod
    def for_date(cls, d: date, s: TrainSettings) -> Windows:
        holdout_start = d - timedelta(days=s.holdout_days)
        calibration_start = holdout_start - timedelta(days=s.calibration_days)
        validation_start = calibration_start - timedelta(days=s.validation_days)
        train_start = calibration_start - timedelta(days=s.train_window_days)
        return cls(d, train_start, validation_start, calibration_start, holdout_start)


def first_needed_date(con: duckdb.DuckDBPyConnection, w: Windows, rows: int) -> date:
    """The latest start date that still leaves `rows` listens before the calibration days.

    Training uses at most max_train_rows recent rows: loading a year of a large export only to
    drop most of it would cost more than the fit itself.
    """
    found = con.execute(
        """
        select max(listen_date) from (
            select
                listen_date,
                sum(n) over (order by listen_date desc rows unbounded preceding) as cumulative
            from (
                select listen_date, count(*) as n from marts.training_examples
                where listen_date >= ? and listen_date < ? group by listen_date
            )
        ) where cumulative >= ?
        """,
        [w.train_start, w.calibration_start, rows],
    ).fetchall()[0][0]
    return max(w.train_start, found) if found else w.train_start


def load_examples(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    w: Windows | None = None,
    max_window_rows: int | None = None,
) -> pd.DataFrame:
    """training_examples with start <= listen_date < end, oldest first.

    With windows ``w`` and ``max_window_rows``, the calibration and the hold-out windows keep at
    most that many listens each: a sample by listen_id hash, the same rows on every run, drawn
    in the query so that the frame never holds more. The training rows are bounded already by
    ``start`` (first_needed_date). Ten times the v2 preset has 1.1 M listens in each 14-day
    window, and loading them whole took the training step to 10.6 GB.
    """
    cols = ", ".join(["listen_id", "listen_date", "user_id", "track_id", "is_skipped", *FEATURES])
    if w is None or max_window_rows is None:
        return con.execute(
            f"select {cols} from marts.training_examples "
            "where listen_date >= ? and listen_date < ? order by listen_date, listen_id",
            [start, end],
        ).df()
    return con.execute(
        f"""
        with rows as (
            select
                {cols},
                case
                    when listen_date >= $holdout then 2
                    when listen_date >= $calibration then 1
                    else 0
                end as part
            from marts.training_examples
            where listen_date >= $start and listen_date < $end
        )
        select {cols} from rows
        qualify part = 0 or row_number() over (
            partition by part order by hash(listen_id), listen_id
        ) <= $cap
        order by listen_date, listen_id
        """,
        {
            "start": start,
            "end": end,
            "calibration": w.calibration_start,
            "holdout": w.holdout_start,
            "cap": max_window_rows,
        },
    ).df()


def make_pipeline(c: float, class_weight: str | None, seed: int) -> Pipeline:
    """Scaling plus a linear SVC: the mission's model (imputation of unknowns first)."""
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="mean", keep_empty_features=True)),
            ("scale", StandardScaler()),
            (
                "svc",
                LinearSVC(
                    C=c, class_weight=class_weight, dual=False, max_iter=5000, random_state=seed
                ),
            ),
        ]
    )


@dataclass
class CalibratedSVC:
    """A fitted pipeline and the sigmoid p_play = 1 / (1 + exp(-(a * margin + b)))."""

    pipeline: Pipeline
    a: float
    b: float

    def margin(self, x: np.ndarray) -> np.ndarray:
        return self.pipeline.decision_function(x)

    def p_play(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(self.a * self.margin(x) + self.b)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def fit_sigmoid(margin: np.ndarray, y_play: np.ndarray) -> tuple[float, float]:
    """Platt scaling: a logistic regression of the label on the SVC margin (no penalty)."""
    if len(np.unique(y_play)) < 2:
        raise TrainingDataError("the calibration days hold only one class")
    lr = LogisticRegression(C=1e6, max_iter=1000)
    lr.fit(margin.reshape(-1, 1), y_play)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


@dataclass
class Choice:
    c: float
    class_weight: str | None
    reason: str
    scores: list[dict] = field(default_factory=list)


def choose_hyperparameters(
    x: np.ndarray, y: np.ndarray, dates: np.ndarray, w: Windows, s: TrainSettings
) -> Choice:
    """C and class weights by validation AUC on the days just before calibration.

    Ties (within 0.002 AUC) go to no class weighting, then to the smaller C: 'balanced'
    re-weights the minority class, which moves the decision threshold and so costs accuracy
    at p_play = 0.5 when skips are the minority, while it hardly changes the ranking (AUC).
    """
    inner = dates < np.datetime64(w.validation_start)
    valid = ~inner
    if inner.sum() < 50 or valid.sum() < 50 or len(np.unique(y[valid])) < 2:
        return Choice(
            s.c_grid[len(s.c_grid) // 2], None, "too few rows for validation: middle C, no weights"
        )
    x_inner, y_inner = _recent(x[inner], y[inner], s.max_search_rows)
    grid = [(c, cw) for c in s.c_grid for cw in s.class_weights]

    def validation_auc(c: float, cw: str | None) -> float:
        model = make_pipeline(c, cw, s.seed).fit(x_inner, y_inner)
        return float(roc_auc_score(y[valid], model.decision_function(x[valid])))

    aucs = Parallel(n_jobs=max(1, s.search_threads), prefer="threads")(
        delayed(validation_auc)(c, cw) for c, cw in grid
    )
    scores = [
        {"c": c, "class_weight": cw, "validation_auc": auc}
        for (c, cw), auc in zip(grid, aucs, strict=True)
    ]
    best = max(r["validation_auc"] for r in scores)
    near = [r for r in scores if r["validation_auc"] >= best - 0.002]
    near.sort(key=lambda r: (r["class_weight"] is not None, r["c"]))
    pick = near[0]
    reason = (
        f"validation AUC {pick['validation_auc']:.4f} (best {best:.4f}) over "
        f"{int(valid.sum()):,} rows from {w.validation_start} to "
        f"{w.calibration_start - timedelta(days=1)}"
    )
    return Choice(pick["c"], pick["class_weight"], reason, scores)


def _recent(x: np.ndarray, y: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The last `limit` rows (rows are oldest first)."""
    return (x[-limit:], y[-limit:]) if len(y) > limit else (x, y)


@dataclass
class Fitted:
    model: CalibratedSVC
    choice: Choice
    fit_rows: int
    calibration_rows: int


def fit(frame: pd.DataFrame, w: Windows, s: TrainSettings) -> Fitted:
    """Choose hyper-parameters, fit on the training window, calibrate on the calibration days."""
    dates = frame["listen_date"].to_numpy(dtype="datetime64[D]")
    x, y = prepare(frame), played(frame)
    before_cal = dates < np.datetime64(w.calibration_start)
    cal = ~before_cal
    if before_cal.sum() < 20 or len(np.unique(y[before_cal])) < 2:
        raise TrainingDataError(
            f"only {int(before_cal.sum())} training rows before {w.calibration_start}"
        )
    if cal.sum() < 20:
        raise TrainingDataError(
            f"only {int(cal.sum())} calibration rows in {w.calibration_start}..{w.holdout_start}"
        )
    choice = choose_hyperparameters(x[before_cal], y[before_cal], dates[before_cal], w, s)
    x_fit, y_fit = _recent(x[before_cal], y[before_cal], s.max_train_rows)
    pipeline = make_pipeline(choice.c, choice.class_weight, s.seed).fit(x_fit, y_fit)
    a, b = fit_sigmoid(pipeline.decision_function(x[cal]), y[cal])
    return Fitted(CalibratedSVC(pipeline, a, b), choice, len(y_fit), int(cal.sum()))
