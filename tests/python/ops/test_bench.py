"""`skipcache bench` end to end on the tiny preset (figures are not asserted: no timed tests),
and its memory cap on the peer."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from helpers import run_cli

from scoring.ingest.generate import GenerateOptions, generate
from scoring.ops.bench import _env
from scoring.ops.nightly import full_tests_due


def test_bench_runs_every_step_and_writes_json(tmp_path: Path):
    out = tmp_path / "bench"
    proc = run_cli("bench", "--preset", "tiny", "--out", str(out), timeout=900)
    results = json.loads((out / "bench.json").read_text())
    names = [s["name"] for s in results["steps"]]
    assert names[0] == "generate tiny preset"
    assert names[1] == "[1x] full night (empty warehouse)"
    assert names[2].startswith("[1x] first incremental night (+")
    assert names[3].startswith("[1x] incremental night (+")
    assert names[4:] == [
        "[1x] no-data night",
        "[1x] scoring alone",
        "[1x] lookup",
        "[1x] peer: seed feature step (pandas)",
    ]
    full = results["steps"][1]
    assert full["peak_rss_mb"] > 0 and full["detail"]["steps"]["dbt build"] > 0
    # which models are the heaviest on the tiny preset is timing, not behaviour: check the shape
    heaviest = full["detail"]["heaviest_models"]
    assert 0 < len(heaviest) <= 12
    assert list(heaviest.values()) == sorted(heaviest.values(), reverse=True)
    assert results["steps"][3]["detail"]["steps"].get("reuse model") is not None
    assert results["steps"][3]["detail"]["steps"].get("prepare standby") is not None
    assert results["steps"][2]["detail"]["steps"].get("dbt build") is not None
    # nothing new since the incremental night: the no-data night stops after checking its inputs
    assert list(results["steps"][4]["detail"]["steps"]) == ["check inputs", "total"]
    assert "heaviest_models" not in results["steps"][4]["detail"]  # no dbt ran: no node times
    assert results["steps"][5]["detail"]["pairs"] > 0
    lookups = results["steps"][6]["detail"]
    assert lookups["lookups"] == 100_000 and len(lookups["p99_us_each"]) == lookups["repeats"]
    assert lookups["p99_us"] in lookups["p99_us_each"]  # the median repeat's, not a blend
    assert lookups["machine"]["stalls_over_50us_per_s"] >= 0  # the probe beside the lookups
    assert results["steps"][7]["detail"]["exit_code"] == 0  # under the default memory cap
    targets = {t["target"] for t in results["targets"]}
    assert "1x incremental night / full night" in targets
    assert "1x full night / peer feature step (time)" in targets
    assert all(isinstance(t["met"], bool) for t in results["targets"])
    assert results["machine"]["cpus"] >= 1 and results["session_events"]["1x"] > 0
    assert "met?" in proc.stdout


def test_peer_under_a_memory_cap_fails_and_says_so(tmp_path: Path):
    from scoring.ops.bench import _run_capped

    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=2))
    secs, rss, code, text = _run_capped(
        [sys.executable, "-m", "scoring.ops.peer", str(raw)], tmp_path / "peer.log", 0.05
    )
    assert code != 0 and rss > 0 and secs > 0  # 50 MB of address space: pandas cannot start


def test_measured_nights_test_as_an_ordinary_night_whatever_the_weekday(monkeypatch):
    # the weekly full test pass (SKIPCACHE_FULL_TESTS_WEEKDAY, default Sunday) doubles a 10x
    # night's test time: a bench run on that weekday would not compare with one on another day
    monkeypatch.delenv("SKIPCACHE_FULL_TESTS_WEEKDAY", raising=False)
    env = _env()
    assert env["SKIPCACHE_FULL_TESTS_WEEKDAY"] == "never"
    monkeypatch.setenv("SKIPCACHE_FULL_TESTS_WEEKDAY", env["SKIPCACHE_FULL_TESTS_WEEKDAY"])
    assert not any(full_tests_due(date(2026, 12, day)) for day in range(1, 8))
    monkeypatch.setenv("SKIPCACHE_FULL_TESTS_WEEKDAY", "2")  # a caller's choice is kept
    assert _env()["SKIPCACHE_FULL_TESTS_WEEKDAY"] == "2"
