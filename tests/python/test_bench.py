"""`skipcache bench` end to end on the tiny preset (figures are not asserted: no timed tests),
and the pandas peer's feature step against a hand count."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from helpers import run_cli

from scoring.generate import GenerateOptions, generate
from scoring.peer import feature_step


def test_bench_runs_every_step_and_writes_json(tmp_path: Path):
    out = tmp_path / "bench"
    proc = run_cli("bench", "--preset", "tiny", "--out", str(out), timeout=900)
    results = json.loads((out / "bench.json").read_text())
    names = [s["name"] for s in results["steps"]]
    assert names[0] == "generate tiny preset"
    assert names[1] == "full night (empty warehouse)"
    assert names[2].startswith("incremental night (+")
    assert names[3:] == ["scoring alone", "lookup", "peer: seed feature step (pandas)"]
    full = results["steps"][1]
    assert full["peak_rss_mb"] > 0 and full["detail"]["steps"]["dbt build"] > 0
    assert "training_examples" in full["detail"]["heaviest_models"]
    assert results["steps"][2]["detail"]["steps"].get("reuse model") is not None
    assert results["steps"][3]["detail"]["pairs"] > 0
    assert results["steps"][4]["detail"]["lookups"] == 100_000
    assert set(results["ratios"]) == {"full_night_time_over_peer", "full_night_rss_over_peer"}
    assert results["machine"]["cpus"] >= 1 and results["session_events"] > 0
    assert "full night / peer" in proc.stdout


def test_peer_lets_a_skip_win_and_rates_over_all_rows(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=2))
    frame = feature_step(raw)
    events = pd.read_json(raw / "sessions.jsonl", lines=True)
    events = events[events["event_type"].isin(["play", "skip"])]
    pairs = events.groupby(["session_id", "track_id"])["event_type"].agg(set)
    assert len(frame) == len(pairs)
    skipped = pairs.map(lambda kinds: "skip" in kinds)
    assert int(frame["skipped"].sum()) == int(skipped.sum())
    by_user = skipped.groupby(events.groupby(["session_id", "track_id"])["user_id"].first()).mean()
    got = frame.groupby("user_id")["user_skip_rate"].first()
    assert (got.sort_index() - by_user.sort_index()).abs().max() < 1e-12
