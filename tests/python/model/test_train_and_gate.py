"""The train step (scoring/model/train_and_gate.py) end to end: fit, evaluate against the
baselines, gate, register; on planted signal, on data without signal, and on too little data."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
from helpers import query, real_export, run_cli
from sklearn.metrics import roc_auc_score

from scoring.config import TrainSettings, resolve_paths
from scoring.ingest.generate import GenerateOptions, generate
from scoring.ops.nightly import run_night


def _train(raw: Path, wh: Path, **settings) -> dict:
    run_night(resolve_paths(raw, wh), TrainSettings(**settings), None, quiet=True)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        cur = con.execute("select * from ml.model_registry order by trained_at desc limit 1")
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchall()[0], strict=True))
    finally:
        con.close()


@pytest.fixture(scope="module")
def signal_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    raw = tmp_path_factory.mktemp("signal") / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=3))
    wh = raw.parent / "wh" / "skipcache.duckdb"
    return raw, wh, _train(raw, wh)


def test_gate_accepts_a_model_on_planted_signal(signal_run):
    raw, wh, rec = signal_run
    assert rec["promoted"], rec["reason"]
    assert rec["decision_policy"] == rec["model_version"]
    assert rec["auc_diff_naive_low"] > 0 and rec["auc_diff_constant_low"] > 0
    assert rec["model_roc_auc"] > rec["naive_roc_auc"]
    # the hold-out was never seen: training ended before it, and it ends before the decision date
    assert (
        rec["fit_end_date"]
        < rec["train_end_date"]
        < rec["holdout_start_date"]
        <= rec["holdout_end_date"]
        < rec["decision_date"]
    )
    holdout = query(
        wh,
        f"""select count(*), min(p_play), max(p_play), min(f.listen_date), max(f.listen_date)
            from ml.holdout_predictions as h join marts.fct_listens as f using (listen_id)
            where h.model_version = '{rec["model_version"]}'""",
    )[0]
    assert holdout[0] == rec["holdout_rows"] > 100
    assert 0 <= holdout[1] <= holdout[2] <= 1
    assert (holdout[3], holdout[4]) == (rec["holdout_start_date"], rec["holdout_end_date"])


def test_registry_and_artefacts_once_per_version(signal_run):
    raw, wh, rec = signal_run
    again = _train(raw, wh)  # same data, same settings: the same version, replaced not added
    assert again["model_version"] == rec["model_version"]
    assert query(wh, "select count(*), count(distinct model_version) from ml.model_registry") == [
        (1, 1)
    ]
    assert query(wh, "select count(*) from ml.holdout_predictions") == [(rec["holdout_rows"],)]
    folder = wh.parent / "models" / rec["model_version"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "features.json",
        "metrics.json",
        "model.joblib",
    ]
    assert [p.name for p in (wh.parent / "models").iterdir()] == [rec["model_version"]]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["holdout"]) == {"model", "naive", "constant", "user_history"}
    for m in metrics["holdout"].values():
        assert {
            "roc_auc",
            "accuracy",
            "f1_play",
            "f1_skip",
            "log_loss",
            "brier",
            "confusion",
        } <= set(m)


def test_gate_refuses_a_model_on_data_without_signal(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=3, signal=0.0))
    rec = _train(raw, tmp_path / "wh" / "skipcache.duckdb")
    assert not rec["promoted"]
    assert "does not clearly beat" in rec["reason"]
    assert rec["decision_policy"].startswith("baseline:")


def test_real_v2_is_honestly_not_promoted(tmp_path: Path):
    raw = real_export("ium23z-v2")
    proc = run_cli(
        "train", "--raw-dir", str(raw), "--warehouse", str(tmp_path / "wh.duckdb"), "--quiet"
    )
    assert "NOT PROMOTED" in proc.stdout
    rec = query(
        tmp_path / "wh.duckdb",
        "select promoted, model_roc_auc, seed_replica_accuracy from ml.model_registry",
    )[0]
    assert rec[0] is False
    assert abs(rec[1] - 0.5) < 0.1  # no signal before the listen
    assert rec[2] > 0.8  # the seed's way: leakage makes it look good


def test_demo_model_is_within_002_of_the_bayes_optimal_auc(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="demo", seed=7))
    wh = tmp_path / "wh.duckdb"
    rec = _train(raw, wh)
    assert rec["promoted"], rec["reason"]
    rows = query(
        wh,
        f"""select t.p_skip, h.p_play, f.is_skipped
            from ml.holdout_predictions as h
            join marts.fct_listens as f using (listen_id)
            join '{raw / "_truth.parquet"}' as t
                on t.session_id = f.session_id and t.user_id = f.user_id
                and t.track_id = f.track_id and t.started_at = f.started_at
            where h.model_version = '{rec["model_version"]}'""",
    )
    assert len(rows) == rec["holdout_rows"]
    played = np.array([not r[2] for r in rows])
    bayes = roc_auc_score(played, -np.array([r[0] for r in rows]))
    model = roc_auc_score(played, np.array([r[1] for r in rows]))
    assert model == pytest.approx(rec["model_roc_auc"])
    assert bayes - model < 0.02, (bayes, model)


def test_too_little_data_is_a_clear_error(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=3))
    proc = run_cli(
        "train",
        "--raw-dir",
        str(raw),
        "--warehouse",
        str(tmp_path / "wh.duckdb"),
        "--date",
        "2024-11-10",
        "--quiet",
        check=False,
    )
    assert proc.returncode == 2
    assert "skipcache train:" in proc.stderr and "Traceback" not in proc.stderr
