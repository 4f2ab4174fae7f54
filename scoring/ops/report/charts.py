"""The report's charts: each drawn from ReportData, saved as a PNG, its numbers kept for
charts.json (tests read these, not pixels). Only this module imports matplotlib."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

from scoring.ops.report.data import POLICIES, ReportData  # noqa: E402

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
