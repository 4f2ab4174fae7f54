"""The snapshot's reader (scoring/decide/serving.py Snapshot) on a hand-made snapshot: the arithmetic
of a computed answer, which source answers, and the manifests it refuses."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoring.decide import policy
from scoring.decide.serving import FORMAT, MANIFEST, Snapshot, SnapshotError, SnapshotReader

T1, T2, T3 = "a" * 22, "b" * 22, "c" * 22
PAIR_WEIGHTS = [  # feature, transform, impute, center, scale, weight
    ("is_favourite_genre", "boolean", 0.5, 0.3, 0.5, 0.8),
    ("favourite_genre_matches", "none", 0.0, 0.4, 0.7, 0.1),
    ("user_genre_listens_before", "log1p", 1.0, 1.2, 1.1, -0.3),
    ("user_genre_skip_rate", "none", 0.3, 0.35, 0.1, -0.6),
]


def _write(serving: Path, tables: dict[str, pa.Table], **overrides) -> dict:
    serving.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind, table in tables.items():
        name = f"{kind}_test.parquet"
        pq.write_table(table, serving / name)
        digest = hashlib.sha256((serving / name).read_bytes()).hexdigest()
        files[kind] = {"file": name, "row_count": table.num_rows, "sha256": digest}
    manifest = {
        "format": FORMAT,
        "decision_date": "2025-01-01",
        "run_id": "run1",
        "model_version": "svc-test",
        "decision_policy": "svc-test",
        "threshold": 0.5,
        "arm_shares": {"model": 0.5, "naive": 0.5},
        "published_at": 1.0,
        "scoring": {
            "policy": "svc-test",
            "global_skip_rate": 0.3,
            "cold_user_skip_rate": 0.3,
            "skip_rate_prior_weight": 10.0,
            "intercept": 0.2,
            "sigmoid_a": 1.5,
            "sigmoid_b": -0.1,
            "global_part": 0.05,
            "cold_user_part": -0.2,
            "cold_track_part": 0.1,
            "pair_features": [
                dict(
                    zip(
                        ["feature", "transform", "impute_value", "center", "scale", "weight"],
                        w,
                        strict=True,
                    )
                )
                for w in PAIR_WEIGHTS
            ],  # fmt: skip
        },
        "files": files,
        "row_count": sum(f["row_count"] for f in files.values()),
        **overrides,
    }
    (serving / MANIFEST).write_text(json.dumps(manifest))
    return manifest


def _tables() -> dict[str, pa.Table]:
    return {
        "decisions": pa.table(
            {
                "user_id": [1],
                "track_id": [T1],
                "arm": [policy.arm_of(1, {"model": 0.5, "naive": 0.5})],
                "p_play": [0.77],
                "should_cache": [True],
                "model_version": ["svc-test"],
            }
        ),  # fmt: skip
        "track_defaults": pa.table(
            {
                "track_id": [T1, T2],
                "p_play": [0.6, 0.4],
                "should_cache": [True, False],
                "model_version": ["track-default:svc-test"] * 2,
            }
        ),  # fmt: skip
        "users": pa.table(
            {"user_id": [1, 2], "user_part": [0.3, -0.4], "user_skip_rate": [0.2, 0.6]}
        ),  # fmt: skip
        "tracks": pa.table(
            {
                "track_id": [T1, T2],
                "track_part": [0.25, -0.15],
                "genres": pa.array([["pop", "rock"], ["jazz"]], pa.list_(pa.string())),
            }
        ),  # fmt: skip
        "user_genres": pa.table(
            {
                "user_id": [2, 2, 2],
                "genre": ["pop", "rock", "metal"],
                "user_genre_listens_before": [4, 6, 9],
                "user_genre_skips_before": [1, 3, 9],
                "is_favourite_genre": [True, False, True],
            }
        ),  # fmt: skip
    }


def _by_hand(user_part, track_part, skip_rate, fav, matches, listens, skips) -> float:
    x = {
        "is_favourite_genre": 1.0 if fav else 0.0,
        "favourite_genre_matches": float(matches),
        "user_genre_listens_before": math.log(1 + listens),
        "user_genre_skip_rate": (skips + 10 * skip_rate) / (listens + 10),
    }
    margin = 0.2 + 0.05 + user_part + track_part
    for feature, _, _, center, scale, weight in PAIR_WEIGHTS:
        margin += weight * (x[feature] - center) / scale
    return 1 / (1 + math.exp(-(1.5 * margin - 0.1)))


def test_a_computed_answer_is_the_linear_model_over_the_parts(tmp_path: Path):
    _write(tmp_path, _tables())
    snap = Snapshot(tmp_path)
    # user 2 x track 1 (pop, rock): favourite pop, history on both genres
    p, fav, known = snap.compute(2, T1)
    assert (fav, known) == (True, True)
    assert p == pytest.approx(_by_hand(-0.4, 0.25, 0.6, True, 1, 10, 4), abs=1e-12)
    # user 2 x track 2 (jazz): no history, not a favourite
    assert snap.compute(2, T2)[0] == pytest.approx(
        _by_hand(-0.4, -0.15, 0.6, False, 0, 0, 0), abs=1e-12
    )
    # unknown user: the cold-start part and rate; unknown track: cold part, no genres
    assert snap.compute(99, T1) == (pytest.approx(_by_hand(-0.2, 0.25, 0.3, False, 0, 0, 0)),
                                    False, False)  # fmt: skip
    assert snap.compute(2, T3)[2] is False


def test_which_source_answers(tmp_path: Path):
    _write(tmp_path, _tables())
    snap = Snapshot(tmp_path)
    own_arm = snap.arm_of(1)
    candidate = snap.answer(1, T1)
    assert (candidate.source, candidate.p_play, candidate.arm) == ("pair", 0.77, own_arm)
    other_arm = policy.NAIVE if own_arm == policy.MODEL else policy.MODEL
    assert snap.answer(1, T1, other_arm).source == "model"  # the row is another arm's
    naive = snap.answer(2, T1, policy.NAIVE)
    assert (naive.p_play, naive.policy, naive.should_cache) == (1.0, policy.NAIVE_RULE, True)
    held = snap.answer(2, T1, policy.HOLDOUT)
    assert held.should_cache is False and held.p_play == snap.compute(2, T1)[0]
    assert snap.answer(123456, T3).source == "cold_start"
    assert snap.answer(2, T1, policy.MODEL).prediction == (
        "PLAY" if snap.compute(2, T1)[0] >= 0.5 else "SKIP"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"decision_policy": policy.BASELINE_USER_HISTORY},
        {"decision_policy": policy.BASELINE_CONSTANT},
        {"decision_policy": policy.BASELINE_NAIVE},
        {"threshold": 0.0},
    ],
)
def test_a_batch_is_answered_as_each_pair_alone(tmp_path: Path, overrides):
    """decide_many (POST /decisions, column-wise) against decide (one pair) on every kind of
    pair: a candidate in its arm and in another, known and unknown users and tracks, a pair
    whose user and track are only in the nightly rows, in every arm."""
    tables = _tables()
    pair_only = pa.table(
        {
            "user_id": [7],
            "track_id": [T3],
            "arm": [policy.arm_of(7, {"model": 0.5, "naive": 0.5})],
            "p_play": [0.12],
            "should_cache": [False],
            "model_version": ["svc-older"],
        }
    )  # fmt: skip
    tables["decisions"] = pa.concat_tables([tables["decisions"], pair_only])
    _write(tmp_path, tables, **overrides)
    snap = Snapshot(tmp_path)
    users, tracks = zip(*[(u, t) for u in (1, 2, 7, 99, 10**12) for t in (T1, T2, T3)], strict=True)
    for arm in (None, *policy.ARMS):
        columns = snap.decide_many(list(users), list(tracks), arm)
        for i, (user, track) in enumerate(zip(users, tracks, strict=True)):
            assert tuple(c[i] for c in columns) == snap.decide(user, track, arm), (user, track, arm)


def test_without_a_finite_model_answer_the_track_default_answers(tmp_path: Path):
    tables = _tables()
    manifest = _write(tmp_path, tables)
    _write(tmp_path, tables, scoring={**manifest["scoring"], "sigmoid_a": math.nan})
    snap = Snapshot(tmp_path)
    assert snap.decide(2, T2, policy.MODEL)[2:] == (0.4, "svc-test", "model", "track_default")
    assert snap.decide(2, T3, policy.MODEL)[2] == pytest.approx(1 - 0.3)  # no default: global
    columns = snap.decide_many([2, 2, 2], [T1, T2, T3], policy.MODEL)
    assert [c[1] for c in zip(*columns, strict=True)] == [
        snap.decide(2, t, policy.MODEL)[1] for t in (T1, T2, T3)
    ]
    assert columns[5] == ["track_default"] * 3


def test_a_baseline_snapshot_answers_by_its_rule(tmp_path: Path):
    _write(tmp_path, _tables(), decision_policy=policy.BASELINE_USER_HISTORY)
    snap = Snapshot(tmp_path)
    assert snap.answer(2, T2, policy.MODEL).p_play == pytest.approx(1 - 0.6)
    assert snap.answer(77, T2, policy.MODEL).p_play == pytest.approx(1 - 0.3)  # cold start


@pytest.mark.parametrize(
    "change, message",
    [
        ({"format": 1}, "format"),
        ({"decision_date": "2025-13-45"}, "month"),
        ({"arm_shares": {}}, "--arms"),
        ({"threshold": "high"}, "high"),
        ({"model_version": 'svc"},{'}, "plain name"),
        ({"scoring": {}}, "global_skip_rate"),
    ],
)
def test_a_broken_manifest_is_refused_with_its_reason(tmp_path: Path, change, message):
    _write(tmp_path, _tables(), **change)
    with pytest.raises(SnapshotError, match=message):
        Snapshot(tmp_path)


def test_a_file_that_differs_from_the_manifest_is_refused(tmp_path: Path):
    manifest = _write(tmp_path, _tables())
    (tmp_path / manifest["files"]["users"]["file"]).write_bytes(b"not parquet")
    with pytest.raises(SnapshotError, match="sha256"):
        Snapshot(tmp_path)
    manifest["files"]["users"]["row_count"] = 5
    manifest["files"]["users"]["sha256"] = hashlib.sha256(b"not parquet").hexdigest()
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(SnapshotError):
        Snapshot(tmp_path)


def test_the_reader_reloads_only_a_new_manifest(tmp_path: Path):
    assert SnapshotReader(tmp_path).lookup(1, T1) is None  # nothing published yet
    _write(tmp_path, _tables())
    reader = SnapshotReader(tmp_path)
    assert reader.lookup(1, T1).source == "pair"
    assert reader.reload() is False
    _write(tmp_path / "next", _tables(), run_id="run2")
    (tmp_path / "next" / MANIFEST).replace(tmp_path / MANIFEST)  # a new file: a new night
    for f in (tmp_path / "next").iterdir():
        f.replace(tmp_path / f.name)
    assert reader.reload() is True and reader.manifest["run_id"] == "run2"
