"""Outcomes, the A/B report, the Prometheus metrics and the dbt docs, on a generated export."""

from __future__ import annotations

import json
import math
from pathlib import Path

from helpers import (
    REPLAYED_NIGHTS,
    assert_summary_matches,
    copy_export,
    frame,
    query,
    run_cli,
)

from scoring.config import DBT_ENV, PROJECT_ROOT

NIGHTS = REPLAYED_NIGHTS


def test_ab_daily_summary_agrees_with_a_recomputation(replayed):
    _, wh = replayed
    assert assert_summary_matches(wh) == 16  # 8 nights x 2 arms


def test_every_request_is_answered_once(replayed):
    _, wh = replayed
    (listens,) = query(
        wh,
        "select count(*) from marts.fct_listens as l join marts.dim_tracks using (track_id) "
        f"where l.listen_date between '{NIGHTS[0]}' and '{NIGHTS[1]}'",
    )[0]
    (answered,) = query(wh, "select sum(requests) from marts.decision_outcomes")[0]
    assert answered == listens > 0
    # a pair decision's requests are exactly its user's listens of its track that night
    rows = query(
        wh,
        """
        select o.requests, count(l.listen_id)
        from marts.decision_outcomes as o
        left join marts.fct_listens as l
            on l.user_id = o.user_id and l.track_id = o.track_id
            and l.listen_date = o.decision_date
        where o.decision_kind = 'pair'
        group by o.decision_date, o.user_id, o.track_id, o.requests
        """,
    )
    assert all(a == b for a, b in rows)


def test_arm_comparison_by_hand(replayed):
    _, wh = replayed
    req = frame(wh, "select * from intermediate.int_decision_requests where arm is not null")
    cov = req[req["answered_by"] == "pair"]
    stats = {}
    for arm, g in cov.groupby("arm"):
        per_user = g.assign(ok=g["is_cached"] == g["is_played_through"]).groupby("user_id")
        n, y = per_user.size().to_numpy(), per_user["ok"].sum().to_numpy()
        r, m = y.sum() / n.sum(), len(n)
        stats[arm] = (r, m / (m - 1) * ((y - r * n) ** 2).sum() / n.sum() ** 2)
    row = frame(
        wh, "select * from marts.ab_arm_comparison where metric = 'accuracy' and arm = 'model'"
    ).iloc[0]
    (ra, va), (rb, vb) = stats["model"], stats["naive"]
    assert row["reference_arm"] == "naive"
    assert math.isclose(row["difference"], ra - rb, abs_tol=1e-12)
    half = 1.96 * math.sqrt(va + vb)
    assert math.isclose(row["difference_low"], ra - rb - half, abs_tol=1e-12)
    assert math.isclose(row["difference_high"], ra - rb + half, abs_tol=1e-12)
    assert row["nights"] == 8


def test_a_rerun_night_replaces_its_outcomes(replayed, tmp_path: Path):
    raw, wh = replayed
    copy = tmp_path / "wh" / "skipcache.duckdb"
    copy.parent.mkdir()
    copy.write_bytes(wh.read_bytes())
    before = query(copy, "select count(*), sum(requests) from marts.decision_outcomes")
    # the same nights again with every user in the naive arm: outcomes follow the new decisions
    run_cli(
        "backfill", "--raw-dir", str(raw), "--warehouse", str(copy), "--start", NIGHTS[0],
        "--end", NIGHTS[1], "--arms", "naive=1", "--quiet",
    )  # fmt: skip
    assert query(copy, "select count(*), sum(requests) from marts.decision_outcomes") == before
    assert query(copy, "select distinct arm from marts.ab_daily_summary") == [("naive",)]
    assert_summary_matches(copy)


def _families(text: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(text)}


def test_nightly_writes_prometheus_metrics(replayed, tmp_path: Path):
    raw, wh = replayed
    copy = tmp_path / "wh" / "skipcache.duckdb"
    copy.parent.mkdir()
    copy.write_bytes(wh.read_bytes())
    run_cli("nightly", "--raw-dir", str(raw), "--warehouse", str(copy), "--quiet")
    prom = copy.parent / "metrics" / "skipcache.prom"
    text = prom.read_text()
    families = _families(text)
    assert all(name.startswith("skipcache_") for name in families)
    for name in families:
        assert f"# HELP {name} " in text and f"# TYPE {name} gauge" in text
    value = {f.name: {tuple(sorted(s.labels.items())): s.value for s in f.samples}
             for f in families.values()}  # fmt: skip
    assert value["skipcache_last_run_success"][()] == 1
    assert value["skipcache_run_duration_seconds"][()] > 0
    assert (("step", "dbt build"),) in value["skipcache_step_duration_seconds"]
    assert (
        value["skipcache_rows"][(("stage", "fct_listens"),)]
        == query(copy, "select count(*) from marts.fct_listens")[0][0]
    )
    assert value["skipcache_quarantined_lines"][(("entity", "sessions"),)] == 0
    assert 0 < value["skipcache_holdout_auc"][(("policy", "model"),)] < 1
    assert value["skipcache_model_promoted"][()] in (0, 1)
    assert sum(value["skipcache_decisions"].values()) > 0
    assert 0 < value["skipcache_user_coverage_ratio"][()] <= 1
    success = value["skipcache_last_success_timestamp_seconds"][()]
    assert not [p for p in prom.parent.iterdir() if p.name != "skipcache.prom"]

    # a failed night says so and keeps the time of the last success
    broken = copy_export(raw, tmp_path / "broken")
    (broken / "tracks.jsonl").unlink()
    proc = run_cli("nightly", "--raw-dir", str(broken), "--warehouse", str(copy), check=False)
    assert proc.returncode == 2
    failed = _families(prom.read_text())
    assert failed["skipcache_last_run_success"].samples[0].value == 0
    assert failed["skipcache_last_success_timestamp_seconds"].samples[0].value == success


def test_docs_catalog_lists_the_marts_and_describes_every_column(replayed):
    _, wh = replayed
    run_cli("docs", "--warehouse", str(wh))
    docs = wh.parent / "docs"
    catalog = json.loads((docs / "catalog.json").read_text())
    manifest = json.loads((docs / "manifest.json").read_text())
    assert "model.skipcache.fct_listens" in catalog["nodes"]
    assert "source.skipcache.decisions.cache_decisions" in catalog["sources"]
    assert (docs / "static_index.html").stat().st_size > 100_000
    undocumented = []
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] != "model" or node["fqn"][1] != "marts":
            continue
        assert node["description"].strip(), uid
        for column in catalog["nodes"][uid]["columns"]:
            if not node["columns"].get(column, {}).get("description"):
                undocumented.append(f"{node['name']}.{column}")
    assert undocumented == []
    exposures = {e["name"] for e in manifest["exposures"].values()}
    assert exposures == {"cache_service", "ab_report"}


RAW_FILES = ["sessions", "tracks", "users", "artists", "track_storage"]
DECISION_GRAINS = {
    "cache_decisions": ["decision_date", "user_id", "track_id"],
    "track_default_decisions": ["decision_date", "track_id"],
    "user_arms": ["decision_date", "user_id"],
}


def test_docs_lineage_starts_at_the_raw_files(replayed, report):
    """The docs' lineage runs from the five files to the decisions and outcomes; sources carry
    columns and descriptions; the decision tables have grain tests; the home page is ours;
    exposures link to files that exist beside the docs."""
    _, wh = replayed
    docs = wh.parent / "docs"
    if not (docs / "manifest.json").exists():
        run_cli("docs", "--warehouse", str(wh))
    manifest = json.loads((docs / "manifest.json").read_text())
    catalog = json.loads((docs / "catalog.json").read_text())
    landing = manifest["nodes"]["model.skipcache.base_pozytywka__raw_lines"]
    raw = [f"source.skipcache.pozytywka.{name}" for name in RAW_FILES]
    assert sorted(landing["depends_on"]["nodes"]) == sorted(raw)
    for uid in raw:
        source = manifest["sources"][uid]
        assert source["description"].strip() and source["columns"], uid
        assert all(c["description"].strip() for c in source["columns"].values()), uid
        # the raw files reach the outcomes through the graph
        assert "model.skipcache.base_pozytywka__raw_lines" in manifest["child_map"][uid]
    for table, grain in DECISION_GRAINS.items():
        uid = f"source.skipcache.decisions.{table}"
        source = manifest["sources"][uid]
        assert source["description"].strip(), uid
        for column in catalog["sources"][uid]["columns"]:
            assert source["columns"].get(column, {}).get("description", "").strip(), (
                f"{table}.{column} has no description"
            )
        tests = [manifest["nodes"][t] for t in manifest["child_map"][uid] if t.startswith("test.")]
        grains = [
            t["test_metadata"]["kwargs"]["columns"]
            for t in tests
            if t["test_metadata"]["name"] == "unique_combination"
        ]
        assert grain in grains, f"{table} has no grain test on {grain}"
    overview = manifest["docs"]["doc.skipcache.__overview__"]
    assert "How to read the graph" in overview["block_contents"]
    assert "How to read the graph" in (docs / "static_index.html").read_text()
    for exposure in manifest["exposures"].values():
        url = exposure["url"]
        assert url and not url.startswith("file:"), exposure["name"]
        if not url.startswith(("http://", "https://")):
            assert (docs / url).resolve().is_file(), f"{exposure['name']}: {url} is missing"


def test_source_freshness_of_sessions_reads_the_newest_event(replayed, tmp_path: Path):
    import os
    import subprocess
    import sys

    raw, wh = replayed
    copy = tmp_path / "skipcache.duckdb"
    copy.write_bytes(wh.read_bytes())
    target = tmp_path / "target"
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [str(dbt), "source", "freshness", "--project-dir", str(PROJECT_ROOT), "--profiles-dir",
         str(PROJECT_ROOT), "--target-path", str(target), "--log-path", str(tmp_path / "logs"),
         "--vars", json.dumps({"raw_dir": str(raw)})],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "SKIPCACHE_WAREHOUSE": str(copy), **DBT_ENV},
    )  # fmt: skip
    result = json.loads((target / "sources.json").read_text())["results"]
    (sessions,) = [r for r in result if r["unique_id"] == "source.skipcache.pozytywka.sessions"]
    newest = query(copy, "select max(event_at) from staging.stg_pozytywka__sessions")[0][0]
    assert sessions["max_loaded_at"].startswith(newest.strftime("%Y-%m-%dT%H:%M:%S"))
    # a generated export ends on 2024-12-31: far older than the 72-hour error threshold
    assert sessions["status"] == "error" and proc.returncode == 1
    assert sessions["criteria"]["error_after"] == {"count": 72, "period": "hour"}
