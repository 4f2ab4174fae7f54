"""The report's page: blocks of text, tables and charts, written as summary.md and a
self-contained index.html, and the index of the nights' reports."""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from scoring.config import Paths
from scoring.ops.report.charts import (
    chart_arms,
    chart_calibration,
    chart_correlation,
    chart_leakage,
    chart_roc,
    chart_weights,
)
from scoring.ops.report.data import (
    BOOTSTRAP_RESAMPLES,
    MIN_REQUESTS_PER_ARM,
    MIN_USERS_PER_ARM,
    ReportData,
    load,
)
from scoring.ops.report.verdict import verdict


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
