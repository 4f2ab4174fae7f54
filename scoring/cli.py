"""The `skipcache` command: a thin layer that parses flags and calls the package's functions."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from scoring.config import resolve_paths


def _add_paths(p: argparse.ArgumentParser, raw: bool = True) -> None:
    if raw:
        p.add_argument("--raw-dir", help="folder of one raw export (default: data/raw/demo)")
    p.add_argument("--warehouse", help="DuckDB file (default: warehouse/skipcache.duckdb)")


def _add_engine_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="where dbt builds and the job computes: duckdb (default) or spark (dbt-spark, "
        "local session; tables in spark/ beside the warehouse; needs the spark extra)",
    )


def _add_decision_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threshold",
        type=float,
        help="cache when p_play >= this (default 0.5, env SKIPCACHE_THRESHOLD)",
    )
    p.add_argument(
        "--arms",
        default="model=0.5,naive=0.5",
        help="arm shares, e.g. model=0.45,naive=0.45,holdout=0.1",
    )


def _decision_settings(args: argparse.Namespace):
    from scoring.config import DEFAULT_THRESHOLD
    from scoring.decide.policy import DecisionSettings, parse_arm_shares

    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    return DecisionSettings(threshold=threshold, arm_shares=parse_arm_shares(args.arms))


def _add_retrain_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--retrain-every-days",
        type=int,
        help="reuse a model trained for one of the last N nights; 0 trains every night "
        "(default 7, env SKIPCACHE_RETRAIN_EVERY_DAYS)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skipcache", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="run the dbt project over an export into a warehouse")
    _add_paths(p)
    p.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    p.add_argument("--quiet", action="store_true", help="hide dbt's progress lines")
    _add_engine_flag(p)

    for name, text in [
        ("train", "build, then train, evaluate and gate the SVC for a decision date"),
        ("nightly", "one night of the job, end to end"),
    ]:
        p = sub.add_parser(name, help=text)
        _add_paths(p)
        p.add_argument("--date", type=date.fromisoformat, help="decision date D (YYYY-MM-DD)")
        p.add_argument("--holdout-days", type=int, help="days before D held out (default 14)")
        p.add_argument("--train-window-days", type=int, help="sliding training window (365)")
        p.add_argument("--quiet", action="store_true", help="hide dbt's progress lines")
        p.add_argument(
            "--full-refresh", action="store_true", help="rebuild incremental models from scratch"
        )
        _add_engine_flag(p)
        if name == "nightly":
            _add_decision_flags(p)
            _add_retrain_flag(p)
            p.add_argument(
                "--force",
                action="store_true",
                help="run the night even when no input changed since the last one",
            )
            p.add_argument(
                "--all-tests",
                action="store_true",
                help="test every row (a night tests the rows it wrote, and all once a week)",
            )

    p = sub.add_parser("backfill", help="replay nights START..END as production would have")
    _add_paths(p)
    p.add_argument("--start", type=date.fromisoformat, required=True, help="first night")
    p.add_argument("--end", type=date.fromisoformat, required=True, help="last night")
    p.add_argument("--quiet", action="store_true", help="hide dbt's progress lines")
    _add_decision_flags(p)
    _add_retrain_flag(p)
    _add_engine_flag(p)

    p = sub.add_parser("report", help="charts and a summary page of the A/B outcomes and model")
    _add_paths(p, raw=False)

    p = sub.add_parser("docs", help="dbt docs (offline) of the warehouse into docs/ beside it")
    _add_paths(p, raw=False)
    p.add_argument("--quiet", action="store_true", help="hide dbt's progress lines")

    p = sub.add_parser("bench", help="measure time and memory beside the seed's pandas peer")
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--preset", choices=["tiny", "demo", "v2", "v2x10"], help="generate (default v2)"
    )
    source.add_argument("--raw-dir", help="benchmark this export instead of a generated one")
    p.add_argument("--out", help="work folder, emptied first (default build/bench)")
    p.add_argument(
        "--serve",
        action="store_true",
        help="the cache service under load beside the seed's design: serve.json in --out "
        "(only its serve/ folder is emptied); a warehouse from --preset (default demo) or "
        "--raw-dir unless --warehouse is given",
    )
    p.add_argument("--warehouse", help="--serve: a warehouse with a published snapshot")
    p.add_argument("--duration", type=float, default=5.0, help="--serve: seconds per cell (5)")
    p.add_argument("--concurrency", default="1,16,64", help="--serve: connections (1,16,64)")
    p.add_argument("--workers", default="1,2", help="--serve: service workers (1,2)")
    p.add_argument("--batches", default="1000,10000", help="--serve: pairs per /decisions body")
    p.add_argument(
        "--generator", choices=["auto", "wrk", "aiohttp"], default="auto",
        help="--serve: load generator (auto: wrk when on the PATH)",
    )  # fmt: skip
    p.add_argument(
        "--exports", help="keep generated exports here and reuse them (default: in --out)"
    )
    p.add_argument(
        "--real-dir", help="also measure this real export (full night, then a no-data night)"
    )
    p.add_argument(
        "--peer-memory-gb",
        type=float,
        default=8.0,
        help="address-space cap of the pandas peer (RLIMIT_AS, as ulimit -v; default 8)",
    )

    p = sub.add_parser("serve", help="the cache service: HTTP answers for any (user, track)")
    _add_paths(p, raw=False)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")

    p = sub.add_parser("lookup", help="the published decision for one (user, track)")
    _add_paths(p, raw=False)
    p.add_argument("--user", type=int, required=True)
    p.add_argument("--track", required=True)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("generate", help="write a synthetic export")
    p.add_argument("--preset", choices=["tiny", "demo", "v2", "v2x10"], default="demo")
    p.add_argument(
        "--scale",
        type=int,
        default=1,
        help="N times the preset's users and sessions, same catalogue, streamed in N chunks "
        "(v2x10 is v2 at scale 10)",
    )
    p.add_argument("--out", required=True, help="folder to write the export into")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--timestamps",
        choices=["iso", "epoch_ms", "offset"],
        default="iso",
        help="timestamp spelling: ISO local (23Z v2), epoch ms, or '... +02:00:00'",
    )
    p.add_argument(
        "--event-case",
        choices=["lower", "upper", "title"],
        default="lower",
        help="spelling of event types (title gives Play, BuyPremium)",
    )
    p.add_argument("--arrays", action="store_true", help="write session events as JSON arrays")
    p.add_argument("--session-id-last", action="store_true", help="put session_id last")
    p.add_argument("--daily-drops", action="store_true", help="sessions/ folder, a file a day")
    p.add_argument("--dirty", action="store_true", help="v1-style dirt: nulls, -1 ids, orphans")
    p.add_argument(
        "--signal", type=float, default=1.0, help="scale of the planted skip effects (0: none)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # a log handler that cannot write (a full disk) must not print a traceback of its own: the
    # command's error says what ran out, in one line
    logging.raiseExceptions = False
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every known failure becomes one clear line, not a traceback
        from scoring.errors import USER_ERRORS, out_of_space

        if (full := out_of_space(exc, _writing_to(args))) is not None:
            print(f"skipcache {args.command}: {full}", file=sys.stderr)
            return 1
        if isinstance(exc, USER_ERRORS):
            print(f"skipcache {args.command}: {exc}", file=sys.stderr)
            return 2
        raise


def _writing_to(args: argparse.Namespace) -> Path | None:
    """The folder a command writes to, for an error message."""
    if getattr(args, "out", None):
        return Path(args.out)
    if hasattr(args, "warehouse"):
        return resolve_paths(None, args.warehouse).home
    return None


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "generate":
        from scoring.ingest.generate import GenerateOptions, generate

        started = time.perf_counter()
        summary = generate(
            args.out,
            GenerateOptions(
                preset=args.preset,
                seed=args.seed,
                timestamps=args.timestamps,
                event_case=args.event_case,
                arrays=args.arrays,
                session_id_last=args.session_id_last,
                daily_drops=args.daily_drops,
                dirty=args.dirty,
                signal=args.signal,
                scale=args.scale,
            ),
        )
        print(f"{summary} in {time.perf_counter() - started:.1f}s")
        return 0

    if args.command == "bench" and args.serve:
        from scoring.ops.bench_serve import main_serve_bench

        return main_serve_bench(args)
    if args.command == "bench":
        from scoring.config import PROJECT_ROOT
        from scoring.ops.bench import format_results, run_bench

        out = Path(args.out) if args.out else PROJECT_ROOT / "build" / "bench"
        raw = Path(args.raw_dir) if args.raw_dir else None
        results = run_bench(
            out.resolve(),
            args.preset,
            raw,
            exports=Path(args.exports).resolve() if args.exports else None,
            real_dir=Path(args.real_dir) if args.real_dir else None,
            peer_cap_gb=args.peer_memory_gb,
        )
        print(format_results(results))
        print(f"results: {out / 'bench.json'}")
        return 0

    paths = resolve_paths(
        getattr(args, "raw_dir", None), args.warehouse, getattr(args, "engine", "duckdb")
    )
    if args.command == "build":
        from scoring.ingest.build import build, format_accounting
        from scoring.ingest.lock import writer_lock

        started = time.perf_counter()
        with writer_lock(paths.lock):
            accounts = build(paths, full_refresh=args.full_refresh, quiet=args.quiet)
        print(f"\nwarehouse {paths.warehouse} built from {paths.raw_dir}")
        print(format_accounting(accounts))
        print(f"done in {time.perf_counter() - started:.1f}s")
        return 0
    if args.command in {"train", "nightly"}:
        from scoring.config import TrainSettings
        from scoring.ops.nightly import run_night

        settings = TrainSettings.from_env(
            holdout_days=args.holdout_days,
            train_window_days=args.train_window_days,
            retrain_every_days=getattr(args, "retrain_every_days", None),
        )
        summary = run_night(
            paths,
            settings,
            args.date,
            quiet=args.quiet,
            train_only=args.command == "train",
            full_refresh=args.full_refresh,
            decisions=_decision_settings(args) if args.command == "nightly" else None,
            force=getattr(args, "force", False),
            all_tests=getattr(args, "all_tests", False),
        )
        print(summary)
        return 0
    if args.command == "backfill":
        from scoring.config import TrainSettings
        from scoring.ops.nightly import backfill

        print(
            backfill(
                paths,
                TrainSettings.from_env(retrain_every_days=args.retrain_every_days),
                args.start,
                args.end,
                quiet=args.quiet,
                decisions=_decision_settings(args),
            )
        )
        return 0
    if args.command == "lookup":
        return _lookup(paths, args)
    if args.command == "serve":
        return _serve(paths, args)
    if args.command == "report":
        from scoring.ops.report.page import write_report

        out = write_report(paths)
        print(f"report written to {out} (summary.md and charts)")
        return 0
    if args.command == "docs":
        from scoring.ingest.build import generate_docs
        from scoring.ingest.lock import writer_lock

        with writer_lock(paths.lock):
            out = generate_docs(paths, quiet=True)
        print(f"dbt docs written to {out}: open static_index.html (works offline)")
        return 0
    raise AssertionError(args.command)


def _serve(paths, args: argparse.Namespace) -> int:
    import os
    import shutil
    import tempfile

    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    if args.workers > 1:  # the workers' metrics are summed from files (prometheus_client)
        metrics_dir = tempfile.mkdtemp(prefix="skipcache-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    from scoring.decide.service import serve

    print(
        f"serving {paths.home / 'serving'} on http://{args.host}:{args.port} "
        f"({args.workers} worker{'s' if args.workers > 1 else ''}); docs at /docs",
        flush=True,
    )
    try:
        serve(str(paths.warehouse), args.host, args.port, args.workers)
    finally:
        if args.workers > 1:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _lookup(paths, args: argparse.Namespace) -> int:
    import json

    from scoring.decide.serving import SnapshotReader

    reader = SnapshotReader(paths.home / "serving")
    if reader.manifest is None:
        print(f"no published snapshot under {paths.home / 'serving'}: run skipcache nightly first")
        return 2
    answer = reader.lookup(args.user, args.track)
    if args.json:
        print(json.dumps(answer.as_dict()))
    else:
        for key, value in answer.as_dict().items():
            print(f"{key:<14} {value}")
    return 0
