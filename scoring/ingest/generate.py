"""`skipcache generate`: synthetic Pozytywka exports with planted, learnable skip behaviour.

The export has the five files of the 23Z v2 format (switches give the other known spellings and
v1-style dirt) and, beside them, ``_truth.parquet``: one row per generated play with the true
skip probability used to draw it. The pipeline never reads ``_truth*``; tests and the training
report use it to compute the best AUC any model could reach (the Bayes-optimal AUC).

What drives a skip (all knowable before the day of the listen, plus the Bernoulli draw):
  logit p_skip = logit(user propensity)            # 0.1 .. 0.9 across users
                 - 1.0 * favourite-genre match      # the seed's naive signal, but weaker
                 - 0.5 * track popularity (z)       # quality
                 - 0.25 * danceability (z)
                 + 0.35 * duration (z)              # long tracks get skipped more
                 - 0.3 * premium user
Same seed and options give the same bytes.

Scale (``--scale N``, or the preset ``v2x10``): N times the users and sessions of the base preset
over the same catalogue, written in N chunks of the base preset's users, each simulated with its
own random stream and appended to the files, so memory stays that of one chunk (one ``v2``) at
any N. Chunk 0 uses the export's own stream: scale 1 gives the same bytes as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ALPHABET = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype="S1"
)
BASE_GENRES = [
    "pop", "rock", "hip hop", "rap", "edm", "jazz", "latin", "k-pop", "metal", "indie",
    "folk", "country", "r&b", "soul", "classical", "reggaeton", "house", "trap", "punk",
    "blues", "disco", "techno", "funk", "opera", "ska", "grunge", "emo", "drill", "afrobeat",
    "bossa nova",
]  # fmt: skip
GENRE_PREFIXES = [
    "", "dance ", "modern ", "polish ", "alternative ", "art ", "hard ", "uk ", "german ",
    "italian ", "french ", "deep ", "nu ", "indie ", "classic ", "chill ",
]  # fmt: skip
FIRST_NAMES = [
    "Adam", "Anna", "Bartosz", "Dominik", "Ewa", "Filip", "Hanna", "Igor", "Julia", "Kamil",
    "Kornelia", "Lena", "Marek", "Natalia", "Olgierd", "Piotr", "Róża", "Szymon", "Wiktoria",
    "Zofia",
]  # fmt: skip
LAST_NAMES = [
    "Nowak", "Kowalski", "Wiśniewska", "Wójcik", "Kowalczyk", "Kamińska", "Lewandowski",
    "Zieliński", "Szymańska", "Woźniak", "Dąbrowski", "Kozłowska", "Jankowski", "Mazur",
]  # fmt: skip
CITIES = ["Warszawa", "Kraków", "Wrocław", "Poznań", "Gdańsk", "Gdynia", "Radom", "Szczecin"]
STREETS = ["ul. Krótka", "ul. Długa", "aleja Jabłoniowa", "pl. Sosnowa", "ul. Traugutta"]
SYLLABLES = ["la", "mo", "ri", "ka", "zu", "ne", "to", "vi", "sa", "do", "ly", "ban", "rex"]

# Event spellings per --event-case; "lower" is the 23Z v2 spelling, advertisment (sic) included.
EVENT_SPELLINGS = {
    "lower": {
        "play": "play", "skip": "skip", "like": "like",
        "advertisement": "advertisment", "buy_premium": "buy_premium",
    },
    "upper": {
        "play": "PLAY", "skip": "SKIP", "like": "LIKE",
        "advertisement": "ADVERTISEMENT", "buy_premium": "BUY_PREMIUM",
    },
    "title": {
        "play": "Play", "skip": "Skip", "like": "Like",
        "advertisement": "Advertisement", "buy_premium": "BuyPremium",
    },
}  # fmt: skip
KIND_CODES = ["play", "like", "skip", "advertisement", "buy_premium"]


@dataclass(frozen=True)
class Preset:
    users: int
    tracks: int
    artists: int
    days: int
    sessions: int
    plays_per_session: float


PRESETS = {
    "tiny": Preset(users=40, tracks=600, artists=200, days=60, sessions=300, plays_per_session=8),
    "demo": Preset(
        users=600, tracks=12_000, artists=3_000, days=180, sessions=6_200, plays_per_session=20
    ),
    "v2": Preset(
        users=5_000, tracks=130_000, artists=27_650, days=365, sessions=140_000,
        plays_per_session=21,
    ),
}  # fmt: skip
#: Scaled presets: (base preset, scale).
SCALED_PRESETS = {"v2x10": ("v2", 10)}
END_DATE = datetime(2024, 12, 31)  # the last day of every generated export


@dataclass(frozen=True)
class GenerateOptions:
    preset: str = "demo"
    seed: int = 7
    timestamps: str = "iso"  # iso | epoch_ms | offset
    event_case: str = "lower"  # lower | upper | title
    arrays: bool = False
    session_id_last: bool = False
    daily_drops: bool = False
    dirty: bool = False
    signal: float = 1.0  # scales every planted effect; 0 gives skips that nothing predicts
    scale: int = 1  # N times the users and sessions, streamed in N chunks


def resolve_preset(name: str, scale: int = 1) -> tuple[Preset, int]:
    """The base preset and the scale of a preset name (``v2x10`` is ``v2`` at scale 10)."""
    if name in SCALED_PRESETS:
        name, factor = SCALED_PRESETS[name]
        scale *= factor
    if name not in PRESETS:
        choices = sorted([*PRESETS, *SCALED_PRESETS])
        raise ValueError(f"unknown preset {name!r}; choose one of {choices}")
    if scale < 1:
        raise ValueError(f"--scale must be at least 1, not {scale}")
    return PRESETS[name], scale


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct 22-character base62 ids (as str)."""
    raw = ALPHABET[rng.integers(0, len(ALPHABET), size=(n, 22))].view("S22").ravel()
    ids = raw.astype(str)
    _, first = np.unique(ids, return_index=True)
    assert len(first) == n, "id collision"  # 62**22: never in practice
    return ids


def _z(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / (sd if sd > 0 else 1.0)


def _names(rng: np.random.Generator, n: int, words: int) -> list[str]:
    syl = rng.integers(0, len(SYLLABLES), size=(n, words * 2))
    return [
        " ".join(
            (SYLLABLES[row[2 * w]] + SYLLABLES[row[2 * w + 1]]).capitalize() for w in range(words)
        )
        for row in syl
    ]


def _genre_vocabulary() -> list[str]:
    return [p + g for g in BASE_GENRES for p in GENRE_PREFIXES]


def make_catalogue(rng: np.random.Generator, preset: Preset) -> dict:
    """Artists with genres, tracks with features, storage; all as numpy arrays."""
    vocab = _genre_vocabulary()
    n_genres = len(vocab)
    genre_weight = 1.0 / np.arange(1, n_genres + 1) ** 0.9
    genre_weight = rng.permutation(genre_weight)
    genre_weight /= genre_weight.sum()

    n_art = preset.artists
    artist_ids = _ids(rng, n_art)
    # Each artist: a main genre, plus up to 3 more of the same family (same base genre).
    n_art_genres = rng.integers(1, 5, size=n_art)
    main = rng.choice(n_genres, size=n_art, p=genre_weight)
    art_genres = np.full((n_art, 4), -1, dtype=np.int64)
    art_genres[:, 0] = main
    fam = main // len(GENRE_PREFIXES)
    for k in range(1, 4):
        other = fam * len(GENRE_PREFIXES) + rng.integers(0, len(GENRE_PREFIXES), size=n_art)
        art_genres[:, k] = np.where(k < n_art_genres, other, -1)
    artist_weight = rng.pareto(1.2, size=n_art) + 0.05

    n_tr = preset.tracks
    track_ids = _ids(rng, n_tr)
    track_artist = rng.choice(n_art, size=n_tr, p=artist_weight / artist_weight.sum())
    quality = rng.normal(size=n_tr)
    popularity = np.clip(np.round(45 + 15 * quality + rng.normal(0, 8, n_tr)), 0, 100)
    duration_ms = np.round(np.exp(rng.normal(np.log(215_000), 0.28, n_tr))).astype(np.int64)
    year = np.clip(np.round(2024 - rng.exponential(14, n_tr)), 1925, 2024).astype(int)
    month = rng.integers(1, 13, n_tr)
    day = rng.integers(1, 29, n_tr)
    precision = rng.choice(3, size=n_tr, p=[0.2, 0.03, 0.77])  # year, month, day
    feats = {
        "danceability": np.round(rng.beta(5, 3, n_tr), 3),
        "energy": np.round(rng.beta(4, 2.5, n_tr), 3),
        "loudness": np.round(np.clip(rng.normal(-8, 3.5, n_tr), -40, 1), 3),
        "speechiness": np.round(rng.beta(1.2, 12, n_tr), 4),
        "acousticness": np.round(rng.beta(0.8, 2.5, n_tr), 4),
        "instrumentalness": np.round(
            np.where(rng.random(n_tr) < 0.75, 0.0, rng.beta(0.5, 3, n_tr)), 4
        ),
        "liveness": np.round(rng.beta(1.5, 7, n_tr), 4),
        "valence": np.round(rng.beta(2.5, 2.5, n_tr), 3),
        "tempo": np.round(np.clip(rng.normal(120, 28, n_tr), 50, 220), 3),
    }  # fmt: skip
    storage_class = rng.choice(3, size=n_tr, p=[0.99, 0.009, 0.001])  # slow, medium, fast
    base_cost = np.array([0.01, 0.05, 0.2])[storage_class]
    daily_cost = base_cost * (1 + rng.normal(0, 0.01, n_tr))
    return {
        "vocab": vocab,
        "genre_weight": genre_weight,
        "artist_ids": artist_ids,
        "artist_names": _names(rng, n_art, 2),
        "art_genres": art_genres,
        "track_ids": track_ids,
        "track_names": _names(rng, n_tr, 3),
        "track_artist": track_artist,
        "popularity": popularity.astype(int),
        "duration_ms": duration_ms,
        "explicit": (rng.random(n_tr) < 0.12).astype(int),
        "key": rng.integers(0, 12, n_tr),
        "year": year,
        "month": month,
        "day": day,
        "precision": precision,
        "feats": feats,
        "storage_class": storage_class,
        "daily_cost": daily_cost,
    }


def make_users(rng: np.random.Generator, preset: Preset, cat: dict) -> dict:
    n = preset.users
    # favourite genres come from the genres the artists carry, weighted by how many carry them
    carried = cat["art_genres"][cat["art_genres"] >= 0]
    weight = np.bincount(carried, minlength=len(cat["vocab"])) / len(carried)
    fav = np.stack([rng.choice(len(weight), size=3, replace=False, p=weight) for _ in range(n)])
    propensity = 0.1 + 0.8 * rng.beta(1.3, 1.3, n)
    return {
        "user_ids": np.arange(101, 101 + n),
        "fav": fav,
        "premium": rng.random(n) < 0.3,
        "propensity": propensity,
        "activity": np.exp(rng.normal(0, 0.8, n)),
        "first": rng.integers(0, len(FIRST_NAMES), n),
        "last": rng.integers(0, len(LAST_NAMES), n),
        "city": rng.integers(0, len(CITIES), n),
        "street": rng.integers(0, len(STREETS), n),
        "number": rng.integers(1, 900, n),
    }


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def simulate(
    rng: np.random.Generator,
    preset: Preset,
    cat: dict,
    users: dict,
    signal: float = 1.0,
    first_session: int = 1,
) -> dict:
    """Sessions of plays with skips, likes, ads and premium purchases; event arrays.

    Session ids start at ``first_session`` (a later chunk of a scaled export continues them)."""
    n_s = preset.sessions
    start_day = END_DATE - timedelta(days=preset.days - 1)
    s_user = rng.choice(
        len(users["user_ids"]), size=n_s, p=users["activity"] / users["activity"].sum()
    )
    s_day = rng.integers(0, preset.days, n_s)
    hour = rng.choice(24, size=n_s, p=_hour_weights())
    s_start_s = s_day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, n_s)  # whole seconds
    order = np.lexsort((s_start_s, s_user))  # session ids follow user, then start (as real files)
    s_user, s_start_s = s_user[order], s_start_s[order]
    s_plays = 1 + rng.poisson(preset.plays_per_session - 1, n_s)

    # plays
    p_sess = np.repeat(np.arange(n_s), s_plays)
    n_p = len(p_sess)
    p_user = s_user[p_sess]
    p_track = _choose_tracks(rng, cat, users, p_user)
    first_in_session = np.r_[True, p_sess[1:] != p_sess[:-1]]
    repeat = (~first_in_session) & (rng.random(n_p) < 0.03)  # the same track again in a session
    for _ in range(3):  # propagate repeats of repeats
        p_track = np.where(repeat, np.r_[p_track[:1], p_track[:-1]], p_track)

    ag = cat["art_genres"][cat["track_artist"][p_track]]  # (n_p, 4)
    fav = users["fav"][p_user]  # (n_p, 3)
    genre_match = ((ag[:, :, None] == fav[:, None, :]) & (ag[:, :, None] >= 0)).any(axis=(1, 2))
    base = _logit(np.array([0.35]))[0]
    logit = base + signal * (
        _logit(users["propensity"][p_user])
        - base
        - 1.0 * genre_match
        - 0.5 * _z(cat["popularity"].astype(float))[p_track]
        - 0.25 * _z(cat["feats"]["danceability"])[p_track]
        + 0.35 * _z(cat["duration_ms"].astype(float))[p_track]
        - 0.3 * users["premium"][p_user]
    )
    p_skip = 1 / (1 + np.exp(-logit))
    skipped = rng.random(n_p) < p_skip

    dur = cat["duration_ms"][p_track]
    listened = np.where(skipped, np.round(dur * rng.uniform(0.03, 0.6, n_p)), dur).astype(np.int64)
    ad_after = (~users["premium"][p_user]) & (rng.random(n_p) < 0.25)
    ad_ms = np.where(ad_after, rng.integers(15_000, 31_000, n_p), 0)
    gap_ms = np.where(skipped & (rng.random(n_p) < 0.5), 0, rng.integers(0, 2_500, n_p))
    step = listened + ad_ms + gap_ms
    # play start = session start + time of the plays before it in the session
    cum = np.cumsum(step) - step
    sess_first = np.flatnonzero(first_in_session)
    cum -= np.repeat(cum[sess_first], s_plays)
    p_at_ms = s_start_s[p_sess].astype(np.int64) * 1000 + cum

    liked = rng.random(n_p) < np.where(skipped, 0.01, 0.12)
    like_at = p_at_ms + np.round(listened * rng.uniform(0.1, 0.95, n_p)).astype(np.int64)
    skip_at = p_at_ms + listened
    ad_at = p_at_ms + listened + np.where(skipped, 0, rng.integers(0, 800, n_p))
    buy = (~users["premium"][p_user]) & (~np.r_[p_sess[1:] == p_sess[:-1], False])
    buy &= rng.random(n_p) < 0.01  # at the end of ~1% of free users' sessions
    buy_at = ad_at + ad_ms + 1_000

    # events: (session, seq) orders them; seq = 8 * play position + kind order
    pos = np.arange(n_p) - np.repeat(sess_first, s_plays)
    parts = [
        (np.ones(n_p, bool), 0, p_at_ms),
        (liked, 1, like_at),
        (skipped, 2, skip_at),
        (ad_after, 3, ad_at),
        (buy, 4, buy_at),
    ]
    ev_play = np.concatenate([np.flatnonzero(mask) for mask, _, _ in parts])
    ev_kind = np.concatenate([np.full(mask.sum(), k, np.int8) for mask, k, _ in parts])
    ev_ms = np.concatenate([at[mask] for mask, _, at in parts])
    ev_sess = p_sess[ev_play]
    order = np.lexsort((ev_kind, pos[ev_play], ev_sess))
    ev_play, ev_kind, ev_ms, ev_sess = ev_play[order], ev_kind[order], ev_ms[order], ev_sess[order]
    has_track = ev_kind <= 2
    epoch0 = _naive_epoch_ms(start_day)
    return {
        "session_id": ev_sess + first_session,
        "user_id": users["user_ids"][p_user[ev_play]],
        "track_idx": np.where(has_track, p_track[ev_play], -1),
        "kind": ev_kind,
        "at_ms": ev_ms + epoch0,
        "truth": {
            "session_id": p_sess + first_session,
            "user_id": users["user_ids"][p_user],
            "track_idx": p_track,
            "at_ms": p_at_ms + epoch0,
            "p_skip": p_skip,
        },
    }


def _naive_epoch_ms(d: datetime) -> int:
    return int((d - datetime(1970, 1, 1)).total_seconds()) * 1000


def _hour_weights() -> np.ndarray:
    w = np.array([2, 1, 1, 1, 1, 1, 2, 4, 6, 6, 5, 5, 6, 6, 6, 7, 8, 9, 10, 10, 9, 8, 6, 4], float)
    return w / w.sum()


def _choose_tracks(
    rng: np.random.Generator, cat: dict, users: dict, p_user: np.ndarray
) -> np.ndarray:
    """45% of plays come from a favourite genre of the user, the rest by global popularity."""
    n_p = len(p_user)
    pop_w = (cat["popularity"] + 1.0) ** 2
    out = rng.choice(len(pop_w), size=n_p, p=pop_w / pop_w.sum())
    by_genre = rng.random(n_p) < 0.45
    want = users["fav"][p_user, rng.integers(0, 3, n_p)]
    track_genres = cat["art_genres"][cat["track_artist"]]  # (n_tracks, 4)
    for g in np.unique(want[by_genre]):
        rows = np.flatnonzero(by_genre & (want == g))
        pool = np.flatnonzero((track_genres == g).any(axis=1))
        if len(pool):
            w = pop_w[pool]
            out[rows] = pool[rng.choice(len(pool), size=len(rows), p=w / w.sum())]
    return out


def _dirty(rng: np.random.Generator, ev: dict) -> None:
    """v1-style dirt in place: ~5% nulls in user_id, track_id, event_type; orphan skips."""
    n = len(ev["kind"])
    ev["user_null"] = rng.random(n) < 0.05
    ev["track_null"] = rng.random(n) < 0.05
    ev["kind_null"] = rng.random(n) < 0.05


def _format_ts_sql(mode: str) -> str:
    if mode == "epoch_ms":
        return "cast(at_ms as varchar)"
    if mode == "offset":
        return (
            "'\"' || strftime(ts, '%Y-%m-%d %H:%M:%S') || '.' "
            "|| lpad(cast(cast(at_ms % 1000 as integer) as varchar), 3, '0') || ' +02:00:00\"'"
        )
    return (
        "'\"' || case when at_ms % 1000 = 0 then strftime(ts, '%Y-%m-%dT%H:%M:%S') "
        "else strftime(ts, '%Y-%m-%dT%H:%M:%S.%f') end || '\"'"
    )


def _write_sessions(
    out: Path, ev: dict, cat: dict, opts: GenerateOptions, append: bool = False
) -> int:
    """Write the events as JSON lines (appended to the files of earlier chunks when ``append``)."""
    spell = EVENT_SPELLINGS[opts.event_case]
    n = len(ev["kind"])
    track = np.where(ev["track_idx"] >= 0, cat["track_ids"][np.maximum(ev["track_idx"], 0)], None)
    table = pa.table(
        {
            "session_id": ev["session_id"],
            "at_ms": ev["at_ms"],
            "user_id": pa.array(ev["user_id"], mask=ev.get("user_null", np.zeros(n, bool))),
            "track_id": pa.array(track, pa.string(), mask=ev.get("track_null", np.zeros(n, bool))),
            "event_type": pa.array(
                np.array([spell[k] for k in KIND_CODES])[ev["kind"]],
                mask=ev.get("kind_null", np.zeros(n, bool)),
            ),
            "seq": np.arange(n),
        }
    )
    q = {
        "sid": "cast(session_id as varchar)",
        "ts": _format_ts_sql(opts.timestamps),
        "uid": "coalesce(cast(user_id as varchar), 'null')",
        "tid": "coalesce('\"' || track_id || '\"', 'null')",
        "et": "coalesce('\"' || event_type || '\"', 'null')",
    }
    if opts.arrays:
        items = " || ', ' || ".join(q[k] for k in ("ts", "uid", "tid", "et", "sid"))
        line = f"'[' || {items} || ']'"
    else:
        keys = ["timestamp", "user_id", "track_id", "event_type"]
        vals = [q["ts"], q["uid"], q["tid"], q["et"]]
        if opts.session_id_last:
            keys, vals = keys + ["session_id"], vals + [q["sid"]]
        else:
            keys, vals = ["session_id"] + keys, [q["sid"]] + vals
        body = " || ', ' || ".join(f"'\"{k}\": ' || {v}" for k, v in zip(keys, vals, strict=True))
        line = f"'{{' || {body} || '}}'"
    con = duckdb.connect()
    try:
        con.register("events", table)
        con.execute(
            "create table lines as select seq, cast(make_timestamp(at_ms * 1000) as date) as day, "
            f"{line} || chr(10) as line from (select *, make_timestamp(at_ms * 1000) as ts "
            "from events) order by seq"
        )
        if opts.daily_drops:
            (out / "sessions").mkdir(parents=True, exist_ok=True)
            days = [
                r[0] for r in con.execute("select distinct day from lines order by day").fetchall()
            ]
            for d in days:
                _write_lines(
                    con,
                    f"select line from lines where day = '{d}' order by seq",
                    out / "sessions" / f"{d}.jsonl",
                    append,
                )
        else:
            _write_lines(con, "select line from lines order by seq", out / "sessions.jsonl", append)
    finally:
        con.close()
    return n


def _write_lines(
    con: duckdb.DuckDBPyConnection, query: str, path: Path, append: bool = False
) -> None:
    """Write a column of newline-terminated strings straight from Arrow buffers."""
    reader = con.sql(query).to_arrow_reader(500_000)
    with open(path, "ab" if append else "wb") as f:
        for batch in reader:
            col = batch.column(0).cast(pa.large_string())
            if len(col) == 0:
                continue
            joined = pc.binary_join_element_wise(col, "") if col.offset else col
            _, offsets, data = joined.buffers()
            offs = np.frombuffer(
                offsets, dtype=np.int64, count=len(joined) + 1, offset=joined.offset * 8
            )
            f.write(memoryview(data)[offs[0] : offs[-1]])


def _jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r))
            f.write("\n")


def _release_date(cat: dict, i: int) -> str:
    y, m, d, p = cat["year"][i], cat["month"][i], cat["day"][i], cat["precision"][i]
    return f"{y:04d}" if p == 0 else f"{y:04d}-{m:02d}" if p == 1 else f"{y:04d}-{m:02d}-{d:02d}"


def _write_catalogue(
    out: Path, rng: np.random.Generator, cat: dict, users: dict, dirty: bool
) -> None:
    vocab = cat["vocab"]
    artists = []
    art_bad_id = rng.random(len(cat["artist_ids"])) < (0.05 if dirty else 0)
    art_null_genres = rng.random(len(cat["artist_ids"])) < (0.04 if dirty else 0)
    for i, aid in enumerate(cat["artist_ids"]):
        genres = sorted({vocab[g] for g in cat["art_genres"][i] if g >= 0})
        artists.append(
            {
                "id": -1 if art_bad_id[i] else aid,
                "name": cat["artist_names"][i],
                "genres": None if art_null_genres[i] else genres,
            }
        )
    _jsonl(out / "artists.jsonl", artists)

    tracks = []
    for i, tid in enumerate(cat["track_ids"]):
        row = {
            "id": tid,
            "name": cat["track_names"][i],
            "popularity": int(cat["popularity"][i]),
            "duration_ms": int(cat["duration_ms"][i]),
            "explicit": int(cat["explicit"][i]),
            "id_artist": cat["artist_ids"][cat["track_artist"][i]],
            "release_date": _release_date(cat, i),
        }
        for name in ("danceability", "energy"):
            row[name] = float(cat["feats"][name][i])
        row["key"] = int(cat["key"][i])
        for name in (
            "loudness",
            "speechiness",
            "acousticness",
            "instrumentalness",
            "liveness",
            "valence",
            "tempo",
        ):
            row[name] = float(cat["feats"][name][i])
        tracks.append(row)
    _jsonl(out / "tracks.jsonl", tracks)

    classes = np.array(["slow", "medium", "fast"])
    _jsonl(
        out / "track_storage.jsonl",
        [
            {
                "track_id": tid,
                "storage_class": str(classes[cat["storage_class"][i]]),
                "daily_cost": float(cat["daily_cost"][i]),
            }
            for i, tid in enumerate(cat["track_ids"])
        ],
    )

    n_u = len(users["user_ids"])
    u_stray = rng.random(n_u) < (0.1 if dirty else 0)
    u_null_genres = rng.random(n_u) < (0.04 if dirty else 0)
    u_null_premium = rng.random(n_u) < (0.04 if dirty else 0)
    rows = []
    for i, uid in enumerate(users["user_ids"]):
        row = {
            "user_id": int(uid),
            "name": f"{FIRST_NAMES[users['first'][i]]} {LAST_NAMES[users['last'][i]]}",
            "city": CITIES[users["city"][i]],
            "street": f"{STREETS[users['street'][i]]} {users['number'][i]}",
            "favourite_genres": None if u_null_genres[i] else [vocab[g] for g in users["fav"][i]],
            "premium_user": None if u_null_premium[i] else bool(users["premium"][i]),
        }
        if u_stray[i]:
            row["id"] = -1
        rows.append(row)
    _jsonl(out / "users.jsonl", rows)


def _truth_table(sim: dict, cat: dict) -> pa.Table:
    t = sim["truth"]
    table = pa.table(
        {
            "session_id": pa.array(t["session_id"], pa.int64()),
            "user_id": pa.array(t["user_id"], pa.int64()),
            "track_id": pa.array(cat["track_ids"][t["track_idx"]], pa.string()),
            "started_at": pa.array(t["at_ms"], pa.timestamp("ms")).cast(pa.timestamp("us")),
            "p_skip": pa.array(t["p_skip"], pa.float64()),
        }
    )
    return table


def _chunk(users: dict, lo: int, hi: int) -> dict:
    return {k: v[lo:hi] for k, v in users.items()}


def generate(out_dir: str | Path, opts: GenerateOptions) -> str:
    """Write a synthetic export into ``out_dir``; return a one-line summary.

    At scale N the users are simulated in N chunks of the base preset's users, each appended to
    the files as it is done: memory is that of one chunk whatever N."""
    base, scale = resolve_preset(opts.preset, opts.scale)
    preset = replace(base, users=base.users * scale, sessions=base.sessions * scale)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in [out / "sessions.jsonl", *sorted((out / "sessions").glob("*.jsonl"))]:
        stale.unlink(missing_ok=True)
    rng = np.random.default_rng(opts.seed)
    cat = make_catalogue(rng, preset)
    users = make_users(rng, preset, cat)
    n_events = n_plays = 0
    next_session = 1
    truth_writer = None
    try:
        for k in range(scale):
            # chunk 0 draws from the export's stream (scale 1 is unchanged), the others their own
            chunk_rng = rng if k == 0 else np.random.default_rng([opts.seed, k])
            part = _chunk(users, k * base.users, (k + 1) * base.users)
            sim = simulate(chunk_rng, base, cat, part, opts.signal, next_session)
            if opts.dirty:
                _dirty(chunk_rng, sim)
            n_events += _write_sessions(out, sim, cat, opts, append=k > 0)
            truth = _truth_table(sim, cat)
            if truth_writer is None:
                truth_writer = pq.ParquetWriter(
                    out / "_truth.parquet", truth.schema, compression="zstd"
                )
            truth_writer.write_table(truth)
            n_plays += truth.num_rows
            next_session += base.sessions
            del sim, truth
            if k == 0:  # the catalogue draws from the export's stream after chunk 0, as before
                _write_catalogue(out, rng, cat, users, opts.dirty)
    finally:
        if truth_writer is not None:
            truth_writer.close()
    name = opts.preset if opts.scale == 1 else f"{opts.preset} x{opts.scale}"
    return (
        f"wrote {name} export to {out}: {n_events:,} events, {n_plays:,} plays, "
        f"{preset.users:,} users, {preset.tracks:,} tracks, {preset.artists:,} artists"
    )
