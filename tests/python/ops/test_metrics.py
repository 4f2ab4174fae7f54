"""Monitoring: the Grafana dashboard queries only metrics the project exports, the Prometheus
scrape config names both targets, and promtool accepts the nightly textfile."""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import yaml
from helpers import model_record, promtool, promtool_check
from prometheus_client import generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from scoring.config import PROJECT_ROOT
from scoring.ops import metrics

DASHBOARD = PROJECT_ROOT / "monitoring" / "grafana" / "skipcache.json"
SCRAPE_CONFIG = PROJECT_ROOT / "monitoring" / "prometheus.yml"
POLICIES = ("model", "naive", "constant", "user_history")

#: The series a family of each type is stored as in Prometheus, hence what PromQL can select:
#: a counter only as <name>_total, a histogram as <name>_bucket/_count/_sum, a gauge as <name>.
#: (_created series are left out: no dashboard needs them, and they can be switched off.)
SERIES_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "info": ("_info",),
    "unknown": ("",),
}

#: What the panels must show (issue 12, item 9): one metric at least per panel subject.
REQUIRED = {
    "skipcache_service_requests_total",  # request rate
    "skipcache_service_request_duration_seconds_bucket",  # p99 latency
    "skipcache_service_answers_total",  # answers by source
    "skipcache_service_snapshot_published_timestamp_seconds",  # snapshot age
    "skipcache_service_snapshot_loaded_timestamp_seconds",
    "skipcache_run_duration_seconds",  # nightly duration and success
    "skipcache_step_duration_seconds",
    "skipcache_last_run_success",
    "skipcache_holdout_auc",  # hold-out AUC per policy
    "skipcache_ab_accuracy",  # accuracy per arm
    "skipcache_ab_cache_hit_rate",
}


def series_names(families: Iterable) -> set[str]:
    return {f.name + suffix for f in families for suffix in SERIES_SUFFIXES[f.type]}


def service_series() -> set[str]:
    """Every series of the collectors declared in scoring/decide/service_metrics.py."""
    from scoring.decide import service_metrics

    collectors = [v for v in vars(service_metrics).values() if isinstance(v, MetricWrapperBase)]
    assert collectors, "scoring/decide/service_metrics.py declares no collector"
    return series_names(f for c in collectors for f in c.describe())


def _strings_removed(expr: str) -> str:
    """PromQL without its string literals (label values such as job="skipcache_x" are no names)."""
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)


def _expressions(node) -> Iterator[str]:
    """Every PromQL expression of a dashboard: panel targets (rows' panels included) and query
    variables."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            elif key == "query" and node.get("type") == "query":
                yield value if isinstance(value, str) else value.get("query", "")
            else:
                yield from _expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _expressions(item)


def queried_names(dashboard: dict) -> set[str]:
    return {
        name
        for expr in _expressions(dashboard)
        for name in re.findall(
            r"(?<![A-Za-z0-9_:])skipcache_[A-Za-z0-9_:]*", _strings_removed(expr)
        )
    }


def unexported(dashboard: dict, exported: set[str]) -> list[str]:
    return sorted(queried_names(dashboard) - exported)


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="module")
def nightly_prom(tiny_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """metrics/skipcache.prom as the nightly job writes it, from the code path the job calls,
    on the shared tiny warehouse (built, no night decided: the night's tables are empty)."""
    record = model_record(
        metrics={p: {"roc_auc": 0.6, "accuracy": 0.6} for p in POLICIES}, promoted=True
    )
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        (night,) = con.execute("select max(listen_date) + 1 from marts.fct_listens").fetchone()
        families = metrics.run_metrics(
            succeeded=True,
            finished_at=time.time(),
            duration=1.5,
            steps=[("dbt build", 1.0), ("train and evaluate", 0.5)],
            last_success=None,
        )
        families += metrics.warehouse_metrics(con, record, night)
    finally:
        con.close()
    return metrics.write(tmp_path_factory.mktemp("metrics"), families).read_text()


def test_the_dashboard_queries_only_exported_metrics(dashboard, nightly_prom):
    nightly = series_names(text_string_to_metric_families(nightly_prom))
    assert all(name.startswith("skipcache_") for name in nightly)
    exported = service_series() | nightly
    queried = queried_names(dashboard)
    assert queried >= REQUIRED, sorted(REQUIRED - queried)
    assert unexported(dashboard, exported) == []


def test_an_unexported_name_in_the_dashboard_is_caught(dashboard, nightly_prom):
    exported = service_series() | series_names(text_string_to_metric_families(nightly_prom))
    bad = copy.deepcopy(dashboard)
    bad["panels"][-1]["targets"].append(
        {
            "refId": "Z",
            "expr": 'skipcache_bogus_metric + skipcache_rows_total{job="skipcache_nightly"} '
            "+ rate(skipcache_service_requests[5m]) "
            "+ skipcache_service_request_duration_seconds_count",
        }
    )
    # the gauge has no _total, the counter exists only as _total; histogram _count is fine
    assert unexported(bad, exported) == [
        "skipcache_bogus_metric",
        "skipcache_rows_total",
        "skipcache_service_requests",
    ]


def test_the_dashboard_is_importable(dashboard):
    (variable,) = dashboard["templating"]["list"]
    assert variable["name"] == "DS_PROMETHEUS" and variable["type"] == "datasource"
    assert variable["query"] == "prometheus"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["targets"], panel["title"]
        for d in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
            assert d == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
    titles = {p["title"] for p in panels}
    for title in [
        "Request rate",
        "p99 latency",
        "Answers by source",
        "Snapshot age",
        "Nightly duration",
        "Hold-out AUC per policy",
        "Accuracy per arm",
    ]:
        assert title in titles


def test_the_scrape_config_names_the_service_and_node_exporter():
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    service = jobs["skipcache_service"]
    assert service.get("metrics_path", "/metrics") == "/metrics"
    assert [t for sc in service["static_configs"] for t in sc["targets"]] == ["127.0.0.1:8000"]
    nightly = jobs["skipcache_nightly"]
    assert [t for sc in nightly["static_configs"] for t in sc["targets"]] == ["127.0.0.1:9100"]
    assert "--collector.textfile.directory=<warehouse dir>/metrics" in SCRAPE_CONFIG.read_text()


def test_promtool_accepts_the_scrape_config():
    proc = promtool("check", "config", str(SCRAPE_CONFIG))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_accepts_the_nightly_textfile(nightly_prom):
    promtool_check(nightly_prom)


def test_ab_metrics_take_the_last_measured_night():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.ab_daily_summary (decision_date date, arm varchar, requests bigint, "
        "covered_requests bigint, accuracy double, cache_hit_rate double)"
    )
    con.execute(
        """
        insert into marts.ab_daily_summary values
            ('2024-12-28', 'model', 10, 5, 0.8, 0.5), ('2024-12-28', 'naive', 10, 0, null, 0.1),
            ('2024-12-29', 'model', 20, 4, 0.75, 0.4), ('2024-12-29', 'naive', 20, 6, 0.5, 0.2),
            ('2024-12-30', 'model', 0, 0, null, null), ('2024-12-30', 'naive', 0, 0, null, null)
        """
    )  # 2024-12-30 is decided but not measured yet: no requests
    families = metrics.ab_metrics(con)
    value = {f.name: {tuple(s.labels.values()): s.value for s in f.samples} for f in families}
    assert value["skipcache_ab_accuracy"] == {("model",): 0.75, ("naive",): 0.5}
    assert value["skipcache_ab_cache_hit_rate"] == {("model",): 0.4, ("naive",): 0.2}
    assert value["skipcache_request_coverage_ratio"] == {(): 10 / 40}
    midnight = datetime(2024, 12, 29, tzinfo=UTC).timestamp()
    assert value["skipcache_ab_measured_decision_date_seconds"] == {(): midnight}
    run = metrics.run_metrics(
        succeeded=True, finished_at=1735520000.25, duration=3.0, steps=[], last_success=None
    )
    promtool_check(generate_latest(metrics.registry(run + families)).decode())

    con.execute("delete from marts.ab_daily_summary where requests > 0")
    empty = {f.name: f.samples for f in metrics.ab_metrics(con)}
    assert all(samples == [] for samples in empty.values())  # nothing measured: no sample


def test_a_failed_run_keeps_the_last_success(tmp_path: Path):
    ok = metrics.run_metrics(
        succeeded=True, finished_at=1735520000.123, duration=2.0, steps=[], last_success=None
    )
    target = metrics.write(tmp_path, ok)
    assert metrics.previous_last_success(tmp_path) == 1735520000.123
    failed = metrics.run_metrics(
        succeeded=False,
        finished_at=1735606400.5,
        duration=1.0,
        steps=[("dbt build", 1.0)],
        last_success=metrics.previous_last_success(tmp_path),
    )
    metrics.write(tmp_path, failed)
    families = {f.name: f for f in text_string_to_metric_families(target.read_text())}
    assert families["skipcache_last_run_success"].samples[0].value == 0
    assert families[metrics.LAST_SUCCESS].samples[0].value == 1735520000.123
    assert [p.name for p in tmp_path.iterdir()] == ["skipcache.prom"]  # no temporary left
    assert target.stat().st_mode & 0o777 == 0o644
    promtool_check(target.read_text())
    assert metrics.previous_last_success(tmp_path / "none") is None
