"""The published snapshot for the cache service: what it holds, how it is written and read.

After the night's decisions commit, `publish` writes to Parquet under serving/ beside the
warehouse:
- `decisions`: the night's candidate pairs (the prefetch list) with their decisions;
- `track_defaults`: the per-track defaults (the outcome models' answer for other pairs);
- `users`, `tracks`, `user_genres`: the per-user and per-track parts of the policy's margin
  and the user x genre rows, from the marts.service_* models, so that the service computes
  for any (user, track) exactly the p_play SQL scoring gives the same pair (see `Snapshot`);
each file through a temporary name and an atomic rename, then manifest.json the same way
(files with row counts and sha256, decision date, policy, threshold, arm shares, and the
`scoring` block: intercept, calibration, the pair features' weights and the cold-start parts).
A reader only follows the manifest, so it never sees a half-written night, and never opens
the DuckDB file that the nightly job holds for writing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scoring.decide import policy
from scoring.decide.policy import arm_edges, arm_in
from scoring.errors import SnapshotError

if TYPE_CHECKING:  # the publishing side's frames; the reading side (lookup, serve) needs no pandas
    import pandas as pd

MANIFEST = "manifest.json"
#: arms and sources as small integers in the column-wise path (Snapshot.decide_codes)
ARM_CODE = {name: i for i, name in enumerate(policy.ARMS)}
SOURCE_CODE = {name: i for i, name in enumerate(policy.SOURCES)}
PLAY, SKIP = "PLAY", "SKIP"
#: the snapshot layout; a reader refuses a manifest of another format
FORMAT = 2
#: features that belong to the pair (user x the track's genres), not to the user or the track
PAIR_FEATURES = (
    "is_favourite_genre",
    "favourite_genre_matches",
    "user_genre_listens_before",
    "user_genre_skip_rate",
)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:  # a failed write (a full disk) leaves no temporary file behind
        tmp.unlink(missing_ok=True)


def _part_of(feature: str) -> str:
    """Which part of the margin a model feature belongs to."""
    if feature in PAIR_FEATURES:
        return "pair"
    if feature.startswith("global_"):
        return "global"
    if feature.startswith("user_"):
        return "user"
    if feature.startswith("track_"):
        return "track"
    raise SnapshotError(f"feature {feature}: not a user, track, pair or global feature")


def _prepared(values: pd.Series, transform: str, impute: float) -> np.ndarray:
    """The feature as the SQL expression prepares it: ln(1 + max(x, 0)) for counts, 0/1 for
    booleans, the imputed value where it is unknown."""
    import pandas as pd

    x = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    if transform == "log1p":
        x = np.log(1.0 + np.maximum(x, 0.0))
    return np.where(np.isnan(x), impute, x)


def _linear_part(frame: pd.DataFrame, weights: pd.DataFrame) -> np.ndarray:
    """Sum over `weights` rows of weight * (x - center) / scale, per row of `frame`."""
    total = np.zeros(len(frame))
    for w in weights.itertuples():
        x = _prepared(frame[w.feature], w.transform, w.impute_value)
        total += w.weight * (x - w.center) / w.scale
    return total


def scoring_block(con: duckdb.DuckDBPyConnection, decision_date: date, decision_policy: str):
    """The night's per-user and per-track tables and the manifest's `scoring` block."""
    day = [decision_date]
    cold = con.execute("select * from marts.service_cold_start where decision_date = ?", day).df()
    users = con.execute(
        "select * from marts.service_user_features where decision_date = ? order by user_id", day
    ).df()
    tracks = con.execute(
        "select * from marts.service_track_features where decision_date = ? order by track_id",
        day,
    ).df()
    if len(cold) != 1:
        raise SnapshotError(f"marts.service_cold_start has no row for {decision_date}")
    block = {
        "policy": decision_policy,
        "global_skip_rate": float(cold["global_skip_rate"].iloc[0]),
        "cold_user_skip_rate": float(cold["user_skip_rate"].iloc[0]),
        "skip_rate_prior_weight": float(cold["skip_rate_prior_weight"].iloc[0]),
    }
    user_part = np.zeros(len(users))
    track_part = np.zeros(len(tracks))
    if policy.is_model(decision_policy):
        weights = con.execute(
            "select feature, transform, impute_value, center, scale, weight "
            "from ml.model_weights where model_version = ? order by feature_position",
            [decision_policy],
        ).df()
        cal = con.execute(
            "select svc_intercept, sigmoid_a, sigmoid_b from ml.model_calibration "
            "where model_version = ?",
            [decision_policy],
        ).fetchall()
        if weights.empty or not cal:
            raise SnapshotError(f"no exported weights for model {decision_policy}")
        part = weights["feature"].map(_part_of)
        by_part = {name: weights[part == name] for name in ("user", "track", "pair", "global")}
        user_part = _linear_part(users, by_part["user"])
        track_part = _linear_part(tracks, by_part["track"])
        block.update(
            intercept=cal[0][0],
            sigmoid_a=cal[0][1],
            sigmoid_b=cal[0][2],
            global_part=float(_linear_part(cold, by_part["global"])[0]),
            cold_user_part=float(_linear_part(cold, by_part["user"])[0]),
            cold_track_part=float(_linear_part(cold, by_part["track"])[0]),
            pair_features=[
                {k: getattr(w, k) for k in ("feature", "transform", "impute_value", "center",
                                            "scale", "weight")}
                for w in by_part["pair"].itertuples()
            ],
        )  # fmt: skip
    users_table = pa.table(
        {
            "user_id": pa.array(users["user_id"], pa.int64()),
            "user_part": pa.array(user_part, pa.float64()),
            "user_skip_rate": pa.array(users["user_skip_rate"], pa.float64()),
        }
    )
    # each track's genres, in the order of `tracks` (built in SQL: a Python list per track
    # took 0.5 s of a night at v2)
    genres = con.sql(
        """
        select features.track_id, coalesce(genres.genres, []) as genres
        from marts.service_track_features as features
        left join (
            select track_id, list(genre order by genre) as genres
            from marts.service_track_genres group by track_id
        ) as genres on features.track_id = genres.track_id
        where features.decision_date = ? order by features.track_id
        """,
        params=day,
    ).to_arrow_table()
    track_ids = pa.array(tracks["track_id"], pa.string())
    if not genres["track_id"].combine_chunks().cast(pa.string()).equals(track_ids):
        raise SnapshotError(f"the tracks of {decision_date} and their genres came in another order")
    tracks_table = pa.table(
        {
            "track_id": track_ids,
            "track_part": pa.array(track_part, pa.float64()),
            "genres": genres["genres"].cast(pa.list_(pa.string())),
        }
    )
    return users_table, tracks_table, block


def publish(
    con: duckdb.DuckDBPyConnection,
    serving: Path,
    decision_date: date,
    run_id: str,
    decision_policy: str,
    arm_shares: dict[str, float],
    threshold: float = policy.DecisionSettings().threshold,
    model_version: str | None = None,
) -> dict:
    """Write the night's snapshot and switch the manifest to it; return the manifest."""
    serving.mkdir(parents=True, exist_ok=True)
    tag = f"{decision_date:%Y-%m-%d}_{run_id}"
    day = f"date '{decision_date.isoformat()}'"
    users, tracks, block = scoring_block(con, decision_date, decision_policy)
    tables = {
        "decisions": con.sql(
            "select user_id, track_id, arm, p_play, should_cache, model_version "
            f"from decisions.cache_decisions where decision_date = {day} order by user_id, track_id"
        ).to_arrow_table(),
        "track_defaults": con.sql(
            "select track_id, p_play, should_cache, model_version "
            f"from decisions.track_default_decisions where decision_date = {day} order by track_id"
        ).to_arrow_table(),
        "users": users,
        "tracks": tracks,
        "user_genres": con.sql(
            "select user_id, genre, user_genre_listens_before, user_genre_skips_before, "
            "is_favourite_genre from marts.service_user_genres "
            f"where decision_date = {day} order by user_id, genre"
        ).to_arrow_table(),
    }
    files = {}
    for kind, table in tables.items():
        name = f"{kind}_{tag}.parquet"
        tmp = serving / f".{name}.tmp-{os.getpid()}"
        try:
            pq.write_table(table, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, serving / name)
        finally:
            tmp.unlink(missing_ok=True)
        files[kind] = {"file": name, "row_count": table.num_rows, "sha256": _sha256(serving / name)}
    manifest = {
        "format": FORMAT,
        "decision_date": decision_date.isoformat(),
        "run_id": run_id,
        "model_version": model_version or decision_policy,
        "decision_policy": decision_policy,
        "threshold": float(threshold),
        "arm_shares": arm_shares,
        "published_at": time.time(),
        "scoring": block,
        "files": files,
        "row_count": sum(f["row_count"] for f in files.values()),
    }
    previous = read_manifest(serving)
    _atomic_write(serving / MANIFEST, json.dumps(manifest, indent=2).encode())
    keep = {f["file"] for f in files.values()}
    if previous:  # a reader may still be loading the previous night's files
        keep |= {f["file"] for f in previous["files"].values()}
    for stale in serving.glob("*.parquet"):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    return manifest


def read_manifest(serving: Path) -> dict | None:
    try:
        return json.loads((serving / MANIFEST).read_text())
    except FileNotFoundError:
        return None


def manifest_stamp(serving: Path) -> tuple[int, int] | None:
    """(mtime, inode) of the manifest: a new night's manifest is a new file (atomic rename)."""
    try:
        st = (Path(serving) / MANIFEST).stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_ino)


@dataclass(frozen=True)
class Answer:
    """One answer to "cache this track for this user?" (the service's JSON, less the pair)."""

    prediction: str  # PLAY / SKIP: p_play against the threshold, as the seed's model said
    should_cache: bool
    p_play: float
    policy: str  # the rule that answered: a model version, a baseline, or naive-rule
    arm: str | None
    model_version: str  # the night's model (the snapshot's)
    decision_date: str
    source: str  # pair | model | cold_start | track_default

    def as_dict(self) -> dict:
        return self.__dict__.copy()


SAFE_NAME = re.compile(r"[A-Za-z0-9:._-]{1,200}")


def _check_name(name: str) -> None:
    """Model versions, policies and run ids go into every answer as they are: plain names."""
    if not SAFE_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a plain name ([A-Za-z0-9:._-])")


def _rows(table: pa.Table, columns: list[str], chunk: int = 20_000):
    """The table's rows as tuples, converted a slice at a time with a pause between slices, so
    that a reload in a background thread never holds the interpreter for long (pyarrow's
    conversion to Python objects does not release it)."""
    for start in range(0, table.num_rows, chunk):
        part = table.slice(start, chunk).select(columns).to_pydict()
        yield from zip(*(part[c] for c in columns), strict=True)
        time.sleep(0)


class Snapshot:
    """One night's published snapshot in memory; answers any (user, track) in microseconds.

    A pair that was a candidate of the night is answered by its own nightly row (`pair`), as
    long as the arm asked for is the row's arm. Any other pair is computed from the parts: the
    margin of the linear model is intercept + global part + the user's part + the track's part
    + the pair features (favourite-genre matches and the user's history on the track's genres,
    summed over the track's genres as request_features sums them), then the calibration's
    sigmoid; an unknown user or track takes the cold-start part (`cold_start`). Everything is
    checked while loading; once loaded it is immutable, and the service swaps a whole Snapshot
    in with one reference assignment.
    """

    def __init__(self, serving: Path) -> None:
        self.serving = Path(serving)
        self.stamp = manifest_stamp(self.serving)
        try:
            manifest = read_manifest(self.serving)
        except (OSError, ValueError) as exc:
            raise SnapshotError(f"{self.serving / MANIFEST}: {exc}") from exc
        if manifest is None:
            raise SnapshotError(f"{self.serving / MANIFEST}: no published snapshot")
        try:
            self._check(manifest)
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"{self.serving / MANIFEST}: {exc!r}") from exc
        tables = {}
        for kind, meta in manifest["files"].items():
            path = self.serving / meta["file"]
            try:
                if _sha256(path) != meta["sha256"]:
                    raise SnapshotError(f"{path}: sha256 differs from {MANIFEST}")
                tables[kind] = pq.read_table(path)
            except (OSError, pa.ArrowException) as exc:
                raise SnapshotError(f"{path}: {exc}") from exc
            if tables[kind].num_rows != meta["row_count"]:
                raise SnapshotError(
                    f"{path}: {tables[kind].num_rows} rows, {MANIFEST} says {meta['row_count']}"
                )
        try:
            self._load(tables)
        except (KeyError, TypeError, ValueError, pa.ArrowException) as exc:
            raise SnapshotError(f"{self.serving}: unreadable snapshot: {exc!r}") from exc
        self.loaded_at = time.time()

    def _check(self, manifest: dict) -> None:
        """Everything the service needs from the manifest, valid, before anything is swapped."""
        if manifest.get("format") != FORMAT:
            raise ValueError(
                f"format {manifest.get('format')}, expected {FORMAT} "
                "(publish again with this version: skipcache nightly)"
            )
        self.manifest = manifest
        self.decision_date: str = date.fromisoformat(manifest["decision_date"]).isoformat()
        self.decision_timestamp = (
            datetime.fromisoformat(self.decision_date).replace(tzinfo=UTC).timestamp()
        )
        self.run_id: str = str(manifest["run_id"])
        self.decision_policy: str = str(manifest["decision_policy"])
        self.model_version: str = str(manifest["model_version"])
        self.published_at = float(manifest["published_at"])
        for name in (self.run_id, self.decision_policy, self.model_version):
            _check_name(name)
        settings = policy.DecisionSettings(
            threshold=float(manifest["threshold"]), arm_shares=dict(manifest["arm_shares"])
        )
        self.threshold: float = settings.threshold
        self.arm_shares: dict[str, float] = settings.arm_shares
        self.arm_edges = arm_edges(self.arm_shares)  # policy.arm_in's names and edges
        s = manifest["scoring"]
        self.is_model = policy.is_model(self.decision_policy)
        self.global_skip_rate = float(s["global_skip_rate"])
        self.cold_user_skip_rate = float(s["cold_user_skip_rate"])
        self.prior_weight = float(s["skip_rate_prior_weight"])
        self.pair_weights: dict[str, tuple[str, float, float, float, float]] = {}
        if self.is_model:
            self.base = float(s["intercept"]) + float(s["global_part"])
            self.sigmoid = (float(s["sigmoid_a"]), float(s["sigmoid_b"]))
            self.cold_user_part = float(s["cold_user_part"])
            self.cold_track_part = float(s["cold_track_part"])
            for w in s["pair_features"]:
                if w["feature"] not in PAIR_FEATURES:
                    raise ValueError(f"{w['feature']} is not a pair feature")
                self.pair_weights[w["feature"]] = (
                    w["transform"], float(w["impute_value"]), float(w["center"]),
                    float(w["scale"]), float(w["weight"]),
                )  # fmt: skip
        else:
            self.base, self.sigmoid = 0.0, (1.0, 0.0)
            self.cold_user_part = self.cold_track_part = 0.0
        self.pair_terms = [
            (PAIR_FEATURES.index(feature), *w) for feature, w in self.pair_weights.items()
        ]
        files = manifest["files"]
        missing = {"decisions", "track_defaults", "users", "tracks", "user_genres"} - set(files)
        if missing:
            raise ValueError(f"files missing from the manifest: {sorted(missing)}")

    def _load(self, tables: dict[str, pa.Table]) -> None:
        columns = ["user_id", "track_id", "arm", "p_play", "should_cache", "model_version"]
        self.pairs = {
            (u, t): (a, p, c, m) for u, t, a, p, c, m in _rows(tables["decisions"], columns)
        }
        for rule in {row[3] for row in self.pairs.values()}:
            _check_name(rule)
        self.track_defaults = dict(_rows(tables["track_defaults"], ["track_id", "p_play"]))
        self.users = {
            u: (part, rate)
            for u, part, rate in _rows(tables["users"], ["user_id", "user_part", "user_skip_rate"])
        }
        self.tracks = {
            t: (part, tuple(genres))
            for t, part, genres in _rows(tables["tracks"], ["track_id", "track_part", "genres"])
        }
        self.user_genres: dict[int, dict[str, tuple[int, int, int]]] = {}
        columns = ["user_id", "genre", "user_genre_listens_before", "user_genre_skips_before",
                   "is_favourite_genre"]  # fmt: skip
        for user, genre, n, skips, fav in _rows(tables["user_genres"], columns):
            self.user_genres.setdefault(user, {})[genre] = (n, skips, int(fav))
        # the arms of the known users, once (an md5 each); unknown users get theirs per request
        known = {*self.users, *self.user_genres, *(u for u, _ in self.pairs)}
        self.arms = {u: arm_in(u, *self.arm_edges) for u in known}
        self._columns()

    def _columns(self) -> None:
        """The same parts as arrays, for `decide_many`. Users and tracks by position: every
        user and track of the snapshot (of the pairs too), then one position for the unknown
        (cold-start parts, no genres). The tracks' genres as CSR lists; the user x genre rows
        and the nightly pairs sorted by an int64 key of the positions, found by searchsorted."""
        users = list(self.arms)  # every user of users, user_genres and the pairs
        self.user_pos = {u: i for i, u in enumerate(users)}
        cold = (self.cold_user_part, self.cold_user_skip_rate)
        self.u_part = np.array([self.users.get(u, cold)[0] for u in users] + [cold[0]], float)
        self.u_rate = np.array([self.users.get(u, cold)[1] for u in users] + [cold[1]], float)
        self.u_known = np.array([u in self.users for u in users] + [False])
        self.u_arm = np.array([ARM_CODE[self.arms[u]] for u in users] + [-1], np.int8)
        tracks = list({**self.tracks, **{t: None for _, t in self.pairs}})
        self.track_pos = {t: i for i, t in enumerate(tracks)}
        unknown = (self.cold_track_part, ())
        parts = [self.tracks.get(t, unknown) for t in tracks] + [unknown]
        self.t_part = np.array([part for part, _ in parts], float)
        self.t_known = np.array([t in self.tracks for t in tracks] + [False])
        genre_pos: dict[str, int] = {}
        lists = [[genre_pos.setdefault(g, len(genre_pos)) for g in genres] for _, genres in parts]
        for history in self.user_genres.values():
            for g in history:
                genre_pos.setdefault(g, len(genre_pos))
        self.n_genres = max(len(genre_pos), 1)
        self.t_ptr = np.zeros(len(parts) + 1, np.int64)
        np.cumsum([len(x) for x in lists], out=self.t_ptr[1:])
        self.t_genre = np.array([g for x in lists for g in x], np.int64)
        keys, rows = [], []
        for user, history in self.user_genres.items():
            for g, row in history.items():
                keys.append(self.user_pos[user] * self.n_genres + genre_pos[g])
                rows.append(row)
        order = np.argsort(np.array(keys, np.int64), kind="stable")
        self.ug_key = np.array(keys, np.int64)[order]
        self.ug_rows = np.array(rows, float).reshape(-1, 3)[order]  # listens, skips, favourite
        # the nightly rows, by user position * (tracks + 1) + track position
        self.track_stride = len(tracks) + 1
        rule_code = {self.decision_policy: 0, policy.NAIVE_RULE: 1}
        keys, p_arm, p_p, p_cache, p_rule = [], [], [], [], []
        for (user, track), (a, pp, c, r) in self.pairs.items():
            keys.append(self.user_pos[user] * self.track_stride + self.track_pos[track])
            p_arm.append(ARM_CODE.get(a, -2))
            p_p.append(pp)
            p_cache.append(bool(c))
            p_rule.append(rule_code.setdefault(r, len(rule_code)))
        self.rules = list(rule_code)
        self.pair_order = np.argsort(np.array(keys, np.int64), kind="stable")
        self.pair_key = np.array(keys, np.int64)[self.pair_order]
        self.p_arm = np.array(p_arm + [-3], np.int8)  # the last row: no pair (matches no arm)
        self.p_p = np.array(p_p + [math.nan], float)
        self.p_cache = np.array(p_cache + [False])
        self.p_rule = np.array(p_rule + [0], np.int64)

    @staticmethod
    def _find(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in sorted_keys, found) of each key."""
        if not len(sorted_keys):
            return np.zeros(len(keys), np.int64), np.zeros(len(keys), bool)
        at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        return at, sorted_keys[at] == keys

    def arm_of(self, user_id: int) -> str:
        arm = self.arms.get(user_id)
        return arm if arm is not None else arm_in(user_id, *self.arm_edges)

    def compute(self, user_id: int, track_id: str) -> tuple[float, bool, bool]:
        """(p_play under the night's policy, is_favourite_genre, both user and track known)."""
        user = self.users.get(user_id)
        track = self.tracks.get(track_id)
        if user is None:
            user_part, user_skip_rate = self.cold_user_part, self.cold_user_skip_rate
        else:
            user_part, user_skip_rate = user
        track_part, genres = track if track is not None else (self.cold_track_part, ())
        matches = listens = skips = 0
        history = self.user_genres.get(user_id)
        if history:
            for genre in genres:
                row = history.get(genre)
                if row is not None:
                    listens += row[0]
                    skips += row[1]
                    matches += row[2]
        favourite = matches > 0
        known = user is not None and track is not None
        if not self.is_model:
            if self.decision_policy == policy.BASELINE_USER_HISTORY:
                return 1 - user_skip_rate, favourite, known
            if self.decision_policy == policy.BASELINE_CONSTANT:
                return 1 - self.global_skip_rate, favourite, known
            return policy.naive_p_play(favourite), favourite, known
        margin = self.base + user_part + track_part
        values = (  # in the order of PAIR_FEATURES
            1.0 if favourite else 0.0,
            float(matches),
            float(listens),
            (skips + self.prior_weight * user_skip_rate) / (listens + self.prior_weight),
        )
        for position, transform, impute, center, scale, weight in self.pair_terms:
            x = values[position]
            if transform == "log1p":
                x = math.log(1 + max(x, 0.0))
            if x != x:  # NaN: unknown, imputed as in training
                x = impute
            margin += weight * (x - center) / scale
        a, b = self.sigmoid
        z = a * margin + b
        if z != z:
            return math.nan, favourite, known  # no finite answer: the caller falls back
        p = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
        return policy.clamp(p), favourite, known

    def decide(self, user_id: int, track_id: str, arm: str | None = None) -> tuple:
        """(prediction, should_cache, p_play, policy, arm, source) for the pair in `arm`
        (None: the user's own arm, as /abtest). The service's hot path."""
        if arm is None:
            arm = self.arm_of(user_id)
        row = self.pairs.get((user_id, track_id))
        if row is not None and row[0] == arm:
            _, p, cache, rule = row
            source = "pair"
        else:
            p, favourite, known = self.compute(user_id, track_id)
            rule = self.decision_policy
            source = "model" if known else "cold_start"
            if arm == policy.NAIVE:
                p, rule = policy.naive_p_play(favourite), policy.NAIVE_RULE
            elif not math.isfinite(p):  # no finite model answer: the track's default
                p = self.track_defaults.get(track_id, 1 - self.global_skip_rate)
                source = "track_default"
            cache = policy.should_cache(p, arm, self.threshold)
        return (PLAY if p >= self.threshold else SKIP, bool(cache), float(p), rule, arm, source)

    def decide_many(self, users: list[int], tracks: list[str], arm: str | None = None) -> tuple:
        """`decide` for many pairs at once, column-wise with numpy: the lists (prediction,
        should_cache, p_play, policy, arm, source), equal to `decide` pair by pair
        (tests/python/decide/test_serving.py checks it on every pair kind)."""
        p, cache, rule, arms, source = self.decide_codes(users, tracks, arm)
        prediction = [PLAY if x else SKIP for x in (p >= self.threshold).tolist()]
        rules = [self.rules[r] for r in rule.tolist()]
        arm_names = [policy.ARMS[a] for a in arms.tolist()]
        sources = [policy.SOURCES[s] for s in source.tolist()]
        return prediction, cache.tolist(), p.tolist(), rules, arm_names, sources

    def decide_codes(self, users: list[int], tracks: list[str], arm: str | None = None) -> tuple:
        """`decide_many` as arrays (POST /decisions writes its answers from them): p_play,
        should_cache, and the codes of policy (in `self.rules`), arm (in `policy.ARMS`) and
        source (in `policy.SOURCES`); the prediction is `p_play >= self.threshold`."""
        n = len(users)
        unknown_user, unknown_track = len(self.user_pos), len(self.track_pos)
        ui = np.fromiter(map(self.user_pos.get, users, repeat(unknown_user)), np.int64, n)
        ti = np.fromiter(map(self.track_pos.get, tracks, repeat(unknown_track)), np.int64, n)
        at, found = self._find(self.pair_key, ui * self.track_stride + ti)
        pi = np.where(found, self.pair_order[at] if found.any() else 0, len(self.p_p) - 1)
        if arm is None:
            arms = self.u_arm[ui]
            for i in np.flatnonzero(ui == unknown_user).tolist():
                arms[i] = ARM_CODE[arm_in(users[i], *self.arm_edges)]
        else:
            arms = np.full(n, ARM_CODE[arm], np.int8)
        p, favourite = self._p_play_many(ui, ti)
        known = self.u_known[ui] & self.t_known[ti]
        source = np.where(known, SOURCE_CODE["model"], SOURCE_CODE["cold_start"])
        rule = np.zeros(n, np.int64)  # the night's decision policy
        naive = arms == ARM_CODE[policy.NAIVE]
        p = np.where(naive, np.where(favourite, 1.0, 0.0), p)  # policy.naive_p_play
        rule[naive] = 1  # policy.NAIVE_RULE
        for i in np.flatnonzero(~np.isfinite(p)).tolist():  # no finite model answer
            p[i] = self.track_defaults.get(tracks[i], 1 - self.global_skip_rate)
            source[i] = SOURCE_CODE["track_default"]
        cache = (p >= self.threshold) & (arms != ARM_CODE[policy.HOLDOUT])  # policy.should_cache
        own = self.p_arm[pi] == arms  # the pair's nightly row answers in its own arm
        p = np.where(own, self.p_p[pi], p)
        cache = np.where(own, self.p_cache[pi], cache)
        rule = np.where(own, self.p_rule[pi], rule)
        source = np.where(own, SOURCE_CODE["pair"], source)
        return p, cache, rule, arms, source

    def _p_play_many(self, ui: np.ndarray, ti: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`compute`'s p_play and is_favourite_genre for positions of users and tracks."""
        n = len(ui)
        starts, counts = self.t_ptr[ti], self.t_ptr[ti + 1] - self.t_ptr[ti]
        owner = np.repeat(np.arange(n), counts)  # one entry per (pair, track genre)
        within = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
        keys = ui[owner] * self.n_genres + self.t_genre[np.repeat(starts, counts) + within]
        at, hit = self._find(self.ug_key, keys)
        rows = np.zeros((len(keys), 3))  # listens, skips, favourite per (pair, genre)
        rows[hit] = self.ug_rows[at[hit]]
        listens = np.bincount(owner, weights=rows[:, 0], minlength=n)
        skips = np.bincount(owner, weights=rows[:, 1], minlength=n)
        matches = np.bincount(owner, weights=rows[:, 2], minlength=n)
        favourite = matches > 0
        user_skip_rate = self.u_rate[ui]
        if not self.is_model:
            if self.decision_policy == policy.BASELINE_USER_HISTORY:
                return 1 - user_skip_rate, favourite
            if self.decision_policy == policy.BASELINE_CONSTANT:
                return np.full(n, 1 - self.global_skip_rate), favourite
            return np.where(favourite, 1.0, 0.0), favourite
        margin = self.base + self.u_part[ui] + self.t_part[ti]
        values = (  # in the order of PAIR_FEATURES, as `compute`
            favourite.astype(float),
            matches,
            listens,
            (skips + self.prior_weight * user_skip_rate) / (listens + self.prior_weight),
        )
        with np.errstate(all="ignore"):
            for position, transform, impute, center, scale, weight in self.pair_terms:
                x = values[position]
                if transform == "log1p":
                    x = np.log(1 + np.maximum(x, 0.0))
                x = np.where(np.isnan(x), impute, x)
                margin = margin + weight * (x - center) / scale
            a, b = self.sigmoid
            z = a * margin + b
            p = np.where(z > -700, 1.0 / (1.0 + np.exp(-z)), 0.0)
        p = np.where(np.isnan(z), math.nan, np.clip(p, 0.0, 1.0))  # policy.clamp
        return p, favourite

    def answer(self, user_id: int, track_id: str, arm: str | None = None) -> Answer:
        """The answer for the pair in `arm` (None: the user's own arm, as /abtest)."""
        prediction, cache, p, rule, arm, source = self.decide(user_id, track_id, arm)
        return Answer(
            prediction, bool(cache), float(p), rule, arm, self.model_version,
            self.decision_date, source,
        )  # fmt: skip


class SnapshotReader:
    """The published snapshot in-process (`skipcache lookup`, the bench): the latest loaded
    Snapshot, and `reload()` to pick up a new manifest."""

    def __init__(self, serving: Path) -> None:
        self.serving = Path(serving)
        self.snapshot: Snapshot | None = None
        self.reload()

    @property
    def manifest(self) -> dict | None:
        return self.snapshot.manifest if self.snapshot else None

    def reload(self) -> bool:
        """Load the snapshot the manifest names if it changed; True when something was loaded."""
        stamp = manifest_stamp(self.serving)
        if stamp is None or (self.snapshot is not None and stamp == self.snapshot.stamp):
            return False
        self.snapshot = Snapshot(self.serving)
        return True

    def lookup(self, user_id: int, track_id: str) -> Answer | None:
        """The user's own arm's answer for the pair; None when nothing is published."""
        return self.snapshot.answer(user_id, track_id) if self.snapshot else None
