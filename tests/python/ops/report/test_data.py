"""The report's numbers (scoring/ops/report/data.py), read from the warehouse: each chart's
numbers (charts.json) checked against the warehouse by an independent query."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from helpers import REPLAYED_NIGHTS, REPORT_CHARTS, frame, query

NIGHTS = REPLAYED_NIGHTS


def test_report_charts_are_drawn_from_the_warehouse(replayed, report):
    """Each chart's numbers (charts.json), checked against the warehouse, not its pixels."""
    from sklearn.metrics import roc_auc_score

    from scoring.model.features import FEATURES, prepare

    _, wh = replayed
    charts = json.loads((report / "charts.json").read_text())
    assert set(charts) == {f"{c}.png" for c in REPORT_CHARTS}

    # accuracy_by_arm: every (night, arm) of ab_daily_summary is a point with the requests
    # behind it and an interval around it, or is listed as a night without data
    arms = charts["accuracy_by_arm.png"]
    summary = frame(wh, "select * from marts.ab_daily_summary")
    for panel, count in [("accuracy", "covered_requests"), ("cache_hit_rate", "requests")]:
        drawn = {(p["night"], p["arm"]): p for p in arms["panels"][panel]["points"]}
        missing = {(p["night"], p["arm"]) for p in arms["panels"][panel]["missing"]}
        assert len(drawn) + len(missing) == len(summary)
        for _, row in summary.iterrows():
            key = (f"{row['decision_date']:%Y-%m-%d}", row["arm"])
            if row[count] == 0:
                assert key in missing, key
                continue
            point = drawn[key]
            assert point["n"] == row[count]
            assert math.isclose(point["value"], row[panel], abs_tol=1e-12)
            assert point["low"] <= point["value"] <= point["high"]
    covered = frame(
        wh,
        "select decision_date, avg(is_played_through::int) as rate, count(*) as n "
        "from intermediate.int_decision_requests where answered_by = 'pair' and arm is not null "
        "group by 1",
    )
    refs = {r["night"]: r for r in arms["references"]}
    assert len(refs) == len(covered)
    for _, row in covered.iterrows():
        ref = refs[f"{row['decision_date']:%Y-%m-%d}"]
        assert ref["n"] == row["n"] and math.isclose(ref["always_play"], row["rate"])

    # the model reported on, and its weights
    version = charts["feature_weights.png"]["model_version"]
    weights = dict(query(wh, f"select feature, weight from ml.model_weights "
                             f"where model_version = '{version}'"))  # fmt: skip
    assert charts["feature_weights.png"]["weights"] == pytest.approx(weights, abs=1e-12)
    model = frame(wh, f"select * from ml.model_registry where model_version = '{version}'")
    model = model.iloc[0]

    # the correlation matrix, recomputed with pandas on the model's training rows
    corr = charts["feature_correlation.png"]
    assert corr["features"] == FEATURES and corr["model_version"] == version
    rows = frame(
        wh,
        f"select * from marts.training_examples where listen_date between "
        f"'{model['train_start_date']:%Y-%m-%d}' and '{model['fit_end_date']:%Y-%m-%d}' "
        f"order by listen_date desc, listen_id limit {int(model['train_rows'])}",
    )
    assert corr["rows"] == len(rows) > 0
    expected = pd.DataFrame(prepare(rows), columns=FEATURES).corr().to_numpy()
    got = np.array([[np.nan if v is None else v for v in r] for r in corr["matrix"]], float)
    np.testing.assert_allclose(got, expected, atol=1e-9)

    # ROC: the model's hold-out AUC is the registry's; always play is the diagonal
    roc = charts["roc.png"]
    holdout = frame(
        wh,
        f"select h.p_play, not t.is_skipped as y from ml.holdout_predictions as h join "
        f"marts.training_examples as t using (listen_id) where h.model_version = '{version}'",
    )
    assert roc["listens"] == len(holdout) == model["holdout_rows"]
    assert roc["played_through"] == holdout["y"].sum()
    auc = roc_auc_score(holdout["y"].astype(int), holdout["p_play"])
    assert math.isclose(roc["curves"]["model"]["auc"], auc, abs_tol=1e-12)
    assert math.isclose(roc["curves"]["model"]["auc"], model["model_roc_auc"], abs_tol=1e-9)
    assert roc["curves"]["constant"]["auc"] == 0.5
    # calibration: every hold-out listen is in one bin of each policy
    for policy, bins in charts["calibration.png"]["bins"].items():
        assert sum(b["n"] for b in bins) == len(holdout), policy

    # leakage gap: the registry's figures, with the always-play and user-history references
    registry = frame(wh, "select * from ml.model_registry")
    drawn = {m["model_version"]: m for m in charts["leakage_gap.png"]["models"]}
    assert set(drawn) == set(registry["model_version"])
    for _, row in registry.iterrows():
        for key in ["seed_replica_accuracy", "model_accuracy", "constant_accuracy",
                    "user_history_accuracy"]:  # fmt: skip
            assert math.isclose(drawn[row["model_version"]][key], row[key]), key
