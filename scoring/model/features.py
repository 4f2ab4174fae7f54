"""The model's features: which columns of training_examples, and how each is prepared.

Preparation is deliberately simple (log1p of counts, booleans as 0/1) so that the whole model,
preparation included, is one linear function of the columns and can be computed in SQL.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Counts: heavy-tailed, so the model sees log(1 + count).
LOG_COUNT_FEATURES = [
    "user_listens_before",
    "user_listens_7d",
    "user_listens_30d",
    "user_days_since_last_listen",
    "track_listens_before",
    "track_listens_30d",
    "track_days_since_last_listen",
    "user_genre_listens_before",
]
#: Rates, audio features and other numbers, as they are.
PLAIN_FEATURES = [
    "user_skip_rate",
    "user_skip_logit",
    "user_like_rate",
    "user_skip_rate_7d",
    "user_skip_rate_30d",
    "track_skip_rate",
    "track_like_rate",
    "track_skip_rate_30d",
    "user_genre_skip_rate",
    "global_skip_rate",
    "track_popularity",
    "track_duration_ms",
    "track_release_year",
    "track_danceability",
    "track_energy",
    "track_loudness",
    "track_speechiness",
    "track_acousticness",
    "track_instrumentalness",
    "track_liveness",
    "track_valence",
    "track_tempo",
    "favourite_genre_matches",
]
BOOLEAN_FEATURES = ["user_is_premium", "track_is_explicit", "is_favourite_genre"]
FEATURES = LOG_COUNT_FEATURES + PLAIN_FEATURES + BOOLEAN_FEATURES
LABEL = "is_skipped"


def prepare(frame: pd.DataFrame) -> np.ndarray:
    """The model's input matrix (float64, NaN where a value is unknown), columns as FEATURES."""
    cols = []
    for name in FEATURES:
        values = pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy()
        if name in LOG_COUNT_FEATURES:
            values = np.log1p(np.clip(values, 0, None))
        cols.append(values)
    return np.column_stack(cols) if cols else np.empty((len(frame), 0))


def played(frame: pd.DataFrame) -> np.ndarray:
    """The target: 1 when the listen was played through, 0 when skipped."""
    return (~frame[LABEL].astype(bool)).astype(int).to_numpy()
