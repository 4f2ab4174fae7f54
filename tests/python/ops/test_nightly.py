"""The nightly job: SQL scoring, decisions with arms, the published snapshot, safety, backfill."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest
from helpers import (
    NO_SERVED_LOGS,
    assert_summary_matches,
    copy_export,
    model_record,
    query,
    real_export,
    run_cli,
)

from scoring.config import TrainSettings, resolve_paths
from scoring.decide.coverage import night_coverage
from scoring.decide.serving import SnapshotReader, read_manifest
from scoring.ingest import inputs
from scoring.ingest.build import FileAccount
from scoring.model.features import prepare
from scoring.model.registry import load_model
from scoring.model.sql_scoring import p_play_sql
from scoring.model.train_and_gate import TrainReport
from scoring.ops.nightly import (
    CATALOGUE_UNCHANGED,
    NIGHT,
    Steps,
    _night_selector,
    _unchanged,
    format_night_summary,
    parse_steps,
    run_night,
)

DECISION_KEY = "decision_date, user_id, track_id"


def _version(wh: Path) -> str:
    return query(
        wh, "select decision_policy from ml.model_registry order by trained_at desc limit 1"
    )[0][0]


def test_sql_scores_equal_scikit_learn(night):
    _, wh = night
    version = _version(wh)
    assert version.startswith("svc-")  # the tiny export has planted signal: promoted
    model = load_model(wh.parent, version)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        expr = p_play_sql(con, version, "f")
        frame = con.execute(
            f"select f.*, {expr} as p_sql from marts.scoring_features as f using sample 2000 rows"
        ).df()
    finally:
        con.close()
    assert len(frame) == 2000
    np.testing.assert_allclose(
        frame["p_sql"].to_numpy(), model.p_play(prepare(frame)), rtol=0, atol=1e-9
    )


def test_decisions_are_unique_bounded_and_follow_the_threshold(night):
    _, wh = night
    assert query(
        wh, f"select count(*) = count(distinct ({DECISION_KEY})) from decisions.cache_decisions"
    ) == [(True,)]
    assert query(
        wh, "select min(p_play) >= 0 and max(p_play) <= 1 from decisions.cache_decisions"
    ) == [(True,)]
    assert query(
        wh,
        "select count(*) from decisions.cache_decisions where arm = 'model' and should_cache <> (p_play >= 0.5)",
    ) == [(0,)]
    arms = dict(
        query(wh, "select arm, count(distinct user_id) from decisions.cache_decisions group by 1")
    )
    assert set(arms) == {"model", "naive"}
    # every candidate pair is decided; every catalogue track has a default
    assert query(wh, "select count(*) from marts.cache_candidates") == query(
        wh, "select count(*) from decisions.cache_decisions"
    )
    assert query(wh, "select count(*) from marts.dim_tracks") == query(
        wh, "select count(*) from decisions.track_default_decisions"
    )


def test_a_night_with_nothing_new_builds_nothing_and_says_why(night, tmp_path: Path):
    raw, wh = night
    home = tmp_path / "home"
    shutil.copytree(wh.parent, home, symlinks=True, ignore=NO_SERVED_LOGS)
    paths = resolve_paths(raw, home / wh.name)
    live = paths.warehouse.resolve()
    before = {p.name: p.read_bytes() for p in home.iterdir() if p.is_file()}
    manifest = read_manifest(home / "serving")
    (home / "metrics" / "skipcache.prom").unlink()

    summary = run_night(paths, TrainSettings(), None, quiet=True)
    assert f"nothing new since the night of run {manifest['run_id']}" in summary
    assert "--force runs the night anyway" in summary
    assert list(parse_steps(summary)) == ["check inputs", "total"]
    assert paths.warehouse.resolve() == live  # no generation went live
    after = {p.name: p.read_bytes() for p in home.iterdir() if p.is_file()}
    assert after == before  # nothing written beside the lock
    assert read_manifest(home / "serving") == manifest
    prom = (home / "metrics" / "skipcache.prom").read_text()
    assert "skipcache_last_run_success 1.0" in prom and "skipcache_decisions{" in prom

    # other settings, or an unpublished night, are not the same night: it must run
    last = inputs.last_night(paths.warehouse)
    assert _unchanged(paths, last.fingerprint) == last
    assert _unchanged(paths, "another") is None
    (home / "serving" / "manifest.json").unlink()
    assert _unchanged(paths, last.fingerprint) is None


def test_rerunning_a_night_replaces_it(night, tmp_path: Path):
    raw, wh = night
    columns = "decision_date, user_id, track_id, arm, p_play, should_cache, model_version"
    before = query(wh, f"select {columns} from decisions.cache_decisions order by {DECISION_KEY}")
    run_night(resolve_paths(raw, wh), TrainSettings(), None, quiet=True, force=True)
    after = query(wh, f"select {columns} from decisions.cache_decisions order by {DECISION_KEY}")
    assert after == before
    assert query(wh, "select count(distinct run_id) from decisions.cache_decisions") == [(1,)]


def test_a_recent_model_is_reused_until_retraining_is_due(night, tmp_path: Path):
    raw, wh = night
    copy = tmp_path / "wh" / "skipcache.duckdb"
    copy.parent.mkdir()
    copy.write_bytes(wh.read_bytes())
    paths = resolve_paths(raw, copy)
    (trained_for, version, policy) = query(
        copy, "select decision_date, model_version, decision_policy from ml.model_registry"
    )[0]
    nights = [trained_for + timedelta(days=n) for n in (1, 2)]
    # within 3 nights of its own night the model is reused: no new registry row
    run_night(paths, TrainSettings(retrain_every_days=3), nights[0], quiet=True)
    assert query(copy, "select count(*) from ml.model_registry") == [(1,)]
    assert query(
        copy,
        "select distinct decision_date, model_version from decisions.cache_decisions "
        f"where decision_date = '{nights[0]}' and arm = 'model'",
    ) == [(nights[0], policy)]
    # with retraining every night a new model is trained for the night, on earlier days only
    run_night(paths, TrainSettings(retrain_every_days=0), nights[1], quiet=True)
    rows = query(copy, "select decision_date, train_end_date from ml.model_registry")
    assert sorted(r[0] for r in rows) == [trained_for, nights[1]]
    assert all(train_end < night for night, train_end in rows)
    assert version in {r[0] for r in query(copy, "select model_version from ml.model_registry")}


def test_snapshot_manifest_and_lookup(night):
    _, wh = night
    serving = wh.parent / "serving"
    manifest = read_manifest(serving)
    assert set(manifest) >= {
        "files",
        "row_count",
        "decision_date",
        "run_id",
        "model_version",
        "arm_shares",
    }
    for meta in manifest["files"].values():
        assert (serving / meta["file"]).exists() and len(meta["sha256"]) == 64
    user, track = query(
        wh, "select user_id, track_id from decisions.cache_decisions order by 1, 2 limit 1"
    )[0]
    out = json.loads(
        run_cli(
            "lookup", "--warehouse", str(wh), "--user", str(user), "--track", track, "--json"
        ).stdout
    )
    assert out["source"] == "pair" and set(out) >= {
        "should_cache",
        "p_play",
        "arm",
        "model_version",
        "decision_date",
    }
    other = query(
        wh,
        f"select track_id from decisions.track_default_decisions where track_id not in (select track_id from decisions.cache_decisions where user_id = {user}) limit 1",
    )[0][0]
    out = json.loads(
        run_cli(
            "lookup", "--warehouse", str(wh), "--user", str(user), "--track", other, "--json"
        ).stdout
    )
    assert out["source"] == "model"  # not a candidate: the policy computed from the parts
    out = json.loads(
        run_cli(
            "lookup", "--warehouse", str(wh), "--user", "424242", "--track", "x" * 22, "--json"
        ).stdout
    )
    assert out["source"] == "cold_start" and 0 <= out["p_play"] <= 1
    reader = SnapshotReader(serving)
    started = time.perf_counter()
    for _ in range(10000):
        reader.lookup(user, track)
    assert reader.lookup(user, track).source == "pair"
    assert (time.perf_counter() - started) / 10000 < 1e-3  # a sanity bound, not a benchmark


def _nightly_cmd(raw: Path, wh: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scoring",
        "nightly",
        "--raw-dir",
        str(raw),
        "--warehouse",
        str(wh),
        "--quiet",
        "--force",  # the inputs are unchanged: a real night all the same
    ]


def test_reading_the_snapshot_while_a_night_publishes(night, tmp_path: Path):
    raw, _ = night
    raw2 = copy_export(raw, tmp_path / "raw")
    wh = tmp_path / "wh" / "skipcache.duckdb"
    run_night(resolve_paths(raw2, wh), TrainSettings(), None, quiet=True)
    reader = SnapshotReader(wh.parent / "serving")
    errors: list[BaseException] = []
    stop = threading.Event()
    reloads = 0

    def read_loop() -> None:
        nonlocal reloads
        while not stop.is_set():
            try:
                fresh = SnapshotReader(wh.parent / "serving")  # a cold reader each time
                m = fresh.manifest
                assert len(fresh.snapshot.pairs) == m["files"]["decisions"]["row_count"]
                assert (
                    len(fresh.snapshot.track_defaults) == m["files"]["track_defaults"]["row_count"]
                )
                reloads += reader.reload()
            except BaseException as exc:  # noqa: BLE001 - any failure is the test's result
                errors.append(exc)
                return

    thread = threading.Thread(target=read_loop)
    thread.start()
    try:
        for _ in range(2):
            subprocess.run(_nightly_cmd(raw2, wh), check=True, capture_output=True, timeout=600)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[0]
    assert reloads >= 1


@pytest.mark.parametrize("kill_after", [2.0, 6.5])
def test_a_killed_night_leaves_the_last_snapshot_and_the_next_run_succeeds(
    night, tmp_path: Path, kill_after: float
):
    raw, _ = night
    raw2 = copy_export(raw, tmp_path / "raw")
    wh = tmp_path / "wh" / "skipcache.duckdb"
    run_night(resolve_paths(raw2, wh), TrainSettings(), None, quiet=True)
    serving = wh.parent / "serving"
    snapshot = {p.name: p.read_bytes() for p in serving.iterdir()}
    warehouse_before = wh.read_bytes()
    proc = subprocess.Popen(
        _nightly_cmd(raw2, wh), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # it was killed mid-run, not finished
    # the published snapshot is as it was, and readable; the warehouse is the last good one
    assert {
        p.name: p.read_bytes() for p in serving.iterdir() if not p.name.startswith(".")
    } == snapshot
    assert SnapshotReader(serving).manifest == json.loads(snapshot["manifest.json"])
    assert wh.read_bytes() == warehouse_before
    subprocess.run(_nightly_cmd(raw2, wh), check=True, capture_output=True, timeout=600)
    assert read_manifest(serving)["run_id"] != json.loads(snapshot["manifest.json"])["run_id"]
    assert not [p for p in wh.parent.iterdir() if p.name.endswith(".building")]


def _check_backfill(wh: Path, nights: list[str]) -> None:
    rows = query(
        wh,
        """select decision_date::varchar, count(*), count(distinct (user_id, track_id)), min(p_play), max(p_play)
           from decisions.cache_decisions group by 1 order by 1""",
    )
    assert [r[0] for r in rows] == nights
    for _, n, distinct, lo, hi in rows:
        assert n == distinct > 0 and 0 <= lo <= hi <= 1
    # every night's models were trained before that night, and only ever on earlier days
    assert query(
        wh, "select count(*) from ml.model_registry where train_end_date >= decision_date"
    ) == [(0,)]
    assert query(
        wh,
        """select count(*) from decisions.cache_decisions as d
           join ml.model_registry as r on d.model_version = r.model_version
           where r.train_end_date >= d.decision_date""",
    ) == [(0,)]


def test_backfill_on_a_generated_export(night, tmp_path: Path):
    raw, _ = night
    wh = tmp_path / "wh" / "skipcache.duckdb"
    run_cli(
        "backfill",
        "--raw-dir",
        str(raw),
        "--warehouse",
        str(wh),
        "--start",
        "2024-12-26",
        "--end",
        "2024-12-29",
        "--quiet",
    )
    _check_backfill(wh, ["2024-12-26", "2024-12-27", "2024-12-28", "2024-12-29"])
    assert read_manifest(wh.parent / "serving")["decision_date"] == "2024-12-29"


def test_backfill_14_nights_on_the_real_export(tmp_path: Path):
    raw = real_export("ium23z-v2")
    wh = tmp_path / "wh" / "skipcache.duckdb"
    run_cli(
        "backfill",
        "--raw-dir",
        str(raw),
        "--warehouse",
        str(wh),
        "--start",
        "2023-11-12",
        "--end",
        "2023-11-25",
        "--quiet",
    )
    _check_backfill(wh, [f"2023-11-{d}" for d in range(12, 26)])
    # no request was a candidate pair; through the service, the policy answers all 526
    coverage = night_coverage(wh)
    assert sum(r["requests"] for r in coverage) == 526
    assert all(r["before_pair_share"] == 0 and r["after_policy_share"] == 1 for r in coverage)
    # the nights' listens are in the export: the A/B summary is measured, and agrees by hand
    assert assert_summary_matches(wh) == 28  # 14 nights x 2 arms
    run_cli("report", "--warehouse", str(wh))
    summary = (wh.parent / "reports" / "2023-11-25" / "summary.md").read_text()
    # on this export no request of the 14 nights was a candidate pair: the report says so
    assert "**The decisions cannot be compared yet.**" in summary
    assert "did not pass the gate" in summary and "decided with baseline:" in summary
    run_cli("docs", "--warehouse", str(wh))
    catalog = json.loads((wh.parent / "docs" / "catalog.json").read_text())
    assert "model.skipcache.fct_listens" in catalog["nodes"]
    assert "source.skipcache.decisions.cache_decisions" in catalog["sources"]
    from prometheus_client.parser import text_string_to_metric_families

    prom = (wh.parent / "metrics" / "skipcache.prom").read_text()
    families = {f.name: f for f in text_string_to_metric_families(prom)}
    assert families["skipcache_last_run_success"].samples[0].value == 1
    assert all(name.startswith("skipcache_") for name in families)


def test_steps_time_each_named_step_once_and_drop_a_failed_one():
    steps = Steps()
    with steps.step("dbt build"):
        pass
    with steps.step("train and evaluate") as step:
        step.name = "reuse model"
    with pytest.raises(RuntimeError), steps.step("score and decide"):
        raise RuntimeError("boom")
    assert [name for name, _ in steps.done] == ["dbt build", "reuse model"]
    assert all(secs >= 0 for _, secs in steps.done)
    assert steps.seconds("reuse model") == steps.done[1][1]
    assert steps.elapsed() >= sum(secs for _, secs in steps.done)


def test_the_night_summary_text(tmp_path: Path):
    paths = resolve_paths(tmp_path / "raw", tmp_path / "wh" / "skipcache.duckdb")
    record = model_record(
        metrics={
            p: {"roc_auc": auc, "accuracy": 0.7, "log_loss": 0.55}
            for p, auc in [("model", 0.75), ("naive", 0.6), ("constant", None),
                           ("user_history", 0.7)]
        },
        seed_replica_accuracy=0.91, seed_replica_roc_auc=0.93,
    )  # fmt: skip
    report = TrainReport(
        record.model_version, True, record.reason, record.model_version, record, {}
    )
    accounts = [FileAccount("sessions.jsonl", 1200, 1190, 10)]
    counts = {"arms": {"naive": (30, 12), "model": (40, 20)}, "track_defaults": (9, 3)}
    text = format_night_summary(
        paths, report, accounts, counts, {"row_count": 1234}, "run1",
        [("prepare standby", 0.04), ("dbt build", 12.34)], 20.0,
    )  # fmt: skip
    assert text.splitlines() == [
        "",
        f"warehouse {paths.warehouse} from {paths.raw_dir}",
        "raw file         lines read       staged  quarantined",
        "sessions.jsonl        1,200        1,190           10",
        "",
        "decision date 2024-12-25: model svc-20241225-abc trained on 50,000 listens "
        "(2023-12-01..2024-12-10), hold-out 9,000 listens (2024-12-11..2024-12-24)",
        "policy            AUC  accuracy  log loss",
        "model           0.750     0.700     0.550",
        "naive           0.600     0.700     0.550",
        "constant          n/a     0.700     0.550",
        "user_history    0.700     0.700     0.550",
        "seed replica    0.930     0.910   (leaky: rates over all rows, random split)",
        "",
        f"svc-20241225-abc: PROMOTED: {record.reason}. "
        "Decisions for 2024-12-25 use svc-20241225-abc.",
        "arm model            40 pair decisions,         20 cached",
        "arm naive            30 pair decisions,         12 cached",
        "track defaults          9 tracks,          3 cached",
        f"published {paths.home / 'serving' / 'manifest.json'} (run run1, 1,234 rows)",
        f"metrics {paths.metrics / 'skipcache.prom'}",
        "",
        "prepare standby         0.0s",
        "dbt build              12.3s",
        "total                  20.0s",
    ]
    # the benches read the steps back from the text (skipcache bench, engine_bench)
    assert parse_steps(text) == {"prepare standby": 0.0, "dbt build": 12.3, "total": 20.0}
    # a train-only night (no counts, no snapshot) stops after the verdict
    short = format_night_summary(paths, report, accounts, None, None, "run1", [], 1.0)
    assert "arm model" not in short and "published" not in short
    assert short.splitlines()[-2:] == ["", "total                   1.0s"]


@pytest.mark.parametrize(
    ("engine", "night_tests", "keep_catalogue", "selector"),
    [
        ("duckdb", True, True, CATALOGUE_UNCHANGED),
        ("duckdb", True, False, NIGHT),  # the job checks the decisions it writes
        ("duckdb", False, False, None),  # a full test pass: every test
        ("spark", True, False, None),  # Parquet decisions: their data tests check them
    ],
)
def test_a_night_leaves_out_the_decision_grain_tests_only_where_the_job_checks_them(
    tmp_path: Path, engine: str, night_tests: bool, keep_catalogue: bool, selector: str | None
):
    paths = resolve_paths(tmp_path / "raw", tmp_path / "wh" / "skipcache.duckdb", engine=engine)
    assert _night_selector(paths, night_tests, keep_catalogue) == selector
