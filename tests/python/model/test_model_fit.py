"""The fitting (scoring/model/model_fit.py): the date windows, the calibration's sigmoid, and
the hyper-parameter search in threads."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from scoring.config import TrainSettings
from scoring.model.model_fit import Windows, choose_hyperparameters, fit_sigmoid, sigmoid


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
