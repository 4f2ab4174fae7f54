"""One night of the job: incremental build, then train and gate, in the standby generation.

Everything is written to the standby generation of the warehouse (scoring.ingest.generations), which
goes live only when every step succeeded; the writer lock keeps a second run out.
"""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from scoring.config import Paths, TrainSettings, limit_memory
from scoring.decide.decisions import decide
from scoring.decide.policy import DecisionSettings, SettingsError
from scoring.decide.serving import publish, read_manifest
from scoring.ingest import generations, inputs
from scoring.ingest.build import (
    OUTCOME_SELECTOR,
    accounting,
    build_outcomes,
    dbt_build,
    format_accounting,
)
from scoring.ingest.dbt_runner import import_dbt_in_background
from scoring.ingest.lock import writer_lock
from scoring.model import registry
from scoring.model.train_and_gate import TrainReport, reuse_recent, train
from scoring.ops import metrics


def _decide(paths: Paths):
    """The night's decisions by the engine that built the warehouse."""
    if paths.engine == "spark":
        from scoring.decide import spark_decisions

        return spark_decisions.decide
    return decide


def _progress(text: str) -> None:
    """Long steps announce themselves on stderr, so a person running the job sees it move."""
    print(f"[skipcache {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


@dataclass
class Step:
    """One running step; its name may still change (a model reused is not a model trained)."""

    name: str


class Steps:
    """The named steps of one run and their seconds, the one clock of the job."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.done: list[tuple[str, float]] = []

    @contextmanager
    def step(self, name: str, progress: str | None = None) -> Iterator[Step]:
        """Time the block as the step ``name`` (announced with ``progress`` if given); a step
        that raises is not recorded."""
        if progress:
            _progress(progress)
        current = Step(name)
        t = time.perf_counter()
        yield current
        self.done.append((current.name, time.perf_counter() - t))

    def seconds(self, name: str) -> float:
        """The seconds of the last step of that name."""
        return next(secs for n, secs in reversed(self.done) if n == name)

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.started


def _model_for(
    con: duckdb.DuckDBPyConnection,
    paths: Paths,
    settings: TrainSettings,
    night: date | None,
    force: bool = False,
) -> TrainReport:
    """A recent model when one is not due for retraining (see retrain_every_days), else train."""
    report = None if force else reuse_recent(con, settings, night)
    if report is None:
        _progress("train, evaluate against the baselines, gate ...")
        report = train(con, paths.home, settings, night)
    return report


def _write_metrics(
    paths: Paths, steps: Steps, model_version: str | None, decision_date: date | None = None
) -> None:
    """metrics/skipcache.prom for the run: full after a success (the model and night the live
    warehouse decided with), run state after a failure (no model_version)."""
    run = metrics.run_metrics(
        succeeded=model_version is not None,
        finished_at=time.time(),
        duration=steps.elapsed(),
        steps=steps.done,
        last_success=metrics.previous_last_success(paths.metrics),
    )
    if model_version is not None:
        con = duckdb.connect(str(paths.warehouse), read_only=True)
        try:
            record = registry.read(con, model_version)
            run += metrics.warehouse_metrics(con, record, decision_date)
        finally:
            con.close()
    metrics.write(paths.metrics, run)


def _write_failure_metrics(paths: Paths, steps: Steps) -> None:
    """Record a failed run; never hide the run's own error behind a metrics error."""
    try:
        _write_metrics(paths, steps, None)
    except Exception as exc:  # noqa: BLE001
        _progress(f"could not write {paths.metrics / metrics.PROM_FILE}: {exc}")


def _publish(
    paths: Paths,
    night: date,
    run_id: str,
    report: TrainReport,
    decisions: DecisionSettings,
    steps: Steps,
    progress: str | None = None,
) -> dict:
    """Publish the committed warehouse's decisions of ``night`` as the serving snapshot."""
    with steps.step("publish", progress):
        con = limit_memory(duckdb.connect(str(paths.warehouse), read_only=True))
        try:
            return publish(
                con, paths.home / "serving", night, run_id, report.decision_policy,
                decisions.arm_shares, decisions.threshold, report.model_version,
            )  # fmt: skip
        finally:
            con.close()


def run_night(
    paths: Paths,
    settings: TrainSettings,
    decision_date: date | None,
    quiet: bool = False,
    decisions: DecisionSettings | None = None,
    train_only: bool = False,
    full_refresh: bool = False,
    force: bool = False,
    all_tests: bool = False,
) -> str:
    """Build, train, gate, then (unless train_only) decide and publish; return the summary.

    Steps: check inputs, prepare standby, dbt build, train and evaluate (or reuse model), then
    unless train_only score and decide, the standby goes live, publish, metrics. The night's
    data tests see only the rows it wrote, but for all_tests and once a week (full_tests_due).
    A night whose
    inputs (scoring.ingest.inputs) equal those of the live warehouse's last night, whose
    snapshot is published, has nothing to do: it says so and stops (unless ``force``)."""
    decisions = decisions or DecisionSettings()
    steps = Steps()
    run_id = uuid.uuid4().hex[:12]
    nights = [decision_date] if decision_date else []
    counts = manifest = None
    with writer_lock(paths.lock):
        try:
            with steps.step("check inputs"):
                fingerprint = inputs.fingerprint(paths, nights, settings, decisions)
                must_run = force or train_only or full_refresh
                last = None if must_run else _unchanged(paths, fingerprint)
            if last is not None:
                _write_metrics(paths, steps, last.model_version, last.decision_date)
                return format_unchanged_summary(paths, last, steps.done, steps.elapsed())
            with ExitStack() as standby:
                with steps.step("prepare standby"):
                    importing_dbt = import_dbt_in_background()
                    work = standby.enter_context(generations.night(paths))
                night_tests = not (all_tests or full_tests_due())
                # read just before the build (the landing): a night with nothing new never
                # needs them
                signatures = inputs.catalogue_signatures(paths)
                catalogue = inputs.catalogue_fingerprint(paths, signatures)
                keep_catalogue = (
                    night_tests and not full_refresh and _holds_catalogue(paths, work, catalogue)
                )
                with steps.step("dbt build", _build_progress(keep_catalogue)):
                    importing_dbt.join()
                    dbt_build(
                        paths, work, quiet=quiet, decision_dates=nights, full_refresh=full_refresh,
                        night_tests=night_tests,
                        selector=_night_selector(paths, night_tests, keep_catalogue),
                    )  # fmt: skip
                    catalogue = inputs.settled_catalogue(
                        paths, signatures, catalogue, kept=keep_catalogue
                    )
                con = standby.enter_context(closing(limit_memory(duckdb.connect(str(work)))))
                with steps.step("train and evaluate") as step:
                    report = _model_for(con, paths, settings, decision_date, force=train_only)
                    if report.reused_for:
                        step.name = "reuse model"
                if train_only:
                    inputs.forget(con)
                else:
                    with steps.step(
                        "score and decide", "score candidates in SQL and write decisions ..."
                    ):
                        counts = _decide(paths)(
                            con, report.decision_date, report.decision_policy, run_id, decisions
                        )
                    stamp = datetime.now().replace(microsecond=0)
                    inputs.record(
                        con,
                        inputs.NightInputs(
                            run_id, report.decision_date, report.decision_policy,
                            report.model_version, fingerprint, stamp, catalogue,
                        ),
                    )  # fmt: skip
                # leaving the stack closes the connection, then the standby goes live
            if not train_only:
                # the decisions are committed (the warehouse was replaced): now publish them
                manifest = _publish(
                    paths, report.decision_date, run_id, report, decisions, steps,
                    "publish the snapshot ...",
                )  # fmt: skip
                _write_metrics(paths, steps, report.model_version, report.decision_date)
        except BaseException:
            if not train_only:  # the collector sees the failure; the last success time stays
                _write_failure_metrics(paths, steps)
            raise
    accounts = accounting(paths.warehouse)
    return format_night_summary(
        paths, report, accounts, counts, manifest, run_id, steps.done, steps.elapsed()
    )


#: The dbt selectors of a night (selectors.yml): all but the data tests of the job's own
#: tables, which the job checks as it writes a night; and the same but the catalogue models,
#: left as they are.
NIGHT = "night"
CATALOGUE_UNCHANGED = "catalogue_unchanged"


def _night_selector(paths: Paths, night_tests: bool, keep_catalogue: bool) -> str | None:
    """The selector of tonight's build; None (every node) on a full test pass and on Spark,
    whose decision tables are checked by their data tests alone (Parquet, no transaction)."""
    if keep_catalogue:
        return CATALOGUE_UNCHANGED
    if night_tests and paths.engine == "duckdb":
        return NIGHT
    return None


def _holds_catalogue(paths: Paths, work: Path, catalogue: str) -> bool:
    """Whether the warehouse file a night writes holds the catalogue tables tonight would
    build: the night that last wrote it recorded tonight's catalogue fingerprint. The file's
    own record, not the live file's: the standby holds the tables of the night before last
    (scoring.ingest.generations). DuckDB only: Spark's tables are one folder that every night
    writes, a failed night's included, so a Spark night builds the catalogue."""
    if paths.engine != "duckdb" or not work.exists():
        return False
    with closing(duckdb.connect(str(work), read_only=True)) as con:
        last = inputs.recorded(con)
    return last is not None and last.catalogue_fingerprint == catalogue


def _build_progress(keep_catalogue: bool) -> str:
    if keep_catalogue:
        return (
            "dbt build (incremental; no catalogue file changed: "
            f"--selector {CATALOGUE_UNCHANGED}, the catalogue models kept as built) ..."
        )
    return "dbt build (incremental) ..."


def full_tests_due(today: date | None = None) -> bool:
    """A night tests every row, not only its own, once a week: on the UTC weekday
    SKIPCACHE_FULL_TESTS_WEEKDAY (0 Monday .. 6 Sunday, default 6; "never" to leave it to
    --all-tests and builds)."""
    setting = os.environ.get("SKIPCACHE_FULL_TESTS_WEEKDAY", "6")
    if setting == "never":
        return False
    today = today or datetime.now(UTC).date()
    return today.weekday() == int(setting)


def _unchanged(paths: Paths, fingerprint: str) -> inputs.NightInputs | None:
    """The live warehouse's last night if it read exactly these inputs and its snapshot is the
    one published; else None (the night must run)."""
    last = inputs.last_night(paths.warehouse)
    if last is None or last.fingerprint != fingerprint:
        return None
    published = read_manifest(paths.home / "serving")
    if published is None or published.get("run_id") != last.run_id:
        return None
    return last


def format_unchanged_summary(
    paths: Paths, last: inputs.NightInputs, steps: list[tuple[str, float]], total: float
) -> str:
    """What a night with nothing to do prints: which night stands, and why."""
    lines = [
        "",
        f"warehouse {paths.warehouse} from {paths.raw_dir}",
        f"nothing new since the night of run {last.run_id} ({last.recorded_at}): the same raw "
        "files and served logs (names, sizes, modification times), the same project code, "
        "packages and settings.",
        f"its decisions for {last.decision_date} (policy {last.decision_policy}, model "
        f"{last.model_version}) and the published snapshot stand; nothing was rebuilt "
        "(--force runs the night anyway).",
        "",
    ]
    lines += [f"{name:<20} {secs:6.1f}s" for name, secs in steps]
    lines.append(f"{'total':<20} {total:6.1f}s")
    return "\n".join(lines)


#: a step's line at the end of the summary ("dbt build              12.3s"), as the benches read it
STEP_LINE = re.compile(r"^([a-z][a-z ]*[a-z])\s+([0-9]+\.[0-9])s$")


def parse_steps(summary: str) -> dict[str, float]:
    """The seconds of each step (and the total) from a night's summary text."""
    return {
        m[1]: float(m[2]) for line in summary.splitlines() if (m := STEP_LINE.match(line.strip()))
    }


def format_night_summary(
    paths: Paths,
    report: TrainReport,
    accounts: list,
    counts: dict | None,
    manifest: dict | None,
    run_id: str,
    steps: list[tuple[str, float]],
    total: float,
) -> str:
    """The text a night prints: raw-file accounting, the model against the baselines, the gate
    verdict, then (when the night decided: counts and manifest given) the decisions per arm and
    the published snapshot, then each step's seconds and the total."""
    rec = report.record
    lines = [
        "",
        f"warehouse {paths.warehouse} from {paths.raw_dir}",
        format_accounting(accounts),
        "",
        f"decision date {report.decision_date}: model {rec.model_version} trained on "
        f"{rec.train_rows:,} listens "
        f"({rec.train_start_date}..{rec.train_end_date}), "
        f"hold-out {rec.holdout_rows:,} listens "
        f"({rec.holdout_start_date}..{rec.holdout_end_date})",
        f"{'policy':<14} {'AUC':>6} {'accuracy':>9} {'log loss':>9}",
    ]
    for name in ("model", "naive", "constant", "user_history"):
        auc = rec.metric(name, "roc_auc")
        lines.append(
            f"{name:<14} {_fmt(auc):>6} "
            f"{rec.metric(name, 'accuracy'):>9.3f} {rec.metric(name, 'log_loss'):>9.3f}"
        )
    if rec.seed_replica_accuracy is not None:
        lines.append(
            f"{'seed replica':<14} {rec.seed_replica_roc_auc:>6.3f} "
            f"{rec.seed_replica_accuracy:>9.3f}   (leaky: rates over all rows, random split)"
        )
    lines += ["", report.verdict()]
    if counts is not None and manifest is not None:
        for arm, (n, cached) in sorted(counts["arms"].items()):
            lines.append(f"arm {arm:<8} {n:>10,} pair decisions, {cached:>10,} cached")
        n, cached = counts["track_defaults"]
        lines.append(f"track defaults {n:>10,} tracks, {cached:>10,} cached")
        lines.append(
            f"published {paths.home / 'serving' / 'manifest.json'} "
            f"(run {run_id}, {manifest['row_count']:,} rows)"
        )
        lines.append(f"metrics {paths.metrics / metrics.PROM_FILE}")
    lines.append("")
    lines += [f"{name:<20} {secs:6.1f}s" for name, secs in steps]
    lines.append(f"{'total':<20} {total:6.1f}s")
    return "\n".join(lines)


def backfill(
    paths: Paths,
    settings: TrainSettings,
    start: date,
    end: date,
    quiet: bool = False,
    decisions: DecisionSettings | None = None,
) -> str:
    """Replay the nights start..end in order as production would have run them.

    One incremental dbt build computes the features of every night (each from listens before
    it: the feature tables are point-in-time); then, night by night, a model is trained on the
    days before the night only (train_end_date < night), gated against the baselines and the
    models of earlier nights, and the night's decisions are written. History is not rebuilt
    per night. The last night's decisions are published.
    """
    if end < start:
        raise SettingsError(f"--end {end} is before --start {start}")
    decisions = decisions or DecisionSettings()
    nights = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    run_id = uuid.uuid4().hex[:12]
    lines = [f"backfill {start}..{end} ({len(nights)} nights), run {run_id}"]
    steps = Steps()
    with writer_lock(paths.lock):
        try:
            report = _replay(paths, settings, nights, run_id, quiet, decisions, lines, steps)
            _publish(paths, end, f"{run_id}-{end:%Y%m%d}", report, decisions, steps)
            _write_metrics(paths, steps, report.model_version, report.decision_date)
        except BaseException:
            _write_failure_metrics(paths, steps)
            raise
    lines.append(f"published the night of {end}; total {steps.elapsed():.1f}s")
    return "\n".join(lines)


def _replay(
    paths: Paths,
    settings: TrainSettings,
    nights: list[date],
    run_id: str,
    quiet: bool,
    decisions: DecisionSettings,
    lines: list[str],
    steps: Steps,
) -> TrainReport:
    """The backfill's writes, in one working copy: build, the nights in order, the outcomes."""
    with generations.night(paths) as work:
        with steps.step("dbt build"):
            dbt_build(paths, work, quiet=quiet, decision_dates=nights)
        lines.append(f"dbt build (all nights' features) {steps.seconds('dbt build'):.1f}s")
        with steps.step("nights"), closing(limit_memory(duckdb.connect(str(work)))) as con:
            inputs.forget(con)  # a replay is not a night: the next night runs whatever it reads
            for night in nights:
                _progress(f"night {night}: train, gate, decide ...")
                clock = Steps()
                report = _model_for(con, paths, settings, night)
                counts = _decide(paths)(
                    con, night, report.decision_policy, f"{run_id}-{night:%Y%m%d}", decisions
                )
                n = sum(v[0] for v in counts["arms"].values())
                state = "promoted" if report.promoted else "not promoted"
                if report.reused_for:
                    state += f", reused from {report.record.decision_date}"
                lines.append(
                    f"{night}: {report.model_version} {state}, "
                    f"AUC {_fmt(report.record.metric('model', 'roc_auc'))}, decisions by "
                    f"{report.decision_policy}: {n:,} pairs ({clock.elapsed():.1f}s)"
                )
        # the nights' listens are in the export already: their outcomes can be measured
        with steps.step("outcomes", "outcomes of the nights' decisions (dbt) ..."):
            build_outcomes(paths, work, quiet=quiet)
        lines.append(f"outcomes (dbt build --select {OUTCOME_SELECTOR}) done")
    return report


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"
