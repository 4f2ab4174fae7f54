"""DuckDB against Spark local[2], per step, on one export, in one run (BENCHMARKS.md).

    python -m scoring.ops.engine_bench --raw-dir data/raw/v2 --out build/engine-bench

For each engine, `skipcache nightly --engine E` from an empty warehouse (the dbt build of every
model and test, training and the gate, scoring and decisions, publishing), then the same night
again with no new data (the incremental path, with --force), each as a subprocess of the real
CLI, with its wall time, the job's own step times and dbt's slowest models (run_results.json).
Results go to stdout as a table and to `engine_bench.json` in the out folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from scoring.config import DBT_ENV, PROJECT_ROOT
from scoring.ops.nightly import parse_steps


def _run(args: list[str]) -> dict:
    """One CLI run: wall seconds, the job's step times, the tail of its output."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scoring", *args],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **DBT_ENV},
    )
    out, _ = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError(f"skipcache {' '.join(args)} failed:\n{out[-4000:]}")
    steps = parse_steps(out)
    return {"wall_s": round(wall, 1), "steps": steps, "output_tail": out[-1500:]}


def _slowest_models(warehouse: Path, n: int = 8) -> list[tuple[str, float]]:
    results = warehouse.parent / "dbt" / "target" / "run_results.json"
    if not results.exists():
        return []
    data = json.loads(results.read_text())
    timed = [(r["unique_id"].split(".")[-1], r["execution_time"]) for r in data["results"]]
    return sorted(timed, key=lambda t: -t[1])[:n]


def run(raw_dir: Path, out: Path, engines: list[str], again: bool = True) -> dict:
    results: dict = {"raw_dir": str(raw_dir), "engines": {}}
    for engine in engines:
        home = out / engine
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        wh = home / "skipcache.duckdb"
        base = ["nightly", "--raw-dir", str(raw_dir), "--warehouse", str(wh), "--quiet"]
        first = _run([*base, "--engine", engine])
        first["slowest_models"] = _slowest_models(wh)
        results["engines"][engine] = {"full_night": first}
        if again:
            # no new data: --force makes the night run (else it stops at its input check)
            second = _run([*base, "--engine", engine, "--force"])
            second["slowest_models"] = _slowest_models(wh)
            results["engines"][engine]["night_again"] = second
        (out / "engine_bench.json").write_text(json.dumps(results, indent=2))
    return results


def format_table(results: dict) -> str:
    engines = list(results["engines"])
    rows = [
        "| step | " + " | ".join(f"{e} s" for e in engines) + " |",
        "|---|" + "---:|" * len(engines),
    ]
    for run_name in ("full_night", "night_again"):
        if any(run_name not in results["engines"][e] for e in engines):
            continue
        names: list[str] = []
        for e in engines:
            for k in results["engines"][e][run_name]["steps"]:
                if k not in names:
                    names.append(k)
        rows.append(
            f"| **{run_name.replace('_', ' ')}: wall** | "
            + " | ".join(f"{results['engines'][e][run_name]['wall_s']:.1f}" for e in engines)
            + " |"
        )
        for k in names:
            vals = [results["engines"][e][run_name]["steps"].get(k) for e in engines]
            rows.append(
                f"| {run_name.replace('_', ' ')}: {k} | "
                + " | ".join("" if v is None else f"{v:.1f}" for v in vals)
                + " |"
            )
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m scoring.ops.engine_bench", description=__doc__)
    p.add_argument("--raw-dir", required=True)
    p.add_argument("--out", default=str(PROJECT_ROOT / "build" / "engine-bench"))
    p.add_argument("--engines", default="duckdb,spark")
    p.add_argument("--no-again", action="store_true", help="skip the second night")
    args = p.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    results = run(Path(args.raw_dir).resolve(), out, args.engines.split(","), not args.no_again)
    print(format_table(results))
    print(f"results: {out / 'engine_bench.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
