"""The report's verdict and page on hand-made numbers: what it says, and what it refuses to say."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from helpers import model_record

from scoring.ops.report import (
    Block,
    ReportData,
    render_html,
    render_markdown,
    served_blocks,
    verdict,
    wilson,
)


def _comparison(metric: str, value: float, ref: float, low: float, high: float, users: int,
                requests: int) -> dict:  # fmt: skip
    return {
        "metric": metric, "arm": "model", "reference_arm": "naive",
        "first_night": pd.Timestamp("2024-12-18"), "last_night": pd.Timestamp("2024-12-31"),
        "nights": 14, "user_count": users, "reference_user_count": users, "requests": requests,
        "reference_requests": requests, "metric_value": value, "reference_metric_value": ref,
        "difference": value - ref, "difference_low": low, "difference_high": high,
    }  # fmt: skip


def _arms(users: int, covered: int, cost_model: float = 200.0, cost_naive: float = 100.0):
    rows = []
    for arm, cost in [("model", cost_model), ("naive", cost_naive)]:
        rows.append({
            "arm": arm, "users_assigned": users, "users_with_requests": users,
            "users_with_covered_requests": users, "requests": 5 * covered,
            "covered_requests": covered, "cache_hits": 4 * covered, "cache_hit_rate": 0.8,
            "nights": 14, "cached_pairs": 1000, "cached_but_skipped_pairs": 10,
            "cached_never_requested_pairs": 900, "cached_but_skipped_cost": 1.0,
            "cached_never_requested_cost": cost - 1.0, "wasted_cost": cost,
            "wasted_cost_per_night": cost / 14, "wasted_cost_per_user_night": cost / 14 / users,
        })  # fmt: skip
    return pd.DataFrame(rows)


def _data(
    *, users: int = 100, covered: int = 1000, acc: tuple = (0.77, 0.74, -0.02, 0.08),
    hits: tuple = (0.95, 0.97, -0.03, -0.004), user_history: tuple = (-0.01, 0.01),
) -> ReportData:  # fmt: skip
    comparison = pd.DataFrame([
        _comparison("accuracy", *acc, users, covered),
        _comparison("cache_hit_rate", *hits, users, 5 * covered),
    ])  # fmt: skip
    model = model_record(
        metrics={
            "model": {"roc_auc": 0.754, "accuracy": 0.675},
            "naive": {"roc_auc": 0.6},
            "constant": {"roc_auc": 0.5, "accuracy": 0.61},
            "user_history": {"roc_auc": 0.756, "accuracy": 0.66},
        },
        seed_replica_accuracy=0.9,
    )
    return ReportData(
        night=date(2024, 12, 31), summary=pd.DataFrame(), comparison=comparison, model=model,
        weights=pd.DataFrame(), holdout=pd.DataFrame(), registry=pd.DataFrame(),
        arms=_arms(users, covered),
        auc={"model": 0.754, "naive": 0.6, "constant": 0.5, "user_history": 0.756},
        auc_intervals={"naive": (0.14, 0.17), "constant": (0.24, 0.27),
                       "user_history": user_history},
    )  # fmt: skip


def test_too_little_data_names_no_winner():
    # the case: +39.4 points with an interval excluding zero, on a dozen users
    text = "\n".join(verdict(_data(users=12, covered=194, acc=(0.771, 0.377, 0.025, 0.762))))
    assert "**Too little data to pick a winner.**" in text
    assert "right more often" not in text and "right less often" not in text
    assert "+39.4 points (95% interval +2.5 to +76.2, which excludes zero)" in text
    assert "194 covered requests (12 users)" in text


def test_an_interval_that_includes_zero_is_said_to():
    text = "\n".join(verdict(_data()))
    assert "**The data cannot tell the model's decisions from the naive rule's.**" in text
    assert "95% interval -2.0 to +8.0, which includes zero" in text
    # the cache-hit difference is reported too, with its own interval
    assert "Cache hit rate:" in text and "95% interval -3.0 to -0.4, which excludes zero" in text


def test_a_clear_difference_names_the_winner():
    text = "\n".join(verdict(_data(acc=(0.80, 0.70, 0.05, 0.15))))
    assert "**The model's decisions were right more often than the naive rule's.**" in text
    text = "\n".join(verdict(_data(acc=(0.60, 0.70, -0.15, -0.05))))
    assert "**The model's decisions were right less often than the naive rule's.**" in text


def test_every_arm_shows_users_requests_and_covered_requests():
    text = "\n".join(verdict(_data(users=120, covered=800)))
    for arm in ["model", "naive"]:
        assert (
            f"{arm} arm: 120 users assigned, 120 with requests, 4,000 requests, 800 of them "
            f"covered by a pair decision (from 120 users)" in text
        )


def test_costs_are_in_the_exports_unit_and_set_against_the_hit_rate():
    text = "\n".join(verdict(_data()))
    assert "daily_cost" in text and "cached but never requested" in text
    assert "spent 2.0 times what the naive arm spent" in text
    assert "What that bought: a cache hit rate 2.0 points lower" in text


def test_a_model_that_only_ties_user_history_is_said_to_plainly():
    text = "\n".join(verdict(_data()))
    assert "it only ties the user's past skip rate (0.756; difference -0.002" in text
    assert "it beats the naive rule" in text and "it beats always play" in text
    assert "Said plainly: the model adds nothing measurable over the user's past skip rate" in text
    text = "\n".join(verdict(_data(user_history=(0.01, 0.03))))
    assert "Said plainly" not in text


def test_no_outcome_yet():
    data = _data()
    data.comparison = data.comparison.iloc[0:0]
    assert verdict(data)[0].startswith("**No A/B outcome yet.**")


def test_wilson_interval():
    assert all(math.isnan(v) for v in wilson(0, 0))  # no observations
    low, high = wilson(10, 10)
    assert high == 1.0 and 0.69 < low < 0.73
    low, high = wilson(5, 10)
    assert low < 0.5 < high and abs((0.5 - low) - (high - 0.5)) < 1e-12


def test_served_section_sums_counts_and_recomputes_rates():
    assert served_blocks(None) == [] and served_blocks(pd.DataFrame()) == []
    served = pd.DataFrame({
        "decision_date": pd.to_datetime(["2024-12-30", "2024-12-31", "2024-12-31"]),
        "endpoint": ["abtest", "abtest", "naive"], "arm": ["model", "model", None],
        "answers": pd.array([10, 30, 5], dtype="int64"),
        "listened_answers": pd.array([4, 6, 1], dtype="int64"),
        "cache_hits": pd.array([2, 6, 1], dtype="int64"),
        "cache_hit_rate": [0.5, 1.0, 1.0], "accuracy": [0.25, 0.5, 1.0],
    })  # fmt: skip
    blocks = served_blocks(served)
    assert blocks[0].text == "What was served"
    table = blocks[-1]
    rows = {r[0]: dict(zip(table.columns, r, strict=True)) for r in table.items}
    assert rows["model"]["answers"] == "40" and rows["model"]["listened_answers"] == "10"
    assert rows["model"]["cache_hit_rate"] == "80.0%"  # 8 / 10, not the mean of 50% and 100%
    assert rows["model"]["accuracy"] == "40.0%"  # (0.25 * 4 + 0.5 * 6) / 10
    assert "(no arm)" in rows


def test_page_inlines_images_and_escapes_text(tmp_path: Path):
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    blocks = [Block("h1", "T"), Block("p", "**Bold** <b>not html</b>"),
              Block("img", "A chart", items=["a.png"])]  # fmt: skip
    page = render_html(blocks, tmp_path)
    assert "<strong>Bold</strong> &lt;b&gt;not html&lt;/b&gt;" in page
    assert 'src="data:image/png;base64,iVBORw0KGgpmYWtl"' in page
    assert "![A chart](a.png)" in render_markdown(blocks)


@pytest.mark.parametrize("users", [29, 30])
def test_the_enough_data_threshold(users: int):
    text = "\n".join(verdict(_data(users=users, acc=(0.80, 0.70, 0.05, 0.15))))
    assert ("Too little data" in text) == (users < 30)
