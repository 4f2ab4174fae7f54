"""The cache service's Prometheus metrics (GET /metrics), declared in one place.

Names start with ``skipcache_service_``. With one worker they live in the default registry;
with several (``--workers N``), prometheus_client's multiprocess mode aggregates the workers'
files under PROMETHEUS_MULTIPROC_DIR, which ``skipcache serve`` sets up.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram

#: HTTP requests, by endpoint and status code.
REQUESTS = Counter(
    "skipcache_service_requests",
    "HTTP requests answered, by endpoint and status code.",
    ["endpoint", "status"],
)
#: Answers given (one per pair; a /decisions batch gives many), by endpoint, arm and source.
ANSWERS = Counter(
    "skipcache_service_answers",
    "Answers given, one per (user, track) pair, by endpoint, arm and source.",
    ["endpoint", "arm", "source"],
)
LATENCY = Histogram(
    "skipcache_service_request_duration_seconds",
    "Time from request to response inside the service, by endpoint.",
    ["endpoint"],
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)
SNAPSHOT_DECISION_DATE = Gauge(
    "skipcache_service_snapshot_decision_date_seconds",
    "Decision date of the snapshot being served (Unix time of its midnight, UTC; with several "
    "workers, the oldest any worker serves).",
    multiprocess_mode="min",
)
SNAPSHOT_PUBLISHED = Gauge(
    "skipcache_service_snapshot_published_timestamp_seconds",
    "When the snapshot being served was published by the nightly job (Unix time).",
    multiprocess_mode="min",
)
SNAPSHOT_LOADED = Gauge(
    "skipcache_service_snapshot_loaded_timestamp_seconds",
    "When the snapshot being served was loaded by the service (Unix time).",
    multiprocess_mode="min",
)
RELOADS = Counter(
    "skipcache_service_reloads",
    "Snapshots loaded and swapped in (the first load included), summed over the workers.",
)
REFUSED = Counter(
    "skipcache_service_snapshot_refused",
    "New snapshots refused (unreadable, sha256 mismatch, inconsistent; counted by each worker); "
    "the old one kept serving.",
)
LOG_WRITE_FAILURES = Counter(
    "skipcache_service_log_write_failures",
    "Failed writes of the served-answer log (lines lost are counted in log_lines_dropped).",
)
LOG_LINES_DROPPED = Counter(
    "skipcache_service_log_lines_dropped",
    "Served-answer log lines that could not be written.",
)


def exposition() -> tuple[bytes, int, None, str]:
    """The body of GET /metrics (all workers' when in multiprocess mode), as Response args."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), 200, None, CONTENT_TYPE_LATEST
