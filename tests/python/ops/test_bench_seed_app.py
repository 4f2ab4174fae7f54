"""The seed's serving design that `skipcache bench --serve` measures against
(scoring/ops/bench_seed_app.py): it must answer as the seed did, with the night's model on the
night's features, or the comparison would flatter us."""

from __future__ import annotations

import json

import duckdb
import numpy as np

from scoring.model.features import prepare
from scoring.ops.bench_seed_app import CONSTANT_ANSWER, SeedFrames, constant_app


def test_the_seed_predicts_what_the_model_predicts_on_the_nights_features(night):
    _, wh = night
    frames = SeedFrames(wh)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        pairs = con.execute(
            "select * from marts.scoring_features where decision_date = ? "
            "using sample 300 rows (reservoir, 5)",
            [frames.decision_date],
        ).df()
    finally:
        con.close()
    assert len(pairs) == 300
    want = np.where(frames.model.pipeline.predict(prepare(pairs)) == 1, "PLAY", "SKIP")
    ids = zip(pairs["user_id"], pairs["track_id"], strict=True)
    got = [frames.predict(int(u), t) for u, t in ids]
    assert list(want) == got
    # an unknown user and track are answered too (NaN features, imputed), as the seed did
    assert frames.predict(-1, "no-such-track") in {"PLAY", "SKIP"}


def test_the_constant_app_answers_without_reading():
    from fastapi.testclient import TestClient

    with TestClient(constant_app()) as client:
        for path in ("/recommend", "/decisions"):
            answer = client.post(path, content=b"not even json")
            assert answer.status_code == 200 and answer.content == CONSTANT_ANSWER
        assert client.get("/readyz").json() == {"ready": True}
    assert json.loads(CONSTANT_ANSWER)["prediction"] == "PLAY"
