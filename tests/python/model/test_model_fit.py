"""The fitting (scoring/model/model_fit.py): the date windows, the calibration's sigmoid, and
the hyper-parameter search in threads."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pytest

from scoring.config import TrainSettings
from scoring.model.model_fit import (
    Windows,
    choose_hyperparameters,
    fit_sigmoid,
    load_examples,
    sigmoid,
)


def test_windows_are_ordered_and_disjoint():
    w = Windows.for_date(date(2024, 3, 1), TrainSettings())
    assert w.holdout_start == date(2024, 2, 16)
    assert w.calibration_start == date(2024, 2, 2)
    assert w.validation_start == date(2024, 1, 19)
    assert w.train_start == w.calibration_start - timedelta(days=365)


def test_sigmoid_fit_recovers_the_calibration():
    rng = np.random.default_rng(2)
    margin = rng.normal(0, 2, 20000)
    y = (rng.random(20000) < sigmoid(1.5 * margin - 0.5)).astype(int)
    a, b = fit_sigmoid(margin, y)
    assert a == pytest.approx(1.5, abs=0.1) and b == pytest.approx(-0.5, abs=0.1)


def test_search_in_threads_scores_and_picks_as_one_thread_does():
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.normal(size=(n, 5))
    y = (x[:, 0] - 0.5 * x[:, 1] + rng.normal(0, 1, n) > 0).astype(int)
    w = Windows.for_date(date(2024, 3, 1), TrainSettings())
    days = (w.calibration_start - w.validation_start).days * 2
    dates = np.datetime64(w.calibration_start) - np.sort(rng.integers(1, days, n))[::-1]
    one, two = (
        choose_hyperparameters(x, y, dates, w, TrainSettings(search_threads=k)) for k in (1, 2)
    )
    assert len(one.scores) == 6 and one.scores == two.scores
    assert (one.c, one.class_weight) == (two.c, two.class_weight)


def _examples(con: duckdb.DuckDBPyConnection, per_day: int, days: list[date]) -> None:
    """A marts.training_examples of per_day listens on each day (features all null)."""
    from scoring.model.features import FEATURES

    cols = ", ".join(f"null::double as {c}" for c in FEATURES)
    con.execute("create schema marts")
    con.execute(
        f"""
        create table marts.training_examples as
        select
            md5(d::varchar || i::varchar) as listen_id, d as listen_date, 'u' as user_id,
            't' as track_id, i % 2 = 0 as is_skipped, {cols}
        from unnest(?::date[]) as t(d), range({per_day}) as r(i)
        """,
        [days],
    )


def test_the_calibration_and_hold_out_windows_are_capped_by_a_fixed_sample():
    w = Windows.for_date(date(2024, 3, 1), TrainSettings())
    days = [w.calibration_start - timedelta(days=n) for n in (2, 1)]
    days += [w.calibration_start + timedelta(days=n) for n in range(14)]
    days += [w.holdout_start + timedelta(days=n) for n in range(14)]
    con = duckdb.connect()
    _examples(con, 10, days)
    start = days[0]
    whole = load_examples(con, start, w.decision_date)
    assert len(whole) == 10 * len(days)
    assert load_examples(con, start, w.decision_date, w, 1000).equals(whole)  # cap not reached
    capped = load_examples(con, start, w.decision_date, w, 25)
    dates = capped["listen_date"].to_numpy(dtype="datetime64[D]")
    holdout = dates >= np.datetime64(w.holdout_start)
    calibration = ~holdout & (dates >= np.datetime64(w.calibration_start))
    assert holdout.sum() == 25 and calibration.sum() == 25
    assert (~holdout & ~calibration).sum() == 20  # the training rows are all kept
    assert capped["listen_id"].is_unique
    assert set(capped["listen_id"]) <= set(whole["listen_id"])
    assert list(capped["listen_date"]) == sorted(capped["listen_date"])  # oldest first
    assert load_examples(con, start, w.decision_date, w, 25).equals(capped)  # the same sample
    assert len({d for d, h in zip(dates, holdout, strict=True) if h}) > 1  # spread over days
