"""The typed registry record and its one mapping to and from ml.model_registry rows."""

from __future__ import annotations

import dataclasses
from datetime import date

import duckdb
import pandas as pd
import pytest
from helpers import model_record

from scoring.model import registry
from scoring.model.registry import ModelRecord, PolicyMetrics


@pytest.fixture
def con():
    con = duckdb.connect(":memory:")
    registry.ensure_tables(con)  # every ml table, model_weights included
    yield con
    con.close()


def _predictions(version: str) -> pd.DataFrame:
    return pd.DataFrame({"listen_id": ["a", "b"], "model_version": version, "p_play": [0.2, 0.9]})


def test_a_row_has_the_tables_columns_in_their_order(con):
    columns = [r[0] for r in con.execute("describe ml.model_registry").fetchall()]
    assert list(model_record().to_row()) == columns


def test_per_policy_metrics_go_to_their_own_columns():
    record = model_record(
        metrics={"model": {"roc_auc": 0.75, "log_loss": 0.6}, "naive": {"accuracy": 0.7}},
        auc_diff={"naive": (0.01, 0.05), "constant": (0.2, 0.3)},
    )
    row = record.to_row()
    assert row["model_roc_auc"] == 0.75 and row["model_log_loss"] == 0.6
    assert row["naive_accuracy"] == 0.7 and row["naive_roc_auc"] is None
    assert (row["auc_diff_naive_low"], row["auc_diff_naive_high"]) == (0.01, 0.05)
    assert (row["auc_diff_constant_low"], row["auc_diff_constant_high"]) == (0.2, 0.3)
    assert record.metric("model", "roc_auc") == 0.75
    assert record.metric("naive", "accuracy") == 0.7
    with pytest.raises(KeyError):
        record.metric("model", "confusion")  # kept in metrics.json, not in the registry
    assert ModelRecord.from_row(row) == record


def test_written_and_read_back_unchanged(con):
    record = model_record(
        metrics={p: {"roc_auc": 0.5 + i / 10, "accuracy": 0.6} for i, p in
                 enumerate(registry.POLICIES)},
        seed_replica_accuracy=0.9, seed_replica_roc_auc=0.95,
        auc_diff={"naive": (0.01, 0.05), "constant": (None, None)},
    )  # fmt: skip
    registry.write(con, record, _predictions(record.model_version))
    assert registry.read(con, record.model_version) == record
    assert registry.read(con, "svc-nothing") is None
    # a rerun of the version replaces its row and predictions
    again = dataclasses.replace(record, reason="again", promoted=False)
    registry.write(con, again, _predictions(record.model_version))
    assert registry.read(con, record.model_version) == again
    assert con.execute("select count(*) from ml.holdout_predictions").fetchall() == [(2,)]


def test_nan_from_a_frame_reads_as_none():
    row = model_record().to_row()
    row["c"] = float("nan")
    row["model_roc_auc"] = float("nan")
    record = ModelRecord.from_row(row)
    assert record.c is None and record.metric("model", "roc_auc") is None


def test_from_metrics_keeps_the_registry_metrics_only():
    m = {"roc_auc": 0.7, "accuracy": 0.6, "f1_play": 0.5, "f1_skip": 0.4, "log_loss": 0.3,
         "brier": 0.2, "confusion": [[1, 2], [3, 4]]}  # fmt: skip
    assert PolicyMetrics.from_metrics(m) == PolicyMetrics(0.7, 0.6, 0.5, 0.4, 0.3, 0.2)


def test_the_reusable_model_is_a_record_of_todays_features(con):
    from scoring.model.features import FEATURES

    record = model_record(decision_date=date(2024, 12, 25))
    registry.write(con, record, _predictions(record.model_version))
    assert registry.reusable_model(con, date(2024, 12, 26), 3) is None  # no weights: no reuse
    con.executemany(
        "insert into ml.model_weights (model_version, feature, feature_position, transform, "
        "impute_value, center, scale, weight) values (?, ?, ?, 'none', 0, 0, 1, 0)",
        [(record.model_version, f, i) for i, f in enumerate(FEATURES)],
    )
    assert registry.reusable_model(con, date(2024, 12, 26), 3) == record
    assert registry.reusable_model(con, date(2024, 12, 29), 3) is None  # too old
    assert registry.reusable_model(con, date(2024, 12, 26), 0) is None  # retrain every night


def test_the_registry_keeps_an_interval_for_each_gate_baseline():
    from scoring.model import evaluation

    assert registry.INTERVAL_BASELINES == evaluation.GATE_BASELINES


@pytest.mark.parametrize("old_name", ["scoring.training", "scoring.model_fit"])
def test_a_model_pickled_before_the_rename_of_its_module_still_loads(
    tmp_path, monkeypatch, old_name
):
    import sys

    import joblib
    import numpy as np

    from scoring.model import model_fit

    # pickle a model as the package wrote it when model_fit was called old_name
    monkeypatch.setitem(sys.modules, old_name, model_fit)
    monkeypatch.setattr(model_fit.CalibratedSVC, "__module__", old_name)
    folder = tmp_path / "models" / "svc-old"
    folder.mkdir(parents=True)
    joblib.dump(model_fit.CalibratedSVC(model_fit.make_pipeline(1.0, None, 0), 2.0, -1.0),
                folder / "model.joblib")  # fmt: skip
    monkeypatch.undo()
    pickled = (folder / "model.joblib").read_bytes()
    assert old_name.encode() in pickled and b"scoring.model.model_fit" not in pickled
    sys.modules.pop(old_name, None)

    model = registry.load_model(tmp_path, "svc-old")
    assert isinstance(model, model_fit.CalibratedSVC) and (model.a, model.b) == (2.0, -1.0)
    assert model_fit.sigmoid(np.array([0.0]))[0] == 0.5
