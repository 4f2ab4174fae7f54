"""DuckDB against Spark local[2], per step, on one export, in one run (BENCHMARKS.md).

    python -m scoring.ops.engine_bench --raw-dir data/raw/v2 --out build/engine-bench

For each engine, `skipcache nightly --engine E` from an empty warehouse (the dbt build of every
model and test, training and the gate, scoring and decisions, publishing), then the same night
again with no new data (the incremental path, with --force), each as a subprocess of the real
CLI, with its wall time and peak RSS (os.wait4: the largest process of the tree that was waited
for), the job's own step times and dbt's heaviest models (run_results.json).
Results go to stdout as a table and to `engine_bench.json` in the out folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from scoring.config import PROJECT_ROOT
from scoring.ops.bench import _cli, _dbt_breakdown, _run
from scoring.ops.nightly import parse_steps


def _night(args: list[str], home: Path, name: str) -> dict:
    """One CLI night on the warehouse in ``home``: wall seconds, peak RSS, the job's step times
    and dbt's heaviest models; its output goes to ``home/<name>.log``."""
    seconds, rss_mb, text = _run(_cli(*args), home / f"{name}.log")
    return {
        "wall_s": round(seconds, 1),
        "peak_rss_mb": round(rss_mb),
        "steps": parse_steps(text),
        **_dbt_breakdown(home, top=10),
    }


def run(raw_dir: Path, out: Path, engines: list[str], again: bool = True) -> dict:
    results: dict = {"raw_dir": str(raw_dir), "engines": {}}
    for engine in engines:
        home = out / engine
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        wh = home / "skipcache.duckdb"
        base = ["nightly", "--raw-dir", str(raw_dir), "--warehouse", str(wh), "--quiet"]
        nights = results["engines"][engine] = {}
        nights["full_night"] = _night([*base, "--engine", engine], home, "full-night")
        if again:
            # no new data: --force makes the night run (else it stops at its input check)
            nights["night_again"] = _night(
                [*base, "--engine", engine, "--force"], home, "night-again"
            )
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
        rows.append(
            f"| {run_name.replace('_', ' ')}: peak RSS MB | "
            + " | ".join(str(results["engines"][e][run_name]["peak_rss_mb"]) for e in engines)
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
