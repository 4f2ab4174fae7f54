"""`skipcache report`: a verdict that holds up, and charts that do not mislead.

Writes ``reports/<date>/`` beside the warehouse (``<date>`` is the last night with decisions):
  accuracy_by_arm.png   accuracy and cache hit rate of each A/B arm, night by night, with the
                        requests behind each point (marker size, 95% interval bars), nights
                        without data marked, and the always-play and user-history references
  feature_weights.png   the model's weights on standardised features (the seed's feature
                        importance figure)
  feature_correlation.png  Pearson correlations between the model's training features (the
                        seed's correlation matrix), on the rows the model was fitted on
  roc.png, calibration.png  hold-out ROC and calibration curves of the model and baselines
  leakage_gap.png       the seed's leaky evaluation against the honest hold-out, per model,
                        with the always-play and user-history accuracies beside them
  charts.json           the numbers each chart was drawn from (tests read these, not pixels)
  summary.md            the verdict in words, the numbers behind it, links to the charts
  index.html            the same content as one self-contained page (images inlined)
and ``reports/index.html``, a list of the nights' reports. Reads the warehouse read-only.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

from scoring.config import Paths  # noqa: E402
from scoring.errors import ReportError  # noqa: E402
from scoring.model.evaluation import PairedAucBootstrap  # noqa: E402
from scoring.model.registry import ModelRecord  # noqa: E402
from scoring.model.registry import read as read_record  # noqa: E402
from scoring.model.sql_scoring import prepared_sql  # noqa: E402

#: Okabe & Ito's palette: told apart by readers with any common colour-vision deficiency.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}
GREY = "#999999"
ARM_COLOURS = {
    "model": OKABE_ITO["blue"],
    "naive": OKABE_ITO["orange"],
    "holdout": OKABE_ITO["purple"],
}
EXTRA_COLOURS = [OKABE_ITO["sky_blue"], OKABE_ITO["green"], OKABE_ITO["vermillion"]]
POLICIES = ["model", "user_history", "naive", "constant"]
POLICY_LABELS = {
    "model": "model (SVC)",
    "user_history": "user history (1 - past skip rate)",
    "naive": "naive rule (favourite genre)",
    "constant": "always play",
}
POLICY_COLOURS = {
    "model": OKABE_ITO["blue"],
    "user_history": OKABE_ITO["green"],
    "naive": OKABE_ITO["orange"],
    "constant": OKABE_ITO["black"],
}
POLICY_STYLES = {"model": "-", "user_history": "-.", "naive": "--", "constant": ":"}

#: Below these, per arm, an A/B difference is not read as a result: users are the independent
#: units, and a cluster-robust interval over a few dozen users is too optimistic to act on.
MIN_USERS_PER_ARM = 30
MIN_REQUESTS_PER_ARM = 100
#: Paired bootstrap of hold-out AUC differences (as the gate draws them).
BOOTSTRAP_RESAMPLES = 400
BOOTSTRAP_SEED = 0
COST_UNIT = "daily_cost units"


@dataclass
class ReportData:
    night: date
    summary: pd.DataFrame  # ab_daily_summary
    comparison: pd.DataFrame  # ab_arm_comparison
    model: ModelRecord  # the model reported on
    weights: pd.DataFrame
    holdout: pd.DataFrame  # y_play and the p_play of each policy on the model's hold-out
    registry: pd.DataFrame
    arms: pd.DataFrame = field(default_factory=pd.DataFrame)  # per arm over the period
    nights: list = field(default_factory=list)  # every decided night
    last_listen: date | None = None
    references: pd.DataFrame = field(default_factory=pd.DataFrame)  # per night, covered requests
    auc: dict = field(default_factory=dict)  # policy -> hold-out AUC
    auc_intervals: dict = field(default_factory=dict)  # baseline -> (low, high) of model - it
    correlation: dict = field(default_factory=dict)
    served: pd.DataFrame | None = None  # ab_served_daily_summary, when present
    policies: pd.DataFrame = field(default_factory=pd.DataFrame)  # arm, model_version, nights


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return rows[0][0] > 0


def _period(comparison: pd.DataFrame) -> tuple[str, str]:
    if len(comparison) and pd.notna(comparison["first_night"].iloc[0]):
        first, last = comparison["first_night"].iloc[0], comparison["last_night"].iloc[0]
        return f"{pd.Timestamp(first):%Y-%m-%d}", f"{pd.Timestamp(last):%Y-%m-%d}"
    return "0001-01-01", "9999-12-31"


def load(con: duckdb.DuckDBPyConnection) -> ReportData:
    nights = con.execute("select max(decision_date) from decisions.cache_decisions").fetchall()
    if not nights or nights[0][0] is None:
        raise ReportError("no decisions in the warehouse: run skipcache nightly or backfill first")
    night = nights[0][0]
    registry = _frame(con, "select * from ml.model_registry order by decision_date, trained_at")
    if registry.empty:
        raise ReportError("no model in the registry: run skipcache nightly or backfill first")
    # the model behind the last night's decisions: the newest promoted model trained before it,
    # else the newest model (then the report says it was not promoted)
    promoted = registry[registry["promoted"] & (registry["decision_date"] <= pd.Timestamp(night))]
    version = (promoted if len(promoted) else registry).iloc[-1]["model_version"]
    model = read_record(con, version)
    weights = _frame(
        con,
        "select feature, transform, weight from ml.model_weights where model_version = ? "
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
        [model.train_start_date, model.holdout_start_date],
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
        order by h.listen_id
        """,
        [version],
    )
    fav = holdout.pop("is_favourite_genre").fillna(False).astype(bool).to_numpy()
    rate_fav, rate_other = (rate_all if r is None else r for r in rates[1:])
    holdout["naive"] = np.where(fav, rate_fav, rate_other)
    holdout["constant"] = rate_all
    comparison = _frame(con, "select * from marts.ab_arm_comparison order by metric, arm")
    first, last = _period(comparison)
    summary = _frame(con, "select * from marts.ab_daily_summary order by decision_date, arm")
    data = ReportData(
        night=night,
        summary=summary,
        comparison=comparison,
        model=model,
        weights=weights,
        holdout=holdout,
        registry=registry,
        arms=_arm_totals(con, summary, first, last),
        nights=[
            r[0]
            for r in con.execute(
                "select decision_date from decisions.user_arms union "
                "select decision_date from decisions.cache_decisions order by 1"
            ).fetchall()
        ],
        last_listen=con.execute("select max(listen_date) from marts.fct_listens").fetchall()[0][0],
        references=_frame(
            con,
            """
            select
                r.decision_date,
                count(*) as covered_requests,
                avg(case when r.is_played_through then 1.0 else 0.0 end) as always_play,
                avg(case when (1 - coalesce(u.user_skip_rate, 0.5) >= 0.5) = r.is_played_through
                    then 1.0 else 0.0 end) as user_history
            from intermediate.int_decision_requests as r
            left join marts.user_features_daily as u
                on r.user_id = u.user_id and r.decision_date = u.feature_date
            where r.arm is not null and r.answered_by = 'pair'
            group by r.decision_date
            order by r.decision_date
            """,
        ),
        correlation=_correlation(con, model, weights),
    )
    data.auc, data.auc_intervals = _auc_comparison(data.holdout)
    data.policies = _frame(
        con,
        """
        select arm, model_version, count(distinct decision_date) as nights
        from decisions.cache_decisions
        where decision_date between ? and ?
        group by arm, model_version
        order by arm, min(decision_date)
        """,
        [first, last],
    )
    if _table_exists(con, "marts", "ab_served_daily_summary"):
        served = _frame(con, "select * from marts.ab_served_daily_summary")
        data.served = served if len(served) else None
    return data


def _arm_totals(
    con: duckdb.DuckDBPyConnection, summary: pd.DataFrame, first: str, last: str
) -> pd.DataFrame:
    """One row per arm over the compared nights: users, requests, hits, storage costs."""
    counts = _frame(
        con,
        """
        with arms as (
            select arm, count(distinct user_id) as users_assigned
            from decisions.user_arms
            where decision_date between ? and ?
            group by arm
        ),
        requests as (
            select
                arm,
                count(*) as requests,
                count(*) filter (where answered_by = 'pair') as covered_requests,
                count(distinct user_id) as users_with_requests,
                count(distinct user_id) filter (where answered_by = 'pair')
                    as users_with_covered_requests,
                count(*) filter (where is_cached) as cache_hits
            from intermediate.int_decision_requests
            where arm is not null and decision_date between ? and ?
            group by arm
        )
        select
            arms.arm,
            arms.users_assigned,
            coalesce(requests.users_with_requests, 0) as users_with_requests,
            coalesce(requests.users_with_covered_requests, 0) as users_with_covered_requests,
            coalesce(requests.requests, 0) as requests,
            coalesce(requests.covered_requests, 0) as covered_requests,
            coalesce(requests.cache_hits, 0) as cache_hits
        from arms
        left join requests on arms.arm = requests.arm
        order by arms.arm
        """,
        [first, last, first, last],
    )
    if counts.empty:
        return counts
    s = summary.copy()
    s["decision_date"] = pd.to_datetime(s["decision_date"])
    s = s[(s["decision_date"] >= pd.Timestamp(first)) & (s["decision_date"] <= pd.Timestamp(last))]
    sums = (
        s.groupby("arm")
        .agg(
            nights=("decision_date", "nunique"),
            cached_pairs=("cached_pairs", "sum"),
            cached_but_skipped_pairs=("cached_but_skipped_pairs", "sum"),
            cached_never_requested_pairs=("cached_never_requested_pairs", "sum"),
            cached_but_skipped_cost=("cached_but_skipped_cost", "sum"),
            cached_never_requested_cost=("cached_never_requested_cost", "sum"),
        )
        .reset_index()
    )
    out = counts.merge(sums, on="arm", how="left")
    out["cache_hit_rate"] = out["cache_hits"] / out["requests"].where(out["requests"] > 0)
    out["wasted_cost"] = out["cached_but_skipped_cost"] + out["cached_never_requested_cost"]
    out["wasted_cost_per_night"] = out["wasted_cost"] / out["nights"].where(out["nights"] > 0)
    user_nights = out["users_assigned"] * out["nights"]
    out["wasted_cost_per_user_night"] = out["wasted_cost"] / user_nights.where(user_nights > 0)
    return out


def _correlation(con: duckdb.DuckDBPyConnection, model: ModelRecord, weights: pd.DataFrame) -> dict:
    """Pearson correlations of the model's features (as the model sees them: log1p of counts,
    booleans as 0/1) over its training rows: the listens from train_start_date to fit_end_date,
    the most recent train_rows of them. Pairwise: a row counts where both values are known."""
    w = weights.sort_values("feature")  # stable order for the SQL; reordered below
    features = list(
        _frame(
            con,
            "select feature from ml.model_weights where model_version = ? "
            "order by feature_position",
            [model.model_version],
        )["feature"]
    )
    transform = dict(zip(w["feature"], w["transform"], strict=True))
    if not features:
        return {"features": [], "matrix": [], "rows": 0}

    def expr(name: str) -> str:
        col = f'"{name}"'
        return f"{prepared_sql(col, transform.get(name, 'none'))} as {col}"

    pairs = [(i, j) for i in range(len(features)) for j in range(i + 1, len(features))]
    aggregates = ", ".join(f'corr("{features[i]}", "{features[j]}")' for i, j in pairs)
    sql = f"""
        with training_rows as (
            select {", ".join(expr(f) for f in features)}
            from marts.training_examples
            where listen_date between ? and ?
            order by listen_date desc, listen_id
            limit ?
        )
        select count(*){", " + aggregates if aggregates else ""} from training_rows
    """
    row = con.execute(
        sql, [model.train_start_date, model.fit_end_date, int(model.train_rows)]
    ).fetchall()[0]
    matrix = np.eye(len(features))
    for k, (i, j) in enumerate(pairs):
        v = row[1 + k]
        matrix[i, j] = matrix[j, i] = np.nan if v is None or not math.isfinite(v) else v
    constant = [f for i, f in enumerate(features) if np.all(np.isnan(np.delete(matrix[i], i)))]
    for i, f in enumerate(features):
        if f in constant:
            matrix[i, i] = np.nan
    return {
        "features": features,
        "matrix": [[None if np.isnan(v) else float(v) for v in r] for r in matrix],
        "rows": int(row[0]),
        "first_date": f"{pd.Timestamp(model.train_start_date):%Y-%m-%d}",
        "last_date": f"{pd.Timestamp(model.fit_end_date):%Y-%m-%d}",
        "without_variance": constant,
    }


def _auc_comparison(holdout: pd.DataFrame) -> tuple[dict, dict]:
    """Hold-out AUC of each policy, and the paired bootstrap 95% interval of the model's AUC
    minus each baseline's (the gate's method), user history included."""
    y = holdout["y_play"].to_numpy()
    if len(np.unique(y)) < 2:
        return {}, {}
    auc = {p: float(roc_auc_score(y, holdout[p].astype(float))) for p in POLICIES}
    boot = PairedAucBootstrap(y, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED)
    model = holdout["model"].astype(float).to_numpy()
    intervals = {
        p: boot.difference(model, holdout[p].astype(float).to_numpy()) for p in POLICIES[1:]
    }
    return auc, intervals


# ---------------------------------------------------------------------------------- charts


def _save(fig: plt.Figure, path: Path) -> str:
    # bbox_inches="tight" keeps legends placed outside the axes inside the image
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path.name


def _arm_colour(arm: str, arms: list[str]) -> str:
    if arm in ARM_COLOURS:
        return ARM_COLOURS[arm]
    others = [a for a in arms if a not in ARM_COLOURS]
    return EXTRA_COLOURS[others.index(arm) % len(EXTRA_COLOURS)]


def wilson(successes: float, n: float) -> tuple[float, float]:
    """95% Wilson score interval of a proportion; (nan, nan) without observations."""
    if not n:
        return math.nan, math.nan
    z = 1.96
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # the interval holds p; clamp the rounding of p = 0 or 1
    return min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def _night_points(data: ReportData) -> dict:
    """Per arm and night: the value, the requests behind it and its 95% interval."""
    s = data.summary.copy()
    s["decision_date"] = pd.to_datetime(s["decision_date"]).dt.date
    nights = sorted(set(data.nights) | set(s["decision_date"]))
    arms = sorted(s["arm"].unique())
    panels = {
        "accuracy": ("accuracy", "covered_requests"),
        "cache_hit_rate": ("cache_hit_rate", "requests"),
    }
    out: dict = {"nights": [f"{n:%Y-%m-%d}" for n in nights], "arms": arms, "panels": {}}
    last = data.last_listen
    for panel, (metric, count) in panels.items():
        points, missing = [], []
        for arm in arms:
            rows = s[s["arm"] == arm].set_index("decision_date")
            for night in nights:
                n = int(rows.at[night, count]) if night in rows.index else 0
                value = rows.at[night, metric] if night in rows.index else None
                if n == 0 or value is None or pd.isna(value):
                    if last is not None and night > last:
                        why = "no listens in the export yet"
                    elif night not in rows.index:
                        why = "no decisions for this arm"
                    elif panel == "accuracy" and int(rows.at[night, "requests"]) > 0:
                        why = "no covered request (no pair decision met a listen)"
                    else:
                        why = "no requests"
                    missing.append({"night": f"{night:%Y-%m-%d}", "arm": arm, "reason": why})
                    continue
                low, high = wilson(round(float(value) * n), n)
                points.append(
                    {
                        "night": f"{night:%Y-%m-%d}",
                        "arm": arm,
                        "value": float(value),
                        "n": n,
                        "low": low,
                        "high": high,
                    }
                )
        out["panels"][panel] = {"points": points, "missing": missing, "n_column": count}
    refs = data.references.copy()
    out["references"] = [
        {
            "night": f"{pd.Timestamp(r.decision_date):%Y-%m-%d}",
            "n": int(r.covered_requests),
            "always_play": float(r.always_play),
            "user_history": float(r.user_history),
        }
        for r in refs.itertuples()
    ]
    return out


def chart_arms(data: ReportData, out: Path, record: dict) -> str:
    pts = _night_points(data)
    record["accuracy_by_arm.png"] = pts
    nights = [pd.Timestamp(n) for n in pts["nights"]]
    arms = pts["arms"]
    fig, axes = plt.subplots(2, 1, figsize=(11, 8.5), sharex=True)
    titles = {
        "accuracy": "Accuracy of the pair decisions (share of covered requests decided right)",
        "cache_hit_rate": "Cache hit rate (share of all requests that found the track cached)",
    }
    ylabels = {
        "accuracy": "accuracy (% of covered requests)",
        "cache_hit_rate": "cache hit rate (% of requests)",
    }
    width = pd.Timedelta(hours=5)
    offsets = {a: (i - (len(arms) - 1) / 2) * width for i, a in enumerate(arms)}
    for ax, (panel, content) in zip(axes, pts["panels"].items(), strict=True):
        max_n = max([q["n"] for q in content["points"]] or [1])

        def size(n: float, max_n: int = max_n) -> float:
            return 12 + 238 * n / max_n

        if content["missing"]:
            ax.axhspan(1.045, 1.16, color="#eeeeee", zorder=0)
        if not content["points"]:
            ax.text(
                0.5,
                0.5,
                f"no night has data: {content['missing'][0]['reason']}"
                if content["missing"]
                else "no data",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=11,
                color="#555555",
            )
        for arm in arms:
            colour = _arm_colour(arm, arms)
            p = [q for q in content["points"] if q["arm"] == arm]
            if p:
                x = [pd.Timestamp(q["night"]) + offsets[arm] for q in p]
                y = np.array([q["value"] for q in p])
                err = np.clip(
                    np.array(
                        [[q["value"] - q["low"] for q in p], [q["high"] - q["value"] for q in p]]
                    ),
                    0,
                    None,
                )
                ax.errorbar(
                    x,
                    y,
                    yerr=err,
                    fmt="none",
                    ecolor=colour,
                    elinewidth=1.2,
                    capsize=2,
                    alpha=0.8,
                    clip_on=False,
                )
                ax.plot(x, y, color=colour, linewidth=0.8, alpha=0.5)
                ax.scatter(
                    x,
                    y,
                    s=[size(q["n"]) for q in p],
                    color=colour,
                    edgecolor="white",
                    linewidth=0.6,
                    zorder=3,
                    clip_on=False,
                )
            m = [q for q in content["missing"] if q["arm"] == arm]
            if m:
                ax.scatter(
                    [pd.Timestamp(q["night"]) + offsets[arm] for q in m],
                    [1.10] * len(m),
                    marker="x",
                    color=colour,
                    s=30,
                    zorder=3,
                    clip_on=False,
                )
        handles = [
            Line2D([], [], color=_arm_colour(a, arms), marker="o", linestyle="-", label=f"{a} arm")
            for a in arms
        ]
        if panel == "accuracy" and pts["references"]:
            rx = [pd.Timestamp(r["night"]) for r in pts["references"]]
            ax.plot(
                rx,
                [r["always_play"] for r in pts["references"]],
                color="black",
                linestyle=":",
                marker="_",
                linewidth=1.2,
            )
            ax.plot(
                rx,
                [r["user_history"] for r in pts["references"]],
                color=OKABE_ITO["green"],
                linestyle="-.",
                marker="_",
                linewidth=1.2,
            )
            handles += [
                Line2D(
                    [],
                    [],
                    color="black",
                    linestyle=":",
                    label="always play (all arms' covered requests)",
                ),
                Line2D(
                    [],
                    [],
                    color=OKABE_ITO["green"],
                    linestyle="-.",
                    label="user history rule (cache if past\nskip rate < 50%), same requests",
                ),
            ]
        handles.append(
            Line2D(
                [],
                [],
                color=GREY,
                marker="|",
                linestyle="none",
                markersize=12,
                label="95% interval (Wilson)",
            )
        )
        if content["missing"]:
            handles.append(
                Line2D(
                    [],
                    [],
                    color=GREY,
                    marker="x",
                    linestyle="none",
                    label="no data that night (arm colour)",
                )
            )
        noun = "covered requests" if panel == "accuracy" else "requests"
        sizes = {max(1, round(max_n / 10)), max(1, round(max_n / 2)), max_n}
        for n in sorted(sizes) if content["points"] else []:
            handles.append(
                Line2D(
                    [],
                    [],
                    color=GREY,
                    marker="o",
                    linestyle="none",
                    markersize=math.sqrt(size(n)),
                    label=f"{n:,} {noun}",
                )
            )
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            fontsize=8,
            title="marker area = requests behind it",
            title_fontsize=8,
        )
        ax.set_ylim(-0.03, 1.16)
        ticks = list(np.linspace(0, 1, 6))
        labels = [f"{100 * t:.0f}%" for t in ticks]
        if content["missing"]:
            ticks, labels = ticks + [1.10], labels + ["no data"]
        ax.set_yticks(ticks, labels)
        ax.set_ylabel(ylabels[panel])
        ax.set_title(titles[panel], fontsize=11)
        ax.grid(axis="y", alpha=0.3)
        if nights:
            ax.set_xlim(nights[0] - pd.Timedelta(hours=18), nights[-1] + pd.Timedelta(hours=18))
    axes[1].set_xticks(nights, [f"{n:%m-%d}" for n in nights], rotation=45)
    axes[1].set_xlabel(f"night (decision date, {nights[0]:%Y} onwards)" if nights else "night")
    fig.tight_layout()
    return _save(fig, out / "accuracy_by_arm.png")


def chart_weights(data: ReportData, out: Path, record: dict) -> str:
    w = data.weights.iloc[::-1]
    record["feature_weights.png"] = {
        "model_version": data.model.model_version,
        "weights": {f: float(v) for f, v in zip(w["feature"], w["weight"], strict=True)},
    }
    fig, ax = plt.subplots(figsize=(9, max(4, 0.28 * len(w) + 1)))
    positive = w["weight"] > 0
    colours = [OKABE_ITO["blue"] if p else OKABE_ITO["vermillion"] for p in positive]
    bars = ax.barh(w["feature"], w["weight"], color=colours)
    for bar, p in zip(bars, positive, strict=True):
        if not p:
            bar.set_hatch("///")
            bar.set_edgecolor("white")
    ax.bar_label(bars, labels=[f"{v:+.3f}" for v in w["weight"]], fontsize=7, padding=2)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_title(
        f"Model for the night of {pd.Timestamp(data.model.decision_date):%Y-%m-%d} "
        f"({data.model.model_version}): weight per feature",
        fontsize=11,
    )
    ax.set_xlabel("weight: change in the SVC margin per standard deviation of the feature")
    ax.set_ylabel("feature (counts as log(1 + count))")
    ax.margins(x=0.15, y=0.01)
    ax.legend(
        handles=[
            Patch(color=OKABE_ITO["blue"], label="> 0: towards a play-through"),
            Patch(
                facecolor=OKABE_ITO["vermillion"],
                hatch="///",
                edgecolor="white",
                label="< 0: towards a skip",
            ),
        ],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    fig.tight_layout()
    return _save(fig, out / "feature_weights.png")


def chart_correlation(data: ReportData, out: Path, record: dict) -> str:
    c = data.correlation
    record["feature_correlation.png"] = {"model_version": data.model.model_version, **c}
    features = c["features"]
    k = max(1, len(features))
    fig, ax = plt.subplots(figsize=(max(6, 0.3 * k + 3), max(5, 0.3 * k + 2)))
    matrix = np.array([[np.nan if v is None else v for v in r] for r in c["matrix"]], dtype=float)
    if features:
        cmap = plt.get_cmap("PuOr_r").copy()
        cmap.set_bad("#dddddd")
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=-1, vmax=1)
        ax.set_xticks(range(k), features, rotation=90, fontsize=7)
        ax.set_yticks(range(k), features, fontsize=7)
        for i in range(k):
            for j in range(k):
                v = matrix[i, j]
                if i != j and np.isfinite(v) and abs(v) >= 0.5:
                    ax.text(
                        j,
                        i,
                        f"{v:.1f}",
                        ha="center",
                        va="center",
                        fontsize=5,
                        color="white" if abs(v) > 0.75 else "black",
                    )
        bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
        bar.set_label("Pearson correlation (-1 to 1)")
    note = (
        f" Grey: no variance ({', '.join(c['without_variance'])})."
        if c.get("without_variance")
        else ""
    )
    ax.set_title(
        f"Correlation of the model's training features ({c.get('rows', 0):,} listens, "
        f"{c.get('first_date', '')} to {c.get('last_date', '')})\n"
        f"counts as log(1 + count); |r| >= 0.5 printed.{note}",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, out / "feature_correlation.png")


def chart_roc(data: ReportData, out: Path, record: dict) -> str:
    y = data.holdout["y_play"].to_numpy()
    fig, ax = plt.subplots(figsize=(9.5, 6))
    curves = {}
    if len(np.unique(y)) == 2:
        for name in POLICIES:
            p = data.holdout[name].astype(float).to_numpy()
            fpr, tpr, _ = roc_curve(y, p)
            auc = float(roc_auc_score(y, p))
            keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
            curves[name] = {"auc": auc, "fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()}
            ax.plot(
                fpr,
                tpr,
                color=POLICY_COLOURS[name],
                linestyle=POLICY_STYLES[name],
                linewidth=2 if name == "model" else 1.4,
                clip_on=False,
                label=f"{POLICY_LABELS[name]}: AUC {auc:.3f}",
            )
    record["roc.png"] = {
        "model_version": data.model.model_version,
        "listens": int(len(y)),
        "played_through": int(y.sum()),
        "curves": curves,
    }
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("false play-through rate (% of skipped listens predicted to play)")
    ax.set_ylabel("true play-through rate (% of plays predicted to play)")
    ax.set_title(
        f"Hold-out ROC: {len(y):,} listens, {int(y.sum()):,} played through\n"
        "(always play has no ranking: the diagonal)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=9)
    fig.tight_layout()
    return _save(fig, out / "roc.png")


def chart_calibration(data: ReportData, out: Path, record: dict) -> str:
    y = data.holdout["y_play"].to_numpy()
    fig, ax = plt.subplots(figsize=(9.5, 6))
    series = {}
    handles = []
    for name in reversed(POLICIES):  # always play first, the model on top
        p = np.clip(data.holdout[name].astype(float).to_numpy(), 0, 1)
        if not len(p):
            continue
        values = np.unique(p)
        if len(values) <= 10:  # a rule with few distinct scores: one bin per score
            group = np.searchsorted(values, p)
        else:  # up to 10 equal-count bins
            edges = np.unique(np.quantile(p, np.linspace(0, 1, 11)))
            group = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
        bins = []
        for g in np.unique(group):
            inside = group == g
            bins.append(
                {
                    "mean_predicted": float(p[inside].mean()),
                    "observed": float(y[inside].mean()),
                    "n": int(inside.sum()),
                }
            )
        series[name] = bins
        ax.plot(
            [b["mean_predicted"] for b in bins],
            [b["observed"] for b in bins],
            color=POLICY_COLOURS[name],
            linestyle=POLICY_STYLES[name],
            linewidth=1,
            alpha=0.8,
        )
        hollow = name == "constant"
        ax.scatter(
            [b["mean_predicted"] for b in bins],
            [b["observed"] for b in bins],
            s=[12 + 240 * b["n"] / len(y) for b in bins],
            facecolor="none" if hollow else POLICY_COLOURS[name],
            edgecolor=POLICY_COLOURS[name] if hollow else "white",
            linewidth=1.5 if hollow else 0.6,
            zorder=3,
            clip_on=False,
        )
        handles.insert(
            0,
            Line2D(
                [],
                [],
                color=POLICY_COLOURS[name],
                linestyle=POLICY_STYLES[name],
                marker="o",
                markerfacecolor="none" if hollow else POLICY_COLOURS[name],
                label=f"{POLICY_LABELS[name]} ({len(bins)} bin{'s' * (len(bins) > 1)})",
            ),
        )
    record["calibration.png"] = {
        "model_version": data.model.model_version,
        "listens": int(len(y)),
        "bins": series,
    }
    ax.plot([0, 1], [0, 1], color=GREY, linestyle=(0, (1, 3)))
    handles.append(Line2D([], [], color=GREY, linestyle=(0, (1, 3)), label="perfectly calibrated"))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("predicted probability of a play-through (bin mean)")
    ax.set_ylabel("observed play-through rate in the bin")
    ax.set_title(
        f"Hold-out calibration: {len(y):,} listens, up to 10 equal-count bins\n"
        "(marker area = listens in the bin)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=9
    )
    fig.tight_layout()
    return _save(fig, out / "calibration.png")


def chart_leakage(data: ReportData, out: Path, record: dict) -> str:
    r = data.registry.dropna(subset=["seed_replica_accuracy"]).drop_duplicates("model_version")
    rows = [
        {
            "model_version": x.model_version,
            "decision_date": f"{pd.Timestamp(x.decision_date):%Y-%m-%d}",
            "train_end_date": f"{pd.Timestamp(x.train_end_date):%Y-%m-%d}",
            "holdout_rows": int(x.holdout_rows),
            "seed_replica_accuracy": float(x.seed_replica_accuracy),
            "model_accuracy": float(x.model_accuracy),
            "constant_accuracy": float(x.constant_accuracy),
            "user_history_accuracy": float(x.user_history_accuracy),
        }
        for x in r.itertuples()
    ]
    record["leakage_gap.png"] = {"models": rows}
    fig, ax = plt.subplots(figsize=(max(7, 2.2 * len(rows) + 2), 5))
    x = np.arange(len(rows))
    bars = [
        (
            "seed_replica_accuracy",
            -0.2,
            OKABE_ITO["vermillion"],
            "///",
            "seed's way (skip rates over all rows, random split): leaky",
        ),
        ("model_accuracy", 0.2, OKABE_ITO["blue"], None, "honest hold-out (later days)"),
    ]
    for key, dx, colour, hatch, label in bars:
        values = [row[key] for row in rows]
        drawn = ax.bar(
            x + dx, values, 0.4, color=colour, hatch=hatch, edgecolor="white", label=label
        )
        ax.bar_label(drawn, labels=[f"{100 * v:.1f}%" for v in values], fontsize=8, padding=2)
    for i, row in enumerate(rows):
        ax.hlines(
            row["constant_accuracy"],
            i - 0.45,
            i + 0.45,
            color="black",
            linestyle=":",
            linewidth=1.8,
            label="always play" if i == 0 else None,
        )
        ax.hlines(
            row["user_history_accuracy"],
            i - 0.45,
            i + 0.45,
            color=OKABE_ITO["green"],
            linestyle="-.",
            linewidth=1.8,
            label="user history (past skip rate)" if i == 0 else None,
        )
        low_is_constant = row["constant_accuracy"] <= row["user_history_accuracy"]
        for key, name, below in (
            ("constant_accuracy", "always play", low_is_constant),
            ("user_history_accuracy", "user history", not low_is_constant),
        ):
            ax.annotate(
                f"{name} {100 * row[key]:.1f}%",
                (i + 0.45, row[key]),
                xytext=(3, -9 if below else 3),
                textcoords="offset points",
                fontsize=7,
                color="black" if name == "always play" else OKABE_ITO["green"],
            )
    ax.set_xticks(
        x,
        [
            f"night {row['decision_date']}\ntrained to {row['train_end_date']}\n"
            f"hold-out: {row['holdout_rows']:,} listens"
            for row in rows
        ],
        fontsize=8,
    )
    ax.set_xlabel("model, by the night it was trained for")
    ax.set_ylim(0, 1.1)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("accuracy (% of listens predicted right)")
    ax.set_title("The leakage gap: the seed's evaluation against an honest one", fontsize=11)
    ax.set_xlim(-0.6, len(rows) - 0.4 + 0.35)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), frameon=False, fontsize=9, ncol=2)
    fig.tight_layout()
    return _save(fig, out / "leakage_gap.png")


# ---------------------------------------------------------------------------------- verdict


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _pts(v: float) -> str:
    return f"{100 * v:+.1f} points"


def _cost(v: float) -> str:
    return f"{v:,.2f}"


def _interval_words(low: float, high: float, scale: float = 100.0, unit: str = "") -> str:
    """'95% interval a to b, which excludes zero' in plain words."""
    fmt = (lambda v: f"{scale * v:+.1f}") if scale == 100.0 else (lambda v: f"{v:+.3f}")
    if low > 0 or high < 0:
        where = "which excludes zero"
    else:
        where = "which includes zero: no difference is measurable"
    return f"95% interval {fmt(low)} to {fmt(high)}{unit}, {where}"


def _arm_row(data: ReportData, arm: str) -> dict | None:
    rows = data.arms[data.arms["arm"] == arm] if len(data.arms) else data.arms
    return rows.iloc[0].to_dict() if len(rows) else None


def _enough(row: dict | None, users: str, requests: str) -> bool:
    return bool(row) and row[users] >= MIN_USERS_PER_ARM and row[requests] >= MIN_REQUESTS_PER_ARM


def verdict(data: ReportData) -> list[str]:
    """The verdict in plain words: the A/B result (or why there is none), each difference with
    whether its interval excludes zero, what the arms' caching cost and bought, and the model
    against every baseline on its hold-out."""
    lines = []
    cmp = data.comparison
    acc = cmp[(cmp["metric"] == "accuracy") & (cmp["arm"] == "model")]
    hits = cmp[(cmp["metric"] == "cache_hit_rate") & (cmp["arm"] == "model")]
    if not len(acc) or not len(hits) or int(hits.iloc[0]["requests"]) == 0:
        lines.append(
            "**No A/B outcome yet.** No night with decisions has its listens loaded yet; the "
            "comparison appears once the next day's data is in (or after a backfill)."
        )
    else:
        lines += _ab_paragraphs(data, acc.iloc[0], hits.iloc[0])
    cost = _cost_paragraph(data, hits.iloc[0] if len(hits) else None)
    if cost:
        lines.append(cost)
    lines.append(_model_paragraph(data))
    m = data.model
    if m.seed_replica_accuracy is not None:
        lines.append(
            f"The seed's way of measuring (skip rates over all rows, random split) would "
            f"report {_pct(m.seed_replica_accuracy)} accuracy on the same data; measured "
            f"honestly on later days it is {_pct(m.metric('model', 'accuracy'))}, against "
            f"{_pct(m.metric('constant', 'accuracy'))} for always predicting a play-through and "
            f"{_pct(m.metric('user_history', 'accuracy'))} for the user's past skip rate. "
            f"The gap is leakage, not skill."
        )
    return lines


def _ab_paragraphs(data: ReportData, c: pd.Series, h: pd.Series) -> list[str]:
    ref = c["reference_arm"]
    span = (
        f"{int(c['nights'])} nights ({pd.Timestamp(c['first_night']):%Y-%m-%d} to "
        f"{pd.Timestamp(c['last_night']):%Y-%m-%d})"
    )
    model_row, ref_row = _arm_row(data, "model"), _arm_row(data, ref)
    arms_text = "; ".join(
        f"{r['arm']} arm: {int(r['users_assigned']):,} users assigned, "
        f"{int(r['users_with_requests']):,} with requests, {int(r['requests']):,} requests, "
        f"{int(r['covered_requests']):,} of them covered by a pair decision "
        f"(from {int(r['users_with_covered_requests']):,} users)"
        for r in (data.arms.to_dict("records") if len(data.arms) else [])
    )
    lines = []
    covered = int(c["requests"]), int(c["reference_requests"] or 0)
    if min(covered) == 0:
        lines.append(
            f"**The decisions cannot be compared yet.** Over {span}, "
            f"{covered[0]:,} of the model arm's {int(h['requests']):,} requests and "
            f"{covered[1]:,} of the {ref} arm's {int(h['reference_requests']):,} were answered "
            f"by a pair decision: the candidate pairs did not include what the users went on to "
            f"play, so there is no accuracy to compare. The other requests were answered by the "
            f"per-track defaults. Widen the candidates (vars candidate_*) before reading an A/B "
            f"result."
        )
    else:
        enough = _enough(model_row, "users_with_covered_requests", "covered_requests") and _enough(
            ref_row, "users_with_covered_requests", "covered_requests"
        )
        numbers = (
            f"the model arm's pair decisions were right for {_pct(c['metric_value'])} of its "
            f"{covered[0]:,} covered requests ({int(c['user_count']):,} users), the {ref} arm's "
            f"for {_pct(c['reference_metric_value'])} of {covered[1]:,} "
            f"({int(c['reference_user_count']):,} users): a difference of "
            f"{_pts(c['difference'])} "
            f"({_interval_words(c['difference_low'], c['difference_high'])})."
        )
        if not enough:
            lines.append(
                f"**Too little data to pick a winner.** Over {span}, {numbers} An arm needs at "
                f"least {MIN_USERS_PER_ARM} users and {MIN_REQUESTS_PER_ARM} requests covered by "
                f"pair decisions before its interval can be trusted (users, not requests, are "
                f"the independent units), so this report names no winner: keep collecting "
                f"nights."
            )
        elif c["difference_low"] > 0:
            lines.append(
                f"**The model's decisions were right more often than the {ref} "
                f"rule's.** Over {span}, {numbers}"
            )
        elif c["difference_high"] < 0:
            lines.append(
                f"**The model's decisions were right less often than the {ref} "
                f"rule's.** Over {span}, {numbers}"
            )
        else:
            lines.append(
                f"**The data cannot tell the model's decisions from the {ref} "
                f"rule's.** Over {span}, {numbers}"
            )
    if arms_text:
        lines.append(f"Arms: {arms_text}.")
    model_policies = data.policies[data.policies["arm"] == "model"] if len(data.policies) else []
    if len(model_policies) and not model_policies["model_version"].str.startswith("svc-").all():
        used = ", ".join(
            f"{r.model_version} on {int(r.nights)} night{'s' * (r.nights > 1)}"
            for r in model_policies.itertuples()
        )
        how = (
            "never"
            if not model_policies["model_version"].str.startswith("svc-").any()
            else "not always"
        )
        lines.append(
            f"Note: the model arm was {how} decided by a promoted model ({used}); where a "
            f"baseline decided, this A/B compares that baseline with the {ref} rule, not the "
            f"model."
        )
    enough_hits = _enough(model_row, "users_with_requests", "requests") and _enough(
        ref_row, "users_with_requests", "requests"
    )
    if (
        h["difference_low"] == h["difference_high"] == 0
        and h["metric_value"] == h["reference_metric_value"]
    ):
        hit_text = (
            f"Cache hit rate: both arms found the track cached for {_pct(h['metric_value'])} of "
            f"their requests ({int(h['requests']):,} and {int(h['reference_requests']):,}); "
            f"there is no difference to measure."
        )
    else:
        hit_text = (
            f"Cache hit rate: the model arm found the track cached for "
            f"{_pct(h['metric_value'])} of its {int(h['requests']):,} requests, the {ref} arm "
            f"for {_pct(h['reference_metric_value'])} of {int(h['reference_requests']):,}: "
            f"{_pts(h['difference'])} "
            f"({_interval_words(h['difference_low'], h['difference_high'])})."
        )
    if not enough_hits:
        hit_text += " Too few users to conclude either way."
    lines.append(hit_text)
    return lines


def _cost_paragraph(data: ReportData, h: pd.Series | None) -> str | None:
    if not len(data.arms) or data.arms["nights"].isna().all():
        return None
    parts = []
    for r in data.arms.to_dict("records"):
        if pd.isna(r["nights"]):
            continue
        parts.append(
            f"{r['arm']} arm: {_cost(r['cached_but_skipped_cost'])} on "
            f"{int(r['cached_but_skipped_pairs']):,} pairs cached but skipped and "
            f"{_cost(r['cached_never_requested_cost'])} on "
            f"{int(r['cached_never_requested_pairs']):,} pairs cached but never requested, "
            f"{_cost(r['wasted_cost_per_night'])} a night "
            f"({r['wasted_cost_per_user_night']:.4f} per assigned user a night)"
        )
    text = (
        "Storage cost of caching that was not used, in the export's unit (track_storage's "
        "daily_cost: the cost of keeping a track stored for one day; the export names no "
        "currency), summed over the cached (user, track) pairs of every night: "
        + "; ".join(parts)
        + "."
    )
    model_row = _arm_row(data, "model")
    ref = h["reference_arm"] if h is not None else "naive"
    ref_row = _arm_row(data, ref)
    if model_row and ref_row and ref_row["wasted_cost_per_user_night"]:
        ratio = model_row["wasted_cost_per_user_night"] / ref_row["wasted_cost_per_user_night"]
        text += (
            f" Per user and night, the model arm spent {ratio:.1f} times what the {ref} arm "
            f"spent on unused caching."
        )
        if h is not None and int(h["requests"]) > 0:
            if h["metric_value"] == h["reference_metric_value"]:
                bought = f"nothing: both arms' cache hit rate was {_pct(h['metric_value'])}"
            elif h["difference_low"] > 0:
                bought = (
                    f"a cache hit rate {100 * h['difference']:.1f} points higher "
                    f"(interval above zero)"
                )
            elif h["difference_high"] < 0:
                bought = (
                    f"a cache hit rate {100 * -h['difference']:.1f} points lower "
                    f"(interval below zero): it paid more for less"
                )
            else:
                bought = (
                    f"no measurable change in cache hit rate ({_pts(h['difference'])}, "
                    f"interval includes zero)"
                )
            text += f" What that bought: {bought}."
    return text


def _model_paragraph(data: ReportData) -> str:
    m = data.model
    names = {
        "naive": "the naive rule",
        "constant": "always play",
        "user_history": "the user's past skip rate",
    }
    parts, ties = [], []
    model_auc = data.auc.get("model", m.metric("model", "roc_auc"))
    for base, label in names.items():
        auc = data.auc.get(base, m.metric(base, "roc_auc"))
        interval = data.auc_intervals.get(base)
        if auc is None or pd.isna(auc) or model_auc is None or pd.isna(model_auc):
            continue
        diff = model_auc - auc
        if interval is None:
            parts.append(f"{label} {auc:.3f} ({diff:+.3f})")
            continue
        low, high = interval
        words = "beats" if low > 0 else "loses to" if high < 0 else "only ties"
        if words == "only ties":
            ties.append(label)
        parts.append(
            f"it {words} {label} ({auc:.3f}; difference {diff:+.3f}, "
            f"{_interval_words(low, high, scale=1.0)})"
        )
    listens = f"{int(m.holdout_rows):,} listens"
    window = (
        f"{pd.Timestamp(m.holdout_start_date):%Y-%m-%d} to "
        f"{pd.Timestamp(m.holdout_end_date):%Y-%m-%d}"
    )
    if m.promoted:
        who = f"The model behind the last decisions, {m.model_version}, passed"
        then = ""
    else:
        who = f"The newest model, {m.model_version}, did not pass"
        then = f" The model arm decided with {m.decision_policy} instead."
    auc_text = f"{model_auc:.3f}" if model_auc is not None and pd.notna(model_auc) else "n/a"
    text = (
        f"{who} the gate on its hold-out ({listens}, {window}). Its AUC was {auc_text}: "
        + "; ".join(parts)
        + f". Gate reason: {m.reason}.{then}"
    )
    if ties:
        text += (
            f" Said plainly: the model adds nothing measurable over {' or '.join(ties)} on "
            f"this hold-out."
        )
    return text


# ---------------------------------------------------------------------------------- page


@dataclass
class Block:
    kind: str  # h1, h2, h3, p, ul, table, img
    text: str = ""
    items: list = field(default_factory=list)
    columns: list = field(default_factory=list)


def _format_cell(column: str, v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return ""
    if isinstance(v, pd.Timestamp | date):
        return f"{pd.Timestamp(v):%Y-%m-%d}"
    if isinstance(v, bool | np.bool_):
        return str(bool(v)).lower()
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, float | np.floating):
        if column.endswith("cost") or "cost_per" in column:
            return f"{v:,.4f}" if abs(v) < 1 else f"{v:,.2f}"
        if any(
            k in column
            for k in ("difference", "accuracy", "rate", "precision", "recall", "metric_value")
        ):
            return f"{100 * v:.1f}%" if "difference" not in column else f"{100 * v:+.1f} pts"
        return f"{v:,.3f}"
    return str(v)


def _table_block(frame: pd.DataFrame, columns: list[str]) -> Block:
    columns = [c for c in columns if c in frame.columns]
    rows = [[_format_cell(c, r[c]) for c in columns] for _, r in frame[columns].iterrows()]
    return Block("table", columns=columns, items=rows)


def served_blocks(served: pd.DataFrame | None) -> list[Block]:
    """What the cache service served, per arm, from marts.ab_served_daily_summary (its columns
    read from the warehouse: counts summed over the nights, the rates recomputed from them)."""
    if served is None or served.empty:
        return []
    frame = served.copy()
    frame["arm"] = frame["arm"].fillna("(no arm)") if "arm" in frame else "(all)"
    counts = [
        c for c in frame.columns if pd.api.types.is_integer_dtype(frame[c]) and c not in ("arm",)
    ]
    per_arm = frame.groupby("arm")[counts].sum().reset_index()
    weighted = {
        "accuracy": "listened_answers",
        "cache_hit_rate": "listened_answers",
        "cache_precision": "cache_hits",
    }
    for rate, weight in weighted.items():
        if rate in frame and weight in frame:
            num = (frame[rate].fillna(0) * frame[weight]).groupby(frame["arm"]).sum()
            den = frame[weight].groupby(frame["arm"]).sum()
            per_arm[rate] = per_arm["arm"].map((num / den.where(den > 0)).to_dict())
    if "users" in per_arm:
        per_arm = per_arm.rename(columns={"users": "user_nights"})
    nights = frame["decision_date"].nunique() if "decision_date" in frame else 0
    columns = ["arm"] + [c for c in per_arm.columns if c != "arm"]
    return [
        Block("h2", "What was served"),
        Block(
            "p",
            f"The answers the cache service actually gave, per arm, over {nights} nights "
            f"(marts.ab_served_daily_summary: counts summed over nights and endpoints; "
            f"user_nights counts a user once per night and endpoint; accuracy, cache hit rate "
            f"and precision recomputed from the summed counts).",
        ),
        _table_block(per_arm, columns),
    ]


def build_blocks(data: ReportData, charts: dict[str, str]) -> list[Block]:
    blocks = [
        Block("h1", f"skipcache report: nights up to {data.night:%Y-%m-%d}"),
        Block("h2", "Verdict"),
    ]
    blocks += [Block("p", p) for p in verdict(data)]
    if len(data.arms):
        blocks += [
            Block("h2", "Arms over the period"),
            _table_block(
                data.arms,
                [
                    "arm",
                    "users_assigned",
                    "users_with_requests",
                    "users_with_covered_requests",
                    "requests",
                    "covered_requests",
                    "cache_hits",
                    "cache_hit_rate",
                    "nights",
                    "cached_pairs",
                    "cached_but_skipped_pairs",
                    "cached_but_skipped_cost",
                    "cached_never_requested_pairs",
                    "cached_never_requested_cost",
                    "wasted_cost_per_night",
                    "wasted_cost_per_user_night",
                ],
            ),
        ]
    blocks += [
        Block("h2", "A/B differences (each arm against the reference)"),
        _table_block(
            data.comparison,
            [
                "metric",
                "arm",
                "reference_arm",
                "user_count",
                "reference_user_count",
                "requests",
                "reference_requests",
                "metric_value",
                "reference_metric_value",
                "difference",
                "difference_low",
                "difference_high",
            ],
        ),
    ]
    blocks += served_blocks(data.served)
    blocks += [
        Block("h2", "Night by night"),
        _table_block(
            data.summary,
            [
                "decision_date",
                "arm",
                "requests",
                "covered_requests",
                "accuracy",
                "cache_hit_rate",
                "cached_pairs",
                "cached_but_skipped_pairs",
                "cached_never_requested_pairs",
                "cached_but_skipped_cost",
                "cached_never_requested_cost",
            ],
        ),
    ]
    blocks.append(Block("h2", "Charts"))
    for title, file in charts.items():
        blocks += [Block("h3", title), Block("img", title, items=[file])]
    blocks += [
        Block("h2", "How to read this"),
        Block(
            "ul",
            items=[
                "A request is a listen on a decided night; the arm's decision for that user and "
                "track (or the track's default when the pair was not a candidate) said whether it "
                "was cached. A covered request is one answered by a pair decision.",
                "Accuracy counts covered requests: right when a cached track was played through or "
                "an uncached one skipped. Cache hit rate counts every request.",
                "Intervals are 95%. A/B intervals treat users as the independent units "
                "(cluster-robust); an interval that includes zero means no difference is "
                "measurable. With fewer than "
                f"{MIN_USERS_PER_ARM} users or {MIN_REQUESTS_PER_ARM} requests in an arm, no "
                "winner is named.",
                "Hold-out figures come from days after the model's training data (no leakage); "
                "AUC intervals are a paired bootstrap of the hold-out "
                f"({BOOTSTRAP_RESAMPLES} resamples).",
                "Costs are track_storage.daily_cost (the export's unit, per track and day), "
                "summed per cached (user, track) pair and night, as marts.ab_daily_summary does.",
            ],
        ),
    ]
    return blocks


def render_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            lines += ["#" * int(b.kind[1]) + " " + b.text, ""]
        elif b.kind == "p":
            lines += [b.text, ""]
        elif b.kind == "ul":
            lines += [f"- {item}" for item in b.items] + [""]
        elif b.kind == "table":
            lines += ["| " + " | ".join(b.columns) + " |", "|" + "---|" * len(b.columns)]
            lines += ["| " + " | ".join(row) + " |" for row in b.items] + [""]
        elif b.kind == "img":
            lines += [f"![{b.text}]({b.items[0]})", ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
table { border-collapse: collapse; font-size: 0.8rem; margin: 0.5rem 0 1.5rem; display: block;
        overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.45rem; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; height: auto; border: 1px solid #e5e5e5; }
figure { margin: 0 0 2rem; }
"""


def render_html(blocks: list[Block], out: Path) -> str:
    """One self-contained page: styles inline, charts as base64 data URIs, no script, no
    external resource."""
    title = next((b.text for b in blocks if b.kind == "h1"), "skipcache report")
    body: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            body.append(f"<{b.kind}>{_inline(b.text)}</{b.kind}>")
        elif b.kind == "p":
            body.append(f"<p>{_inline(b.text)}</p>")
        elif b.kind == "ul":
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "table":
            head = "".join(f"<th>{html.escape(c)}</th>" for c in b.columns)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
                for row in b.items
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif b.kind == "img":
            file = b.items[0]
            encoded = base64.b64encode((out / file).read_bytes()).decode("ascii")
            body.append(
                f'<figure><img src="data:image/png;base64,{encoded}" '
                f'alt="{html.escape(b.text)}" data-file="{html.escape(file)}">'
                f"<figcaption>{html.escape(file)}</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def write_index(reports: Path) -> Path:
    """reports/index.html: a link to every night's report, newest first."""
    nights = sorted(
        (p.name for p in reports.iterdir() if p.is_dir() and (p / "index.html").exists()),
        reverse=True,
    )
    items = "".join(
        f'<li><a href="{n}/index.html">{n}</a> (<a href="{n}/summary.md">summary.md</a>)</li>'
        for n in nights
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>skipcache reports</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>skipcache reports</h1>\n<p>One report per last decided night.</p>\n"
        f"<ul>{items}</ul>\n</body>\n</html>\n"
    )
    path = reports / "index.html"
    path.write_text(page)
    return path


CHARTS = {
    "Accuracy and cache hit rate by arm, night by night": chart_arms,
    "Feature weights": chart_weights,
    "Feature correlation (training rows)": chart_correlation,
    "ROC on the hold-out": chart_roc,
    "Calibration on the hold-out": chart_calibration,
    "Leakage gap": chart_leakage,
}


def _registry_row(data: ReportData) -> dict:
    """The reported model's ml.model_registry row as report.json has always shown it (the
    registry frame's values: timestamps for dates, NaN for a missing number)."""
    rows = data.registry[data.registry["model_version"] == data.model.model_version]
    return rows.iloc[-1].to_dict()


def write_report(paths: Paths) -> Path:
    con = duckdb.connect(str(paths.require_warehouse()), read_only=True)
    try:
        data = load(con)
    finally:
        con.close()
    out = paths.reports / f"{data.night:%Y-%m-%d}"
    out.mkdir(parents=True, exist_ok=True)
    record: dict = {}
    charts = {title: draw(data, out, record) for title, draw in CHARTS.items()}
    blocks = build_blocks(data, charts)
    (out / "summary.md").write_text(render_markdown(blocks))
    (out / "index.html").write_text(render_html(blocks, out))
    (out / "charts.json").write_text(json.dumps(record, indent=1, default=str))
    (out / "report.json").write_text(
        json.dumps(
            {
                "night": str(data.night),
                "model": _registry_row(data),
                "charts": charts,
                "verdict": verdict(data),
            },
            default=str,
            indent=2,
        )
    )
    write_index(paths.reports)
    return out
