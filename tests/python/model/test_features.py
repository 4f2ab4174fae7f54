"""The model's inputs (scoring/model/features.py): the column order, log counts, booleans,
unknowns, and the label's direction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.model.features import (
    BOOLEAN_FEATURES,
    FEATURES,
    LOG_COUNT_FEATURES,
    PLAIN_FEATURES,
    played,
    prepare,
)


def test_every_feature_once_in_one_order():
    assert len(FEATURES) == len(set(FEATURES))
    assert FEATURES == LOG_COUNT_FEATURES + PLAIN_FEATURES + BOOLEAN_FEATURES


def _frame(**values) -> pd.DataFrame:
    row = {name: 0 for name in FEATURES}
    row.update(values)
    return pd.DataFrame([row, {**row, **{k: None for k in values}}])


def test_counts_are_log1p_booleans_are_0_1_and_unknowns_are_nan():
    count, plain, flag = LOG_COUNT_FEATURES[0], PLAIN_FEATURES[0], BOOLEAN_FEATURES[0]
    x = prepare(_frame(**{count: np.e - 1, plain: 0.25, flag: True}))
    assert x.shape == (2, len(FEATURES)) and x.dtype == np.float64
    i, j, k = FEATURES.index(count), FEATURES.index(plain), FEATURES.index(flag)
    assert np.allclose(x[0, [i, j, k]], [1.0, 0.25, 1.0])
    assert np.isnan(x[1, [i, j, k]]).all()  # unknown stays unknown: the imputer decides


def test_a_negative_count_is_clipped_not_a_nan():
    count = LOG_COUNT_FEATURES[0]
    x = prepare(_frame(**{count: -3}))
    assert x[0, FEATURES.index(count)] == 0.0


def test_played_is_the_opposite_of_skipped():
    frame = pd.DataFrame({"is_skipped": [True, False, True]})
    assert played(frame).tolist() == [0, 1, 0]
