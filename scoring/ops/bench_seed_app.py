"""The two peers of `skipcache bench --serve`: the seed's serving design, and a constant endpoint.

- `seed`: the seed's microservice as it was designed. The features live in in-memory pandas
  frames (per user, per track, per user x genre), loaded once at start from the warehouse (read
  only) as of the published night; each request looks its user and track up with `.loc`,
  builds a one-row DataFrame and calls the scikit-learn pipeline's `predict` (the night's
  model, `models/<version>/model.joblib` beside the warehouse). The answer is the seed's
  `{"user_id", "track_id", "prediction": "PLAY" | "SKIP"}`. An unknown user or track gets
  NaN features, which the pipeline's imputer fills, so every request is answered.
- `constant`: the same server stack (FastAPI on uvicorn) answering a fixed JSON without reading
  the request: the ceiling of the load generator and of the stack on this machine.

Both serve `POST /recommend` (and `/naive`, `/abtest`, `/decisions` for the constant app) and
`GET /readyz`. Run one with
`python -m scoring.ops.bench_seed_app {seed|constant} --warehouse PATH --port N [--workers N]`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

from fastapi import FastAPI, Response
from pydantic import BaseModel

WAREHOUSE_ENV = "SKIPCACHE_BENCH_WAREHOUSE"
CONSTANT_ANSWER = json.dumps(
    {
        "user_id": 101,
        "track_id": "31PzY79H10HCgJs533Xq6B",
        "prediction": "PLAY",
        "should_cache": True,
        "p_play": 0.75,
        "policy": "model",
        "arm": "model",
        "model_version": "constant",
        "decision_date": "2025-01-01",
        "source": "pair",
    }
).encode()


def constant_app() -> FastAPI:
    app = FastAPI(title="skipcache bench: constant endpoint")

    async def answer() -> Response:
        return Response(CONSTANT_ANSWER, media_type="application/json")

    for path in ("/naive", "/recommend", "/abtest", "/decisions"):
        app.add_api_route(path, answer, methods=["POST"])

    @app.get("/readyz")
    async def readyz() -> dict:
        return {"ready": True}

    return app


class SeedFrames:
    """The seed's in-memory feature frames as of the published night, and its model.

    The frames hold the model's columns as float64, counts already log1p'd, so that a request
    does what the seed's did and no more: two `.loc` lookups, a one-row DataFrame, `predict`.
    """

    def __init__(self, warehouse: Path) -> None:
        import duckdb
        import numpy as np

        from scoring.model.features import FEATURES, LOG_COUNT_FEATURES
        from scoring.model.registry import load_model

        home = warehouse.parent
        manifest = json.loads((home / "serving" / "manifest.json").read_text())
        self.decision_date = manifest["decision_date"]
        self.model_version = manifest["model_version"]
        self.model = load_model(home, self.model_version)  # also one pickled before a rename
        self.features = FEATURES
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            day = [self.decision_date]
            self.global_skip_rate, global_like_rate = con.execute(
                "select global_skip_rate, global_like_rate from marts.global_features_daily "
                "where feature_date = ?",
                day,
            ).fetchall()[0]
            users = con.execute(
                """
                select u.user_id, u.is_premium as user_is_premium, u.favourite_genres, f.*
                    exclude (user_id, feature_date, loaded_at)
                from marts.dim_users as u
                left join marts.user_features_daily as f
                    on u.user_id = f.user_id and f.feature_date = ?
                """,
                day,
            ).df()
            tracks = con.execute(
                """
                select t.track_id, t.genres, t.popularity as track_popularity,
                    t.duration_ms as track_duration_ms, t.release_year as track_release_year,
                    t.is_explicit as track_is_explicit, t.danceability as track_danceability,
                    t.energy as track_energy, t.loudness as track_loudness,
                    t.speechiness as track_speechiness, t.acousticness as track_acousticness,
                    t.instrumentalness as track_instrumentalness,
                    t.liveness as track_liveness, t.valence as track_valence,
                    t.tempo as track_tempo,
                    f.* exclude (track_id, feature_date, loaded_at)
                from marts.dim_tracks as t
                left join marts.track_features_daily as f
                    on t.track_id = f.track_id and f.feature_date = ?
                """,
                day,
            ).df()
            self.user_genres = {
                (user, genre): (listens, skips)
                for user, genre, listens, skips in con.execute(
                    "select user_id, genre, user_genre_listens_before, user_genre_skips_before "
                    "from marts.user_genre_features_daily where feature_date = ?",
                    day,
                ).fetchall()
            }
        finally:
            con.close()
        self.favourite = {
            u: set(g) for u, g in zip(users["user_id"], users["favourite_genres"], strict=True)
            if g is not None
        }  # fmt: skip
        self.genres = {
            t: list(g) for t, g in zip(tracks["track_id"], tracks["genres"], strict=True)
            if g is not None
        }  # fmt: skip
        # no history before the night: what training uses (dbt vars of dbt_project.yml)
        self.prior_weight = 10.0  # skip_rate_prior_weight
        p = min(max(self.global_skip_rate, 0.001), 0.999)
        defaults = {"user_skip_logit": math.log(p / (1 - p))}
        frames = []
        for frame, key in ((users, "user_id"), (tracks, "track_id")):
            columns = [c for c in FEATURES if c in frame.columns]
            frame = frame.set_index(key)[columns].astype("float64")
            for column in columns:
                if "listens" in column or "skips" in column or "likes" in column:
                    fill = 0.0
                elif "days_since" in column:
                    fill = 365.0  # days_since_last_listen_cold_start
                elif "like_rate" in column:
                    fill = global_like_rate
                elif "skip_rate" in column:
                    fill = self.global_skip_rate
                else:
                    fill = defaults.get(column, np.nan)
                frame[column] = frame[column].fillna(fill)
                if column in LOG_COUNT_FEATURES:
                    frame[column] = np.log1p(frame[column].clip(lower=0))
            frames.append(frame)
        self.users, self.tracks = frames

    def predict(self, user_id: int, track_id: str) -> str:
        """The seed's request path: lookups, a one-row DataFrame, model.predict."""
        import pandas as pd

        row: dict = {"global_skip_rate": self.global_skip_rate}
        if user_id in self.users.index:
            row.update(self.users.loc[user_id].to_dict())
        if track_id in self.tracks.index:
            row.update(self.tracks.loc[track_id].to_dict())
        genres = self.genres.get(track_id, [])
        matches = len(self.favourite.get(user_id, set()).intersection(genres))
        listens = skips = 0
        for genre in genres:
            genre_listens, genre_skips = self.user_genres.get((user_id, genre), (0, 0))
            listens += genre_listens
            skips += genre_skips
        user_rate = row.get("user_skip_rate", self.global_skip_rate)
        row.update(
            favourite_genre_matches=matches,
            is_favourite_genre=float(matches > 0),
            user_genre_listens_before=math.log1p(listens),
            user_genre_skip_rate=(skips + self.prior_weight * user_rate)
            / (listens + self.prior_weight),
        )
        frame = pd.DataFrame([row], columns=self.features)  # unknown entities: NaN, imputed
        label = self.model.pipeline.predict(frame.to_numpy(dtype="float64"))[0]
        return "PLAY" if label == 1 else "SKIP"


class Pair(BaseModel):
    """The seed's request body."""

    user_id: int
    track_id: str


def seed_app(warehouse: Path | None = None) -> FastAPI:
    """The seed's design; `warehouse` defaults to the environment (for uvicorn's workers)."""
    frames = SeedFrames(Path(warehouse or os.environ[WAREHOUSE_ENV]))
    app = FastAPI(title="skipcache bench: the seed's serving design")

    @app.post("/recommend")
    def recommend(pair: Pair) -> dict:
        return {
            "user_id": pair.user_id,
            "track_id": pair.track_id,
            "prediction": frames.predict(pair.user_id, pair.track_id),
        }

    @app.get("/readyz")
    def readyz() -> dict:
        return {"ready": True, "model_version": frames.model_version}

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m scoring.ops.bench_seed_app")
    parser.add_argument("kind", choices=["seed", "constant"])
    parser.add_argument("--warehouse", help="the warehouse (seed only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.warehouse:
        os.environ[WAREHOUSE_ENV] = str(Path(args.warehouse).resolve())
    uvicorn.run(
        f"scoring.ops.bench_seed_app:{args.kind}_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        loop="uvloop",  # the service's stack (scoring/decide/service.py)
        http="httptools",
    )


if __name__ == "__main__":
    main()
