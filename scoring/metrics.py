"""Monitoring: the nightly job's metrics in the Prometheus text format, for node_exporter's
textfile collector (``--collector.textfile.directory`` pointed at ``metrics/`` beside the
warehouse). The file is written to a temporary name and renamed, so the collector never reads
half a file. Every name starts with ``skipcache_``; every metric has HELP and TYPE lines.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

PROM_FILE = "skipcache.prom"
LAST_SUCCESS = "skipcache_last_success_timestamp_seconds"


@dataclass
class Metric:
    name: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)
    type: str = "gauge"

    def add(self, value: float | None, **labels: str) -> Metric:
        if value is not None:
            self.samples.append((labels, float(value)))
        return self


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(x) if not float(x).is_integer() else str(int(x))


def render(metrics: list[Metric]) -> str:
    lines = []
    for m in metrics:
        if not m.name.startswith("skipcache_"):
            raise ValueError(f"metric {m.name} must start with skipcache_")
        lines.append(f"# HELP {m.name} {m.help}")
        lines.append(f"# TYPE {m.name} {m.type}")
        for labels, value in m.samples:
            label_text = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items()))
            sample = f"{m.name}{{{label_text}}}" if label_text else m.name
            lines.append(f"{sample} {_number(value)}")
    return "\n".join(lines) + "\n"


def write(metrics_dir: Path, metrics: list[Metric]) -> Path:
    """Write metrics_dir/skipcache.prom atomically (temporary file in the same folder, rename)."""
    metrics_dir.mkdir(parents=True, exist_ok=True)
    target = metrics_dir / PROM_FILE
    fd, tmp = tempfile.mkstemp(prefix=".skipcache.", suffix=".prom.tmp", dir=metrics_dir)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(render(metrics))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def previous_last_success(metrics_dir: Path) -> float | None:
    """The last success time of the file in place (kept when a run fails)."""
    try:
        text = (metrics_dir / PROM_FILE).read_text()
    except FileNotFoundError:
        return None
    found = re.search(rf"^{LAST_SUCCESS} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def run_metrics(
    *,
    succeeded: bool,
    finished_at: float,
    duration: float,
    steps: list[tuple[str, float]],
    last_success: float | None,
) -> list[Metric]:
    """The metrics every run has, failed or not."""
    step = Metric("skipcache_step_duration_seconds", "Duration of each step of the last run.")
    for name, secs in steps:
        step.add(secs, step=name)
    return [
        Metric("skipcache_last_run_success", "1 if the last nightly run succeeded, else 0.").add(
            1 if succeeded else 0
        ),
        Metric("skipcache_last_run_timestamp_seconds", "When the last run ended (Unix time).").add(
            finished_at
        ),
        Metric(LAST_SUCCESS, "When the last successful run ended (Unix time).").add(
            finished_at if succeeded else last_success
        ),
        Metric("skipcache_run_duration_seconds", "Wall time of the last run.").add(duration),
        step,
    ]


def warehouse_metrics(con: duckdb.DuckDBPyConnection, record: dict, decision_date) -> list[Metric]:
    """Rows per stage, quarantine, the model's hold-out metrics and the night's decisions."""
    rows = Metric("skipcache_rows", "Rows per pipeline stage after the last run.")
    for stage, table in [
        ("raw_lines", "staging.base_pozytywka__raw_lines"),
        ("fct_listens", "marts.fct_listens"),
        ("training_examples", "marts.training_examples"),
        ("cache_candidates", "marts.cache_candidates"),
    ]:
        rows.add(con.execute(f"select count(*) from {table}").fetchall()[0][0], stage=stage)
    read = Metric("skipcache_raw_lines_read", "Lines read from the raw files, per entity.")
    quarantined = Metric(
        "skipcache_quarantined_lines", "Raw lines quarantined (not staged), per entity."
    )
    for entity, n_read, n_staged, n_bad in con.execute(
        "select entity, sum(lines_read), sum(rows_staged), sum(rows_quarantined) "
        "from marts.raw_file_accounting group by entity order by entity"
    ).fetchall():
        read.add(n_read, entity=entity)
        quarantined.add(n_bad, entity=entity)
        if entity == "sessions":
            rows.add(n_staged, stage="sessions_staged")
    auc = Metric("skipcache_holdout_auc", "Hold-out ROC AUC of the night's model and baselines.")
    accuracy = Metric("skipcache_holdout_accuracy", "Hold-out accuracy at p_play >= 0.5.")
    for policy in ("model", "naive", "constant", "user_history"):
        auc.add(record.get(f"{policy}_roc_auc"), policy=policy)
        accuracy.add(record.get(f"{policy}_accuracy"), policy=policy)
    decisions = Metric("skipcache_decisions", "Pair decisions of the night, per arm.")
    cached = Metric("skipcache_decisions_cached", "Pair decisions of the night that cache.")
    for arm, n, n_cached in con.execute(
        "select arm, count(*), sum(should_cache::int) from decisions.cache_decisions "
        "where decision_date = ? group by arm order by arm",
        [decision_date],
    ).fetchall():
        decisions.add(n, arm=arm)
        cached.add(n_cached, arm=arm)
    users, covered = con.execute(
        """
        select count(*), count(*) filter (where user_id in (
            select user_id from decisions.cache_decisions where decision_date = ?))
        from decisions.user_arms where decision_date = ?
        """,
        [decision_date, decision_date],
    ).fetchall()[0]
    coverage = Metric(
        "skipcache_user_coverage_ratio",
        "Share of known users with at least one pair decision for the night.",
    ).add(covered / users if users else None)
    defaults = Metric("skipcache_track_default_decisions", "Per-track default decisions.").add(
        con.execute(
            "select count(*) from decisions.track_default_decisions where decision_date = ?",
            [decision_date],
        ).fetchall()[0][0]
    )
    last = con.execute(
        "select decision_date, sum(covered_requests), sum(requests) from marts.ab_daily_summary "
        "group by decision_date order by decision_date desc limit 1"
    ).fetchall()
    request_coverage = Metric(
        "skipcache_request_coverage_ratio",
        "Share of the last measured night's requests answered by a pair decision.",
    ).add(last[0][1] / last[0][2] if last and last[0][2] else None)
    promoted = Metric("skipcache_model_promoted", "1 if the night's model passed the gate.").add(
        1 if record.get("promoted") else 0
    )
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
    ]
