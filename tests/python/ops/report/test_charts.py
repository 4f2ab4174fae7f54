"""The report's charts (scoring/ops/report/charts.py): the interval behind each point, and
every chart drawn, as a PNG, by `skipcache report` on the replayed warehouse."""

from __future__ import annotations

import math

from helpers import REPLAYED_NIGHTS, REPORT_CHARTS

from scoring.ops.report.charts import wilson

NIGHTS = REPLAYED_NIGHTS


def test_wilson_interval():
    assert all(math.isnan(v) for v in wilson(0, 0))  # no observations
    low, high = wilson(10, 10)
    assert high == 1.0 and 0.69 < low < 0.73
    low, high = wilson(5, 10)
    assert low < 0.5 < high and abs((0.5 - low) - (high - 0.5)) < 1e-12


def test_report_has_the_charts_and_the_verdict(report):
    for chart in REPORT_CHARTS:
        data = (report / f"{chart}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, chart
        assert f"]({chart}.png)" in (report / "summary.md").read_text()
    summary = (report / "summary.md").read_text()
    assert "## Verdict" in summary and "naive" in summary
    assert "The gap is leakage, not skill." in summary
    # 40 users in two arms: too few to name a winner, and the verdict says so
    assert "**Too little data to pick a winner.**" in summary
    assert "right more often" not in summary and "right less often" not in summary
    for words in ["users assigned", "covered by a pair decision", "which includes zero",
                  "daily_cost", "the user's past skip rate"]:  # fmt: skip
        assert words in summary, words
    index = (report.parent / "index.html").read_text()
    assert f'href="{NIGHTS[1]}/index.html"' in index
