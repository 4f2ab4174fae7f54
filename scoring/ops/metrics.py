"""Monitoring: the nightly job's metrics for node_exporter's textfile collector
(``--collector.textfile.directory`` pointed at ``metrics/`` beside the warehouse).

Built with ``prometheus_client``: each run's gauges go into a fresh ``CollectorRegistry`` and
``write_to_textfile`` writes them to a temporary name and renames it, so the collector never
reads half a file. Every name starts with ``skipcache_``; every metric has HELP and TYPE lines.
A value that is unknown (no measured night yet, no earlier success) has no sample.

The gauges are ``GaugeMetricFamily`` values of a one-shot collector rather than ``Gauge``
objects: their values come from the warehouse once per run, and they stay out of any process
registry (and out of the service's multiprocess files, should PROMETHEUS_MULTIPROC_DIR be set).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

if TYPE_CHECKING:  # the registry module loads pandas and joblib: only its type is needed here
    from scoring.model.registry import ModelRecord

PROM_FILE = "skipcache.prom"
LAST_SUCCESS = "skipcache_last_success_timestamp_seconds"


def gauge(name: str, help: str, *labels: str) -> GaugeMetricFamily:
    """An empty gauge family with these label names; add samples with ``sample``."""
    if not name.startswith("skipcache_"):
        raise ValueError(f"metric {name} must start with skipcache_")
    return GaugeMetricFamily(name, help, labels=list(labels))


def sample(family: GaugeMetricFamily, value: float | None, *label_values: str) -> GaugeMetricFamily:
    """Add one sample (label values in the family's label order); an unknown value adds none."""
    if value is not None:
        family.add_metric([str(v) for v in label_values], float(value))
    return family


class _Run(Collector):
    """The families of one run, collected once into a fresh registry."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)
        names = [f.name for f in self.families]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"metrics defined twice: {duplicated}")

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def registry(families: Iterable[Metric]) -> CollectorRegistry:
    """A fresh registry holding only these families."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Run(families))
    return reg


def write(metrics_dir: Path, metrics: list[Metric]) -> Path:
    """Write metrics_dir/skipcache.prom atomically (``write_to_textfile``: a temporary file in
    the same folder, then a rename)."""
    metrics_dir.mkdir(parents=True, exist_ok=True)
    target = metrics_dir / PROM_FILE
    write_to_textfile(str(target), registry(metrics))
    target.chmod(0o644)  # node_exporter usually runs as another user, whatever our umask
    return target


def previous_last_success(metrics_dir: Path) -> float | None:
    """The last success time of the file in place (kept when a run fails)."""
    try:
        text = (metrics_dir / PROM_FILE).read_text()
    except FileNotFoundError:
        return None
    try:
        for family in text_string_to_metric_families(text):
            if family.name == LAST_SUCCESS and family.samples:
                return family.samples[0].value
    except ValueError:  # an unreadable file has no success to keep
        return None
    return None


def run_metrics(
    *,
    succeeded: bool,
    finished_at: float,
    duration: float,
    steps: list[tuple[str, float]],
    last_success: float | None,
) -> list[Metric]:
    """The metrics every run has, failed or not."""
    step = gauge(
        "skipcache_step_duration_seconds", "Duration of each step of the last run.", "step"
    )
    for name, secs in steps:
        sample(step, secs, name)
    return [
        sample(
            gauge("skipcache_last_run_success", "1 if the last nightly run succeeded, else 0."),
            1 if succeeded else 0,
        ),
        sample(
            gauge("skipcache_last_run_timestamp_seconds", "When the last run ended (Unix time)."),
            finished_at,
        ),
        sample(
            gauge(LAST_SUCCESS, "When the last successful run ended (Unix time)."),
            finished_at if succeeded else last_success,
        ),
        sample(gauge("skipcache_run_duration_seconds", "Wall time of the last run."), duration),
        step,
    ]


def _midnight_utc(day: date) -> float:
    return datetime.combine(day, time(), tzinfo=UTC).timestamp()


def ab_metrics(con: duckdb.DuckDBPyConnection) -> list[Metric]:
    """The last measured night (the latest with requests) of marts.ab_daily_summary."""
    measured = con.execute(
        """
        select decision_date from marts.ab_daily_summary
        group by decision_date having sum(requests) > 0
        order by decision_date desc limit 1
        """
    ).fetchall()
    night = measured[0][0] if measured else None
    rows = (
        con.execute(
            "select arm, requests, covered_requests, accuracy, cache_hit_rate "
            "from marts.ab_daily_summary where decision_date = ? order by arm",
            [night],
        ).fetchall()
        if night is not None
        else []
    )
    requests = sum(r[1] for r in rows)
    covered = sum(r[2] for r in rows)
    accuracy = gauge(
        "skipcache_ab_accuracy",
        "Accuracy per arm on the last measured night: share of covered requests where "
        "should_cache equals played-through (marts.ab_daily_summary).",
        "arm",
    )
    hit_rate = gauge(
        "skipcache_ab_cache_hit_rate",
        "Cache hit rate per arm on the last measured night: share of all requests that found "
        "the track cached (marts.ab_daily_summary).",
        "arm",
    )
    for arm, _, _, acc, hits in rows:
        sample(accuracy, acc, arm)
        sample(hit_rate, hits, arm)
    return [
        sample(
            gauge(
                "skipcache_request_coverage_ratio",
                "Share of the last measured night's requests answered by a pair decision.",
            ),
            covered / requests if requests else None,
        ),
        sample(
            gauge(
                "skipcache_ab_measured_decision_date_seconds",
                "Decision date of the last measured night (Unix time of its midnight, UTC).",
            ),
            _midnight_utc(night) if night is not None else None,
        ),
        accuracy,
        hit_rate,
    ]


def warehouse_metrics(
    con: duckdb.DuckDBPyConnection, record: ModelRecord, decision_date
) -> list[Metric]:
    """Rows per stage, quarantine, the model's hold-out metrics, the night's decisions and the
    last measured night's A/B figures."""
    rows = gauge("skipcache_rows", "Rows per pipeline stage after the last run.", "stage")
    for stage, table in [
        ("raw_lines", "staging.base_pozytywka__raw_lines"),
        ("fct_listens", "marts.fct_listens"),
        ("training_examples", "marts.training_examples"),
        ("cache_candidates", "marts.cache_candidates"),
    ]:
        sample(rows, con.execute(f"select count(*) from {table}").fetchall()[0][0], stage)
    read = gauge("skipcache_raw_lines_read", "Lines read from the raw files, per entity.", "entity")
    quarantined = gauge(
        "skipcache_quarantined_lines", "Raw lines quarantined (not staged), per entity.", "entity"
    )
    for entity, n_read, n_staged, n_bad in con.execute(
        "select entity, sum(lines_read), sum(rows_staged), sum(rows_quarantined) "
        "from marts.raw_file_accounting group by entity order by entity"
    ).fetchall():
        sample(read, n_read, entity)
        sample(quarantined, n_bad, entity)
        if entity == "sessions":
            sample(rows, n_staged, "sessions_staged")
    auc = gauge(
        "skipcache_holdout_auc", "Hold-out ROC AUC of the night's model and baselines.", "policy"
    )
    accuracy = gauge("skipcache_holdout_accuracy", "Hold-out accuracy at p_play >= 0.5.", "policy")
    for policy in ("model", "naive", "constant", "user_history"):
        sample(auc, record.metric(policy, "roc_auc"), policy)
        sample(accuracy, record.metric(policy, "accuracy"), policy)
    decisions = gauge("skipcache_decisions", "Pair decisions of the night, per arm.", "arm")
    cached = gauge("skipcache_decisions_cached", "Pair decisions of the night that cache.", "arm")
    for arm, n, n_cached in con.execute(
        "select arm, count(*), sum(should_cache::int) from decisions.cache_decisions "
        "where decision_date = ? group by arm order by arm",
        [decision_date],
    ).fetchall():
        sample(decisions, n, arm)
        sample(cached, n_cached, arm)
    users, covered = con.execute(
        """
        select count(*), count(*) filter (where user_id in (
            select user_id from decisions.cache_decisions where decision_date = ?))
        from decisions.user_arms where decision_date = ?
        """,
        [decision_date, decision_date],
    ).fetchall()[0]
    coverage = sample(
        gauge(
            "skipcache_user_coverage_ratio",
            "Share of known users with at least one pair decision for the night.",
        ),
        covered / users if users else None,
    )
    defaults = sample(
        gauge("skipcache_track_default_decisions", "Per-track default decisions."),
        con.execute(
            "select count(*) from decisions.track_default_decisions where decision_date = ?",
            [decision_date],
        ).fetchall()[0][0],
    )
    promoted = sample(
        gauge("skipcache_model_promoted", "1 if the night's model passed the gate."),
        1 if record.promoted else 0,
    )
    request_coverage, *ab = ab_metrics(con)
    return [
        rows,
        read,
        quarantined,
        auc,
        accuracy,
        promoted,
        decisions,
        cached,
        defaults,
        coverage,
        request_coverage,
        *ab,
    ]
