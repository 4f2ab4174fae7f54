"""The evaluation (scoring/model/evaluation.py): the metrics on hand-made values, and the paired
bootstrap of the AUC difference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from scoring.model import evaluation


def test_metrics_on_a_hand_made_example():
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.4, 0.6, 0.1])
    m = evaluation.metrics(y, p)
    assert m["accuracy"] == 0.5
    assert m["confusion"] == [[1, 1], [1, 1]]
    assert m["roc_auc"] == 0.75
    assert m["precision_play"] == 0.5 and m["recall_skip"] == 0.5
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)


def test_bootstrap_auc_equals_sklearn_without_resampling_ties_included():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    score = np.round(y * 0.3 + rng.random(500), 1)  # many ties
    group = np.unique(score, return_inverse=True)[1]
    auc = evaluation.weighted_auc(group, y * 1.0, 1.0 - y)
    assert auc == pytest.approx(roc_auc_score(y, score))


def test_every_score_is_measured_under_the_same_resamples():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)
    a, b = rng.random(300), rng.random(300)
    boot = evaluation.PairedAucBootstrap(y, 50, 0)
    one = boot.aucs({"a": a, "b": b, "a again": a})
    assert np.array_equal(one["a"], one["a again"])  # the same draws, not fresh ones
    assert np.array_equal(boot.aucs({"a": a})["a"], one["a"])  # reproducible from the seed
    assert not np.array_equal(one["a"], one["b"])
    lo, hi = boot.difference(a, b)
    assert (lo, hi) == evaluation.percentile_interval(one["a"] - one["b"])


def test_bootstrap_interval_of_a_real_difference_is_above_zero():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 2000)
    good, noise = y + rng.normal(0, 1, 2000), rng.random(2000)
    lo, hi = evaluation.PairedAucBootstrap(y, 200, 0).difference(good, noise)
    assert 0 < lo < hi
    lo, hi = evaluation.PairedAucBootstrap(y, 200, 0).difference(noise, rng.random(2000))
    assert lo < 0 < hi
