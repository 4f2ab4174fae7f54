"""`skipcache report`: charts and a summary page a product manager reads.

Writes ``reports/<date>/`` beside the warehouse (``<date>`` is the last night with decisions):
  accuracy_by_arm.png   accuracy and cache hit rate of each A/B arm, night by night (the
                        seed's A/B chart, on measured outcomes)
  feature_weights.png   the model's weights on standardised features (the seed's feature
                        importance figure)
  roc.png, calibration.png  hold-out ROC and calibration curves of the model and baselines
  leakage_gap.png       the seed's leaky evaluation against the honest hold-out, per model
  summary.md            the verdict in words, the numbers behind it, links to the charts
Reads the warehouse read-only; nothing is written to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

from scoring.config import Paths  # noqa: E402


class ReportError(Exception):
    """The warehouse holds nothing to report on yet (no nightly run)."""


@dataclass
class ReportData:
    night: date
    summary: pd.DataFrame  # ab_daily_summary
    comparison: pd.DataFrame  # ab_arm_comparison
    model: dict  # the registry row of the model reported on
    weights: pd.DataFrame
    holdout: pd.DataFrame  # y_play and the p_play of each policy on the model's hold-out
    registry: pd.DataFrame


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def load(con: duckdb.DuckDBPyConnection) -> ReportData:
    nights = con.execute("select max(decision_date) from decisions.cache_decisions").fetchall()
    if not nights or nights[0][0] is None:
        raise ReportError("no decisions in the warehouse: run skipcache nightly or backfill first")
    night = nights[0][0]
    registry = _frame(con, "select * from ml.model_registry order by decision_date, trained_at")
    # the model behind the last night's decisions: the newest promoted model trained before it,
    # else the newest model (then the report says it was not promoted)
    promoted = registry[registry["promoted"] & (registry["decision_date"] <= pd.Timestamp(night))]
    model = (promoted if len(promoted) else registry).iloc[-1].to_dict()
    version = model["model_version"]
    weights = _frame(
        con,
        "select feature, weight from ml.model_weights where model_version = ? "
        "order by abs(weight) desc",
        [version],
    )
    rates = con.execute(
        """
        select
            avg(case when is_skipped then 0.0 else 1.0 end),
            avg(case when is_skipped then 0.0 else 1.0 end) filter (where is_favourite_genre),
            avg(case when is_skipped then 0.0 else 1.0 end) filter (where not is_favourite_genre)
        from marts.training_examples
        where listen_date >= ? and listen_date < ?
        """,
        [model["train_start_date"], model["holdout_start_date"]],
    ).fetchall()[0]
    rate_all = rates[0] if rates[0] is not None else 0.5
    holdout = _frame(
        con,
        """
        select
            case when t.is_skipped then 0 else 1 end as y_play,
            h.p_play as model,
            t.is_favourite_genre,
            1 - t.user_skip_rate as user_history
        from ml.holdout_predictions as h
        inner join marts.training_examples as t on h.listen_id = t.listen_id
        where h.model_version = ?
        """,
        [version],
    )
    fav = holdout.pop("is_favourite_genre").fillna(False).astype(bool).to_numpy()
    rate_fav, rate_other = (rate_all if r is None else r for r in rates[1:])
    holdout["naive"] = np.where(fav, rate_fav, rate_other)
    holdout["constant"] = rate_all
    return ReportData(
        night=night,
        summary=_frame(con, "select * from marts.ab_daily_summary order by decision_date, arm"),
        comparison=_frame(con, "select * from marts.ab_arm_comparison order by metric, arm"),
        model=model,
        weights=weights,
        holdout=holdout,
        registry=registry,
    )


def _save(fig: plt.Figure, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def chart_arms(data: ReportData, out: Path) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for arm, rows in data.summary.groupby("arm"):
        axes[0].plot(rows["decision_date"], rows["accuracy"], marker="o", label=arm)
        axes[1].plot(rows["decision_date"], rows["cache_hit_rate"], marker="o", label=arm)
    axes[0].set_title("Accuracy of the cache decisions (covered requests)")
    axes[1].set_title("Cache hit rate (all requests)")
    for ax in axes:
        ax.set_xlabel("night")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(title="arm")
        ax.tick_params(axis="x", rotation=45)
    return _save(fig, out / "accuracy_by_arm.png")


def chart_weights(data: ReportData, out: Path) -> str:
    w = data.weights.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, max(4, 0.28 * len(w))))
    colors = ["tab:green" if x > 0 else "tab:red" for x in w["weight"]]
    ax.barh(w["feature"], w["weight"], color=colors)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_title(f"{data.model['model_version']}: weight per standardised feature")
    ax.set_xlabel("weight (> 0 pushes towards a play-through, < 0 towards a skip)")
    return _save(fig, out / "feature_weights.png")


POLICIES = ["model", "user_history", "naive", "constant"]


def chart_roc(data: ReportData, out: Path) -> str:
    y = data.holdout["y_play"].to_numpy()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name in POLICIES:
        p = data.holdout[name].astype(float).to_numpy()
        if len(np.unique(y)) < 2:
            break
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set_xlabel("false play-through rate")
    ax.set_ylabel("true play-through rate")
    ax.set_title(f"Hold-out ROC ({len(y):,} listens)")
    ax.legend(loc="lower right")
    return _save(fig, out / "roc.png")


def chart_calibration(data: ReportData, out: Path) -> str:
    y = data.holdout["y_play"].to_numpy()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name in ["model", "user_history", "naive"]:
        p = np.clip(data.holdout[name].astype(float).to_numpy(), 0, 1)
        frac, mean = calibration_curve(y, p, n_bins=10, strategy="quantile")
        ax.plot(mean, frac, marker="o", label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    ax.set_xlabel("predicted p_play")
    ax.set_ylabel("observed play-through rate")
    ax.set_title("Hold-out calibration")
    ax.legend(loc="upper left")
    return _save(fig, out / "calibration.png")


def chart_leakage(data: ReportData, out: Path) -> str:
    r = data.registry.dropna(subset=["seed_replica_accuracy"]).drop_duplicates("model_version")
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(r) + 3), 4))
    x = np.arange(len(r))
    ax.bar(x - 0.2, r["seed_replica_accuracy"], 0.4, label="seed's way (rates over all rows)")
    ax.bar(x + 0.2, r["model_accuracy"], 0.4, label="honest hold-out (later days)")
    ax.set_xticks(x, [str(v) for v in r["model_version"]], rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title("The leakage gap: the seed's evaluation against an honest one")
    ax.legend(loc="lower right")
    return _save(fig, out / "leakage_gap.png")


def verdict(data: ReportData) -> list[str]:
    """The verdict in plain words, from the arm comparison and the model's gate."""
    m = data.model
    lines = []
    acc = data.comparison[data.comparison["metric"] == "accuracy"]
    model_vs = acc[acc["arm"] == "model"]
    hits = data.comparison[
        (data.comparison["metric"] == "cache_hit_rate") & (data.comparison["arm"] == "model")
    ]
    if len(model_vs) and pd.isna(model_vs.iloc[0]["difference"]) and len(hits):
        c, h = model_vs.iloc[0], hits.iloc[0]
        lines.append(
            f"**The decisions cannot be compared yet.** Over {c['nights']} nights "
            f"({c['first_night']:%Y-%m-%d} to {c['last_night']:%Y-%m-%d}), "
            f"{c['requests']:,} of the model arm's requests and {c['reference_requests']:,} of "
            f"the {c['reference_arm']} arm's were answered by a pair decision: the candidate "
            f"pairs did not include what the users went on to play. Every request was answered "
            f"by the per-track defaults, which cached "
            f"{100 * h['metric_value']:.1f}% (model arm) and "
            f"{100 * h['reference_metric_value']:.1f}% ({h['reference_arm']} arm) of them. "
            f"Widen the candidates (vars candidate_*) before reading an A/B result."
        )
    elif len(model_vs):
        c = model_vs.iloc[0]
        span = f"{c['nights']} nights ({c['first_night']:%Y-%m-%d} to {c['last_night']:%Y-%m-%d})"
        diff = f"{100 * c['difference']:+.1f} points"
        ci = f"{100 * c['difference_low']:+.1f} to {100 * c['difference_high']:+.1f}"
        if c["difference_low"] > 0:
            outcome = "The model's decisions were right more often than the naive rule's"
        elif c["difference_high"] < 0:
            outcome = "The model's decisions were right less often than the naive rule's"
        else:
            outcome = "The data cannot tell the model's decisions from the naive rule's"
        lines.append(
            f"**{outcome}.** Over {span}, the model arm's cache decisions were right for "
            f"{100 * c['metric_value']:.1f}% of its users' requests, the "
            f"{c['reference_arm']} arm's for {100 * c['reference_metric_value']:.1f}%: "
            f"a difference of {diff} (95% interval {ci})."
        )
    else:
        lines.append(
            "**No A/B outcome yet.** No night with decisions has its listens loaded yet; the "
            "comparison appears once the next day's data is in (or after a backfill)."
        )
    if m["promoted"]:
        who = f"The model behind the last decisions, {m['model_version']}, passed"
        then = ""
    else:
        who = f"The newest model, {m['model_version']}, did not pass"
        then = f" The model arm decided with {m['decision_policy']} instead."
    lines.append(
        f"{who} the gate on its hold-out ({m['holdout_rows']:,} listens): AUC "
        f"{m['model_roc_auc']:.3f} against {m['naive_roc_auc']:.3f} for the naive rule and "
        f"{m['user_history_roc_auc']:.3f} for the user's past skip rate. Reason: "
        f"{m['reason']}.{then}"
    )
    if m.get("seed_replica_accuracy") is not None:
        lines.append(
            f"The seed's way of measuring (skip rates over all rows, random split) would "
            f"report {100 * m['seed_replica_accuracy']:.1f}% accuracy on the same data; measured "
            f"honestly on later days it is {100 * m['model_accuracy']:.1f}%. The gap is leakage, "
            f"not skill."
        )
    return lines


def _table(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, r in frame[columns].iterrows():
        cells = []
        for c in columns:
            v = r[c]
            if v is None or (isinstance(v, float) and np.isnan(v)):
                cells.append("")
            elif isinstance(v, float):
                cells.append(f"{v:.3f}")
            elif isinstance(v, pd.Timestamp):
                cells.append(f"{v:%Y-%m-%d}")
            else:
                cells.append(str(v))
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def write_report(paths: Paths) -> Path:
    con = duckdb.connect(str(paths.require_warehouse()), read_only=True)
    try:
        data = load(con)
    finally:
        con.close()
    out = paths.reports / f"{data.night:%Y-%m-%d}"
    out.mkdir(parents=True, exist_ok=True)
    charts = {
        "Accuracy and cache hit rate by arm": chart_arms(data, out),
        "Feature weights": chart_weights(data, out),
        "ROC": chart_roc(data, out),
        "Calibration": chart_calibration(data, out),
        "Leakage gap": chart_leakage(data, out),
    }
    lines = [f"# skipcache report: nights up to {data.night:%Y-%m-%d}", "", "## Verdict", ""]
    for paragraph in verdict(data):
        lines += [paragraph, ""]
    lines += ["## A/B arms over the period", ""]
    lines += _table(
        data.comparison,
        ["metric", "arm", "reference_arm", "metric_value", "reference_metric_value",
         "difference", "difference_low", "difference_high", "user_count", "requests"],
    )  # fmt: skip
    lines += ["", "## Night by night", ""]
    lines += _table(
        data.summary,
        ["decision_date", "arm", "requests", "covered_requests", "accuracy", "cache_hit_rate",
         "cached_but_skipped_pairs", "cached_never_requested_pairs", "cached_but_skipped_cost",
         "cached_never_requested_cost"],
    )  # fmt: skip
    lines += ["", "## Charts", ""]
    for title, file in charts.items():
        lines += [f"### {title}", "", f"![{title}]({file})", ""]
    lines += [
        "## How to read this",
        "",
        "- A request is a listen on a night; the arm's decision for that user and track (or the "
        "track's default when the pair was not a candidate) said whether it was cached.",
        "- Accuracy counts requests with a pair decision: right when a cached track was played "
        "through or an uncached one skipped. The interval treats users as the independent units.",
        "- Hold-out figures come from days after the model's training data (no leakage).",
        "",
    ]
    (out / "summary.md").write_text("\n".join(lines))
    (out / "report.json").write_text(
        json.dumps(
            {"night": str(data.night), "model": data.model, "charts": charts},
            default=str,
            indent=2,
        )
    )
    return out
