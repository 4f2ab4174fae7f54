"""The service's metrics (scoring/decide/service_metrics.py): the text Prometheus scrapes, from
one worker, and summed over the workers' files in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scoring.decide import service_metrics as m

COUNT = (
    "from scoring.decide import service_metrics as m\n"
    "for _ in range({n}):\n"
    "    m.REQUESTS.labels(endpoint='/recommend', status='200').inc()\n"
)


def test_one_worker_exposes_its_counters():
    before = m.REQUESTS.labels(endpoint="/naive", status="422")._value.get()
    m.REQUESTS.labels(endpoint="/naive", status="422").inc()
    body, status, _, content_type = m.exposition()
    assert status == 200 and content_type.startswith("text/plain")
    line = f'skipcache_service_requests_total{{endpoint="/naive",status="422"}} {before + 1}'
    assert line in body.decode()


def test_several_workers_are_summed(tmp_path: Path, monkeypatch):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (3, 4):  # two worker processes, each with its own file
        subprocess.run([sys.executable, "-c", COUNT.format(n=n)], env=env, check=True)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    body = m.exposition()[0].decode()
    assert 'skipcache_service_requests_total{endpoint="/recommend",status="200"} 7.0' in body
