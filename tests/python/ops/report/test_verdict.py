"""The report's verdict (scoring/ops/report/verdict.py) on hand-made numbers: what it says, and
what it refuses to say."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from helpers import model_record

from scoring.ops.report.data import ReportData
from scoring.ops.report.verdict import verdict


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


@pytest.mark.parametrize("users", [29, 30])
def test_the_enough_data_threshold(users: int):
    text = "\n".join(verdict(_data(users=users, acc=(0.80, 0.70, 0.05, 0.15))))
    assert ("Too little data" in text) == (users < 30)
