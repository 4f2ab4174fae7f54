"""`skipcache bench`: where the time and memory go, beside the seed's pandas peer.

Every heavy step runs as its own subprocess (the real CLI), so its wall time and peak RSS
(os.wait4) are its own: generate the v2 preset, a full night from an empty warehouse, one
incremental night (one more daily drop), and the peer's feature step on the same files.
Scoring and lookups are measured in this process against the warehouse and snapshot the
nights left. Results go to stdout as a table and to ``bench.json`` in the work folder.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from scoring.config import DBT_ENV
from scoring.rawfiles import SESSIONS_DIR, SINGLE_FILES, discover
from scoring.serving import SnapshotReader, read_manifest
from scoring.sql_scoring import p_play_sql

STEP_LINE = re.compile(
    r"^(dbt build|train and evaluate|reuse model|score and decide|publish|total)\s+([\d.]+)s$"
)


@dataclass
class Step:
    name: str
    seconds: float
    peak_rss_mb: float | None = None
    detail: dict = field(default_factory=dict)


def _run(cmd: list[str], log: Path) -> tuple[float, float, str]:
    """Run cmd to completion; return wall seconds, peak RSS in MB and its output."""
    env = {**os.environ, **DBT_ENV}
    with log.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text()
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({proc.returncode}); see {log}:\n{text[-2000:]}"
        )
    return seconds, usage.ru_maxrss / 1024, text


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "scoring", *args]


def _night_steps(text: str) -> dict[str, float]:
    return {m[1]: float(m[2]) for line in text.splitlines() if (m := STEP_LINE.match(line.strip()))}


def _dbt_breakdown(home: Path, top: int = 12) -> dict:
    """Per-model times of the last dbt build (run_results.json), the heaviest first."""
    results = json.loads((home / "dbt" / "target" / "run_results.json").read_text())["results"]
    kinds: dict[str, float] = {}
    for r in results:
        kind = r["unique_id"].split(".")[0]
        kinds[kind] = kinds.get(kind, 0.0) + r["execution_time"]
    models = sorted(
        (r for r in results if r["unique_id"].startswith("model.")),
        key=lambda r: -r["execution_time"],
    )
    return {
        "node_seconds_by_kind": {k: round(v, 2) for k, v in kinds.items()},
        "heaviest_models": {
            r["unique_id"].split(".")[-1]: round(r["execution_time"], 2) for r in models[:top]
        },
    }


def _last_day_drops(drops: list[Path]) -> list[Path]:
    """The last drop, and the one before it when the last is a small tail (a generated export
    ends with the sessions that ran past its last midnight): one realistic day of data."""
    if len(drops) < 3:
        return drops[-1:]
    sizes = sorted(d.stat().st_size for d in drops)
    if drops[-1].stat().st_size < 0.1 * sizes[len(sizes) // 2]:
        return drops[-2:]
    return drops[-1:]


def _link_export(source: Path, target: Path, drops: list[Path]) -> None:
    """`target` as an export made of links to `source`'s files, with the given session drops."""
    target.mkdir(parents=True, exist_ok=True)
    for name in SINGLE_FILES.values():
        (target / name).symlink_to(source / name)
    (target / SESSIONS_DIR).mkdir()
    for drop in drops:
        (target / SESSIONS_DIR / drop.name).symlink_to(drop)


def scoring_throughput(warehouse: Path, repeats: int = 5) -> Step:
    """p_play of every candidate pair in SQL (the expression the nightly job uses)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        version = con.execute(
            "select model_version from ml.model_registry order by trained_at desc limit 1"
        ).fetchall()[0][0]
        expression = p_play_sql(con, version, "f")
        query = f"select count(*), sum({expression}) from marts.scoring_features as f"
        times, pairs = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            pairs, _ = con.execute(query).fetchall()[0]
            times.append(time.perf_counter() - started)
    finally:
        con.close()
    best = min(times)
    median = sorted(times)[len(times) // 2]
    return Step(
        "scoring alone",
        median,
        detail={
            "pairs": pairs,
            "model_version": version,
            "pairs_per_second_median": round(pairs / median),
            "pairs_per_second_best": round(pairs / best),
            "repeats": repeats,
        },
    )


def lookup_latency(serving: Path, n: int = 100_000, seed: int = 0) -> Step:
    """Latency of SnapshotReader.lookup: half candidate pairs, half pairs answered by the
    track default, in random order."""
    import pyarrow.parquet as pq

    reader = SnapshotReader(serving)
    manifest = read_manifest(serving)
    decisions = pq.read_table(serving / manifest["files"]["decisions"]["file"]).to_pydict()
    defaults = pq.read_table(serving / manifest["files"]["track_defaults"]["file"]).to_pydict()
    rng = random.Random(seed)
    pairs = list(zip(decisions["user_id"], decisions["track_id"], strict=True))
    users = sorted(set(decisions["user_id"]))
    keys = [rng.choice(pairs) for _ in range(n // 2)]
    keys += [(rng.choice(users), rng.choice(defaults["track_id"])) for _ in range(n - n // 2)]
    rng.shuffle(keys)
    lookup = reader.lookup
    clock = time.perf_counter_ns
    latencies = []
    for user, track in keys:
        started = clock()
        lookup(user, track)
        latencies.append(clock() - started)
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] / 1000

    return Step(
        "lookup",
        sum(latencies) / 1e9,
        detail={
            "lookups": n,
            "p50_us": round(pct(0.50), 2),
            "p99_us": round(pct(0.99), 2),
            "max_us": round(latencies[-1] / 1000, 2),
        },
    )


def run_bench(work: Path, preset: str | None, raw_dir: Path | None, seed: int = 7) -> dict:
    """Measure everything into `work` (emptied first); return the results."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    logs = work / "logs"
    logs.mkdir()
    steps: list[Step] = []

    if raw_dir is None:
        source = work / "export"
        secs, rss, _ = _run(
            _cli("generate", "--preset", preset or "v2", "--daily-drops", "--seed", str(seed),
                 "--out", str(source)),
            logs / "generate.log",
        )  # fmt: skip
        steps.append(Step(f"generate {preset or 'v2'} preset", secs, rss))
    else:
        source = raw_dir.resolve()
    files = discover(source)
    drops = sorted(f.path for f in files if f.entity == "sessions")
    events = sum(1 for f in files if f.entity == "sessions" for _ in f.path.open("rb"))

    # the full night sees every drop but the last day's; the incremental night adds them
    held = _last_day_drops(drops)
    incremental = source.joinpath(SESSIONS_DIR).is_dir() and len(drops) > len(held)
    raw = work / "raw"
    if incremental:
        _link_export(source, raw, drops[: -len(held)])
    else:
        raw = source
    warehouse = work / "warehouse" / "skipcache.duckdb"
    night = _cli("nightly", "--raw-dir", str(raw), "--warehouse", str(warehouse), "--quiet")

    secs, rss, text = _run(night, logs / "full-night.log")
    full = Step(
        "full night (empty warehouse)", secs, rss,
        {"steps": _night_steps(text), **_dbt_breakdown(warehouse.parent)},
    )  # fmt: skip
    steps.append(full)
    if incremental:
        for drop in held:
            (raw / SESSIONS_DIR / drop.name).symlink_to(drop)
        name = f"incremental night (+{' +'.join(d.name for d in held)})"
    else:
        name = "night again, no new data (the export has no daily drops)"
    secs, rss, text = _run(night, logs / "incremental-night.log")
    steps.append(
        Step(name, secs, rss, {"steps": _night_steps(text), **_dbt_breakdown(warehouse.parent)})
    )
    steps.append(scoring_throughput(warehouse))
    steps.append(lookup_latency(warehouse.parent / "serving"))

    secs, rss, text = _run([sys.executable, "-m", "scoring.peer", str(source)], logs / "peer.log")
    peer = Step("peer: seed feature step (pandas)", secs, rss)
    steps.append(peer)
    results = {
        "machine": _machine(),
        "export": str(source),
        "session_events": events,
        "steps": [asdict(s) for s in steps],
        "ratios": {
            "full_night_time_over_peer": round(full.seconds / peer.seconds, 3),
            "full_night_rss_over_peer": round(full.peak_rss_mb / peer.peak_rss_mb, 3),
        },
    }
    (work / "bench.json").write_text(json.dumps(results, indent=2))
    return results


def _machine() -> dict:
    import dbt.version
    import pandas
    import sklearn

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "duckdb": duckdb.__version__,
        "dbt_core": dbt.version.__version__,
        "scikit_learn": sklearn.__version__,
        "pandas": pandas.__version__,
    }


def format_results(results: dict) -> str:
    lines = [
        f"export {results['export']} ({results['session_events']:,} session events)",
        f"{'step':<52} {'seconds':>8} {'peak RSS MB':>12}  detail",
    ]
    for s in results["steps"]:
        rss = "" if s["peak_rss_mb"] is None else f"{s['peak_rss_mb']:,.0f}"
        detail = s["detail"].get("steps") or {
            k: v for k, v in s["detail"].items() if not isinstance(v, dict)
        }
        lines.append(f"{s['name']:<52} {s['seconds']:>8.2f} {rss:>12}  {detail or ''}")
    r = results["ratios"]
    lines.append(
        f"full night / peer: time x{r['full_night_time_over_peer']}, "
        f"peak RSS x{r['full_night_rss_over_peer']}"
    )
    return "\n".join(lines)
