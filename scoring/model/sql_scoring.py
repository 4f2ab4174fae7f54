"""The calibrated SVC as SQL: one linear function and one sigmoid, computed in the warehouse.

imputation (mean), scaling and the linear SVC fold into
    margin = intercept + sum_f weight_f * (coalesce(x_f, mean_f) - center_f) / scale_f
and the calibration into p_play = 1 / (1 + exp(-(a * margin + b))), with x_f the prepared
feature (log(1 + count) for counts, 0/1 for booleans). The weights are exported to
ml.model_weights and ml.model_calibration; the SQL expression is generated from those tables,
so millions of candidate pairs are scored without leaving DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from scoring.model import job_tables
from scoring.model.features import BOOLEAN_FEATURES, FEATURES, LOG_COUNT_FEATURES

if TYPE_CHECKING:  # only an annotation: importing model_fit would load scikit-learn
    from scoring.model.model_fit import CalibratedSVC


def _transform(feature: str) -> str:
    if feature in LOG_COUNT_FEATURES:
        return "log1p"
    return "boolean" if feature in BOOLEAN_FEATURES else "none"


def weights_frame(version: str, model: CalibratedSVC) -> tuple[pd.DataFrame, dict]:
    imputer = model.pipeline.named_steps["impute"]
    scaler = model.pipeline.named_steps["scale"]
    svc = model.pipeline.named_steps["svc"]
    frame = pd.DataFrame(
        {
            "model_version": version,
            "feature_position": range(len(FEATURES)),
            "feature": FEATURES,
            "transform": [_transform(f) for f in FEATURES],
            "impute_value": imputer.statistics_,
            "center": scaler.mean_,
            "scale": scaler.scale_,
            "weight": svc.coef_[0],
        }
    )
    calibration = {
        "model_version": version,
        "svc_intercept": float(svc.intercept_[0]),
        "sigmoid_a": model.a,
        "sigmoid_b": model.b,
    }
    return frame, calibration


def export_weights(con: duckdb.DuckDBPyConnection, version: str, model: CalibratedSVC) -> None:
    """Replace the version's weights and calibration (the caller owns the transaction)."""
    job_tables.ensure(con, "ml")
    frame, calibration = weights_frame(version, model)
    con.execute("delete from ml.model_weights where model_version = ?", [version])
    con.execute("delete from ml.model_calibration where model_version = ?", [version])
    con.register("new_weights", frame)
    con.execute("insert into ml.model_weights select * from new_weights")
    con.unregister("new_weights")
    con.execute(
        "insert into ml.model_calibration values (?, ?, ?, ?)",
        [version, calibration["svc_intercept"], calibration["sigmoid_a"], calibration["sigmoid_b"]],
    )


def _literal(x: float) -> str:
    return repr(float(x))


def prepared_sql(col: str, transform: str) -> str:
    """features.prepare in SQL: a double, log(1 + count) for counts (a negative count as 0);
    null stays null, for the imputer (not greatest(x, 0), which skips a null and gives 0)."""
    if transform == "log1p":
        return f"ln(1 + case when {col} < 0 then 0 else cast({col} as double) end)"
    return f"cast({col} as double)"


def p_play_sql(con: duckdb.DuckDBPyConnection, version: str, alias: str = "") -> str:
    """The SQL expression of p_play for `version`, over the feature columns of `alias`."""
    prefix = f"{alias}." if alias else ""
    rows = con.execute(
        "select feature, transform, impute_value, center, scale, weight from ml.model_weights "
        "where model_version = ? order by feature_position",
        [version],
    ).fetchall()
    cal = con.execute(
        "select svc_intercept, sigmoid_a, sigmoid_b from ml.model_calibration "
        "where model_version = ?",
        [version],
    ).fetchall()
    if not rows or not cal:
        raise KeyError(f"no exported weights for model {version}")
    terms = []
    for feature, transform, impute, center, scale, weight in rows:
        x = prepared_sql(f"{prefix}{feature}", transform)
        terms.append(
            f"{_literal(weight)} * (coalesce({x}, {_literal(impute)}) - {_literal(center)})"
            f" / {_literal(scale)}"
        )
    intercept, a, b = cal[0]
    margin = f"({_literal(intercept)} + " + " + ".join(terms) + ")"
    return f"1 / (1 + exp(-({_literal(a)} * {margin} + {_literal(b)})))"
