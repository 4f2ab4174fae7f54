"""The cache service over HTTP: parity with SQL scoring, the contract, bad input, the served
log, reloads. Every test starts the real `skipcache serve` on a free loopback port."""

from __future__ import annotations

import functools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from helpers import NO_SERVED_LOGS, promtool_check, query
from service_helpers import Client, running_service, stop

from scoring.config import DBT_ENV, PROJECT_ROOT
from scoring.decide import policy
from scoring.decide.serving import Snapshot, publish, read_manifest
from scoring.model.sql_scoring import p_play_sql

PAIR = {"user_id": 101, "track_id": "31PzY79H10HCgJs533Xq6B"}
ENDPOINTS = ["/naive", "/recommend", "/abtest"]


# The call the feature models make (e.g. models_sql/marts/decisions/scoring_features.sql),
# on a relation of the test's pairs.
REQUEST_FEATURES_INLINE = (
    "{{ request_features('parity_requests',"
    " user_features=ref('user_features_daily'), track_features=ref('track_features_daily'),"
    " global_features=ref('global_features_daily'),"
    " user_genre_features=ref('user_genre_features_daily'),"
    " users=ref('dim_users'), tracks=ref('dim_tracks'),"
    " artist_genres=ref('stg_pozytywka__artist_genres'),"
    " favourite_genres=ref('stg_pozytywka__user_favourite_genres')) }}"
)


@functools.cache
def _compiled_request_features(warehouse: Path, tmp: Path) -> str:
    """The request_features macro compiled for a relation `parity_requests` (once: the SQL
    names the catalog by the warehouse file's stem, always skipcache here)."""
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "compile", "--quiet", "--project-dir",
         str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT), "--target-path",
         str(tmp / "target"), "--log-path", str(tmp / "logs"),
         "--inline", REQUEST_FEATURES_INLINE],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
        env={**os.environ, **DBT_ENV, "SKIPCACHE_WAREHOUSE": str(warehouse)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _sql_scores(warehouse: Path, tmp: Path, pairs: list[tuple[int, str]], night: str, version):
    """SQL scoring of the pairs' features (request_features, the exported weights)."""
    copy = tmp / "parity" / "skipcache.duckdb"  # the compiled SQL names the catalog skipcache
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(warehouse, copy)
    sql = _compiled_request_features(copy, Path(tempfile.gettempdir()) / "skipcache-parity")
    con = duckdb.connect(str(copy))
    try:
        frame = pd.DataFrame(pairs, columns=["user_id", "track_id"])
        frame["request_id"] = frame.index.astype(str)
        con.register("pairs", frame)
        con.execute(
            "create temp table parity_requests as select request_id, user_id::bigint as user_id, "
            f"track_id, date '{night}' as feature_date from pairs"
        )
        expr = (
            p_play_sql(con, version, "f")
            if policy.is_model(version)
            else policy.baseline_p_play_sql(version, "f")
        )
        rows = con.execute(f"select f.user_id, f.track_id, {expr} from ({sql}) as f").fetchall()
    finally:
        con.close()
    return {(u, t): float(p) for u, t, p in rows}


def _sample_pairs(wh: Path, n_other: int, seed: int = 0) -> tuple[list, list]:
    """Every candidate pair of the night, and n_other other pairs: known users and tracks
    mostly, unknown users and unknown tracks included."""
    rng = random.Random(seed)
    candidates = query(wh, "select user_id, track_id from decisions.cache_decisions")
    users = [u for (u,) in query(wh, "select user_id from marts.dim_users order by 1")]
    tracks = [t for (t,) in query(wh, "select track_id from marts.dim_tracks order by 1")]
    taken = set(candidates)
    other: set = set()
    while len(other) < n_other:
        draw = rng.random()
        user = rng.choice(users) if draw < 0.9 else 10**9 + rng.randrange(10**6)
        if draw < 0.8 or draw >= 0.9:
            track = rng.choice(tracks)
        else:
            track = "".join(rng.choice("0123456789abcdefXYZ") for _ in range(22))
        if (user, track) not in taken:
            other.add((user, track))
    return candidates, sorted(other)


def _ask(client: Client, pairs: list, name: str) -> list[dict]:
    answers = []
    for i in range(0, len(pairs), 10_000):
        chunk = [{"user_id": u, "track_id": t} for u, t in pairs[i : i + 10_000]]
        status, body = client.post("/decisions", {"pairs": chunk, "policy": name})
        assert status == 200, body
        answers += body["answers"]
    return answers


def test_every_pair_gets_the_p_play_of_sql_scoring(demo_night, tmp_path: Path):
    _, wh = demo_night
    manifest = read_manifest(wh.parent / "serving")
    version, night = manifest["decision_policy"], manifest["decision_date"]
    assert policy.is_model(version)  # the demo export has planted signal: promoted
    candidates, other = _sample_pairs(wh, 100_000)
    assert len(candidates) > 10_000
    expected = _sql_scores(wh, tmp_path, candidates + other, night, version)
    stored = {
        (u, t): (a, p, c)
        for u, t, a, p, c in query(
            wh, "select user_id, track_id, arm, p_play, should_cache from decisions.cache_decisions"
        )
    }
    with running_service(wh) as service:
        client = service.client()
        recommended = _ask(client, candidates + other, "recommend")
        by_arm = _ask(client, candidates, "abtest")
    threshold = manifest["threshold"]
    worst, sources = 0.0, {}
    for a in recommended:
        key = (a["user_id"], a["track_id"])
        worst = max(worst, abs(a["p_play"] - expected[key]))
        assert a["should_cache"] == (expected[key] >= threshold), a
        sources[a["source"]] = sources.get(a["source"], 0) + 1
    assert worst <= 1e-9, worst
    # known pairs are the model's; unknown users or tracks its cold start
    assert sources["model"] > 50_000 and sources["cold_start"] > 5_000, sources
    # a candidate answered in its own arm is its nightly row, which is the same number
    for a in by_arm:
        arm, p, cache = stored[(a["user_id"], a["track_id"])]
        assert (a["source"], a["arm"], a["p_play"], a["should_cache"]) == ("pair", arm, p, cache)
        if arm != policy.NAIVE:
            assert abs(p - expected[(a["user_id"], a["track_id"])]) <= 1e-9


@pytest.mark.parametrize("baseline", [policy.BASELINE_USER_HISTORY, policy.BASELINE_NAIVE])
def test_a_baseline_policy_answers_every_pair(night, tmp_path: Path, baseline: str):
    """When the gate fell back to a baseline, the snapshot answers every pair by it."""
    _, wh = night
    day = date.fromisoformat(read_manifest(wh.parent / "serving")["decision_date"])
    con = duckdb.connect(str(wh), read_only=True)
    try:
        publish(con, tmp_path / "serving", day, "test", baseline, {"model": 1.0}, 0.5)
    finally:
        con.close()
    snap = Snapshot(tmp_path / "serving")
    candidates, other = _sample_pairs(wh, 3_000)
    expected = _sql_scores(wh, tmp_path, other, day.isoformat(), baseline)
    for pair in other:
        answer = snap.answer(*pair, arm=policy.MODEL)
        assert answer.p_play == pytest.approx(expected[pair], abs=1e-12)
        assert answer.policy == baseline and answer.source in {"model", "cold_start"}


def test_the_contract_of_each_endpoint(night):
    _, wh = night
    user, track, arm = query(
        wh, "select user_id, track_id, arm from decisions.cache_decisions order by 1, 2 limit 1"
    )[0]
    fields = {"request_id", "served_at", "endpoint", "user_id", "track_id", "prediction",
              "should_cache", "p_play", "policy", "arm", "model_version", "decision_date",
              "source"}  # fmt: skip
    with running_service(wh) as service:
        client = service.client()
        for path in ENDPOINTS:
            status, body = client.post(path, {"user_id": user, "track_id": track})
            assert status == 200 and set(body) == fields, body
            assert body["prediction"] == ("PLAY" if body["p_play"] >= 0.5 else "SKIP")
        assert client.post("/naive", {"user_id": user, "track_id": track})[1]["arm"] == "naive"
        assert client.post("/recommend", {"user_id": user, "track_id": track})[1]["arm"] == "model"
        ab = client.post("/abtest", {"user_id": user, "track_id": track})[1]
        assert (ab["arm"], ab["source"]) == (arm, "pair")
        assert ab["arm"] == policy.arm_of(user, read_manifest(wh.parent / "serving")["arm_shares"])
        # an unknown user and track still get an answer
        status, body = client.post("/abtest", {"user_id": 987654321, "track_id": "Z" * 22})
        assert status == 200 and body["source"] == "cold_start"
        status, body = client.post("/decisions", {"pairs": [PAIR, {**PAIR, "user_id": 102}]})
        assert status == 200 and len(body["answers"]) == 2
        assert {a["request_id"] for a in body["answers"]} == {body["request_id"]}
        assert client.get("/healthz")[0] == 200
        status, ready = client.get("/readyz")
        ready = json.loads(ready)
        assert status == 200 and ready["decision_date"] == ab["decision_date"]
        assert ready["age_seconds"] >= 0
        status, spec = client.get("/openapi.json")
        spec = json.loads(spec)
        for path in [*ENDPOINTS, "/decisions"]:
            post = spec["paths"][path]["post"]
            ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
            assert schema.get("examples") and schema["required"], path
            assert {"200", "413", "422"} <= set(post["responses"]), path
        assert "AnswerOut" in spec["components"]["schemas"]
        refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(spec)))
        assert refs and refs <= set(spec["components"]["schemas"]), refs  # every $ref resolves
        status, page = client.get("/docs")  # Swagger UI from the installed package, no CDN
        assert status == 200 and b"/static/swagger/swagger-ui-bundle.js" in page
        assert b"cdn." not in page
        assert client.get("/static/swagger/swagger-ui-bundle.js")[0] == 200
        status, metrics = client.get("/metrics")
        text = metrics.decode()
        assert status == 200
        assert 'skipcache_service_requests_total{endpoint="abtest",status="200"} 3.0' in text
        assert "skipcache_service_request_duration_seconds_bucket" in text
        assert "skipcache_service_snapshot_decision_date_seconds" in text
        promtool_check(text)


def test_bad_input_gets_a_clear_4xx_and_never_a_5xx(night):
    _, wh = night
    with running_service(wh) as service:
        client = service.client()
        cases = [
            ({"track_id": PAIR["track_id"]}, "user_id"),
            ({"user_id": "101", "track_id": PAIR["track_id"]}, "user_id"),
            ({"user_id": 1.5, "track_id": PAIR["track_id"]}, "user_id"),
            ({"user_id": True, "track_id": PAIR["track_id"]}, "user_id"),
            ({"user_id": 2**64, "track_id": PAIR["track_id"]}, "user_id"),
            ({"user_id": None, "track_id": PAIR["track_id"]}, "user_id"),
            ({"user_id": 101}, "track_id"),
            ({"user_id": 101, "track_id": None}, "track_id"),
            ({"user_id": 101, "track_id": ""}, "track_id"),
            ({"user_id": 101, "track_id": "short"}, "track_id"),
            ({"user_id": 101, "track_id": "!" * 22}, "track_id"),
            ({"user_id": 101, "track_id": 12345}, "track_id"),
        ]
        for path in ENDPOINTS:
            for payload, field in cases:
                status, body = client.post(path, payload)
                assert status == 422, (path, payload, body)
                assert body["detail"][0]["loc"] == ["body", field], body
            for raw in [b"", b"{", b"[]", b"null", b"\xff\xfe"]:
                status, _ = client.request("POST", path, raw)
                assert status == 422, (path, raw)
            status, _ = client.request(
                "POST", path, b'{"user_id": 1, "pad": "' + b"x" * 70_000 + b'"}'
            )
            assert status == 413
        bad_batch = {"pairs": [PAIR, {"user_id": 5, "track_id": "no"}]}
        status, body = client.post("/decisions", bad_batch)
        assert status == 422 and body["detail"][0]["loc"] == ["body", "pairs", 1, "track_id"]
        status, _ = client.post("/decisions", {"pairs": [PAIR] * 10_001})
        assert status == 413
        status, body = client.post("/decisions", {"pairs": [PAIR] * 10_000})
        assert status == 200 and len(body["answers"]) == 10_000
        for bad_policy in ["other", [], {}, None, 3]:
            status, body = client.post("/decisions", {"pairs": [PAIR], "policy": bad_policy})
            assert status == 422 and body["detail"][0]["loc"] == ["body", "policy"], bad_policy
        assert client.get("/healthz")[0] == 200


def test_arbitrary_json_and_bytes_never_get_a_5xx(night):
    """Property-based: whatever is thrown at every endpoint, no 5xx and the service stays up."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    _, wh = night
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
        | st.text(max_size=30),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                     max_size=4),
        max_leaves=12,
    )  # fmt: skip
    pair_like = st.fixed_dictionaries(
        {"user_id": json_values | st.integers(), "track_id": json_values | st.text(max_size=30)}
    )
    bodies = (
        json_values.map(lambda v: json.dumps(v).encode())
        | pair_like.map(lambda v: json.dumps(v).encode())
        | st.fixed_dictionaries(
            {"pairs": st.lists(pair_like | json_values, max_size=5)},
            optional={"policy": json_values | st.sampled_from(["abtest", "recommend", "naive"])},
        ).map(lambda v: json.dumps(v).encode())
        | st.binary(max_size=200)
    )
    with running_service(wh) as service:
        client = service.client()

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(path=st.sampled_from([*ENDPOINTS, "/decisions"]), body=bodies)
        def check(path: str, body: bytes) -> None:
            status, text = client.request("POST", path, body)
            assert status < 500, (path, body, text)

        check()
        assert client.get("/healthz")[0] == 200
        assert service.proc.poll() is None


def _log_lines(wh: Path) -> list[bytes]:
    return b"".join(
        p.read_bytes() for p in sorted((wh.parent / "serving" / "requests").glob("*.jsonl"))
    ).splitlines()


def test_every_answer_is_logged_and_a_kill_loses_at_most_the_last_second(night, tmp_path: Path):
    _, source = night
    wh = tmp_path / "wh" / "skipcache.duckdb"
    shutil.copytree(source.parent / "serving", wh.parent / "serving", ignore=NO_SERVED_LOGS)
    torn = wh.parent / "serving" / "requests"
    torn.mkdir()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    (torn / f"{today}.jsonl").write_bytes(b'{"request_id": "torn", "served_at": "2024')
    with running_service(wh) as service:
        client = service.client()
        for path in ENDPOINTS:
            assert client.post(path, PAIR)[0] == 200
        assert client.post("/decisions", {"pairs": [PAIR] * 7})[0] == 200
        time.sleep(1.5)  # the writer flushes at least every second
        lines = _log_lines(wh)
        assert (
            lines[0] == b'{"request_id": "torn", "served_at": "2024'
        )  # left alone, on its own line
        records = [json.loads(line) for line in lines[1:]]
        assert len(records) == 10
        assert [r["endpoint"] for r in records] == ["naive", "recommend", "abtest"] + [
            "decisions"
        ] * 7
        assert set(records[0]) == {"request_id", "served_at", "endpoint", "user_id", "track_id",
                                   "arm", "policy", "model_version", "decision_date", "p_play",
                                   "should_cache", "source", "prediction"}  # fmt: skip
        for _ in range(20):
            assert client.post("/abtest", PAIR)[0] == 200
        time.sleep(1.5)
        stop(service.proc, signal.SIGKILL)
    assert len(_log_lines(wh)) == 1 + 10 + 20  # flushed within the second before the kill
    with running_service(wh) as service:  # a new writer after the kill appends cleanly
        assert service.client().post("/abtest", PAIR)[0] == 200
    assert all(json.loads(line) for line in _log_lines(wh)[1:])
    assert len(_log_lines(wh)) == 1 + 10 + 20 + 1  # stopping (SIGTERM) flushes the rest


def test_a_broken_snapshot_is_refused_and_sighup_reloads(night, tmp_path: Path):
    _, source = night
    wh = tmp_path / "wh" / "skipcache.duckdb"
    serving = wh.parent / "serving"
    shutil.copytree(source.parent / "serving", serving, ignore=NO_SERVED_LOGS)
    manifest = read_manifest(serving)
    with running_service(wh, reload_seconds=3600) as service:  # only SIGHUP reloads here
        client = service.client()
        broken = {**manifest, "run_id": "broken"}
        broken["files"] = {k: {**v, "sha256": "0" * 64} for k, v in manifest["files"].items()}
        _replace_manifest(serving, broken)
        os.killpg(service.proc.pid, signal.SIGHUP)
        time.sleep(1.5)
        status, ready = client.get("/readyz")
        assert status == 200 and json.loads(ready)["run_id"] == manifest["run_id"]
        assert client.post("/abtest", PAIR)[0] == 200
        metrics = client.get("/metrics")[1].decode()
        assert "skipcache_service_snapshot_refused_total 1.0" in metrics
        for broken in (
            {**manifest, "run_id": "bad-date", "decision_date": "2025-13-45"},
            {k: v for k, v in manifest.items() if k != "run_id"},
            {**manifest, "run_id": "no-arms", "arm_shares": {}},
            {**manifest, "run_id": "bad-threshold", "threshold": "high"},
        ):
            _replace_manifest(serving, broken)
            os.killpg(service.proc.pid, signal.SIGHUP)
            time.sleep(1.0)
            status, ready = client.get("/readyz")
            ready = json.loads(ready)
            assert status == 200 and ready["run_id"] == manifest["run_id"], ready
            assert ready["watcher_alive"] and ready["last_refused"]
            assert client.post("/abtest", PAIR)[0] == 200
        assert "skipcache_service_snapshot_refused_total 5.0" in client.get("/metrics")[1].decode()
        _replace_manifest(serving, {**manifest, "run_id": "fixed"})
        os.killpg(service.proc.pid, signal.SIGHUP)
        time.sleep(1.5)
        assert json.loads(client.get("/readyz")[1])["run_id"] == "fixed"
        assert "skipcache_service_reloads_total 2.0" in client.get("/metrics")[1].decode()


def _replace_manifest(serving: Path, manifest: dict) -> None:
    tmp = serving / ".manifest.tmp"
    tmp.write_text(json.dumps(manifest))
    os.replace(tmp, serving / "manifest.json")


def test_not_ready_until_a_snapshot_is_published(night, tmp_path: Path):
    _, source = night
    wh = tmp_path / "wh" / "skipcache.duckdb"
    wh.parent.mkdir()
    with running_service(wh, ready=False) as service:
        client = service.client()
        assert client.get("/readyz")[0] == 503
        status, _ = client.post("/abtest", PAIR)
        assert status == 503
        shutil.copytree(source.parent / "serving", wh.parent / "serving", ignore=NO_SERVED_LOGS)
        deadline = time.monotonic() + 10
        while client.get("/readyz")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert client.post("/abtest", PAIR)[0] == 200


def test_two_workers_share_the_port_and_the_metrics(night):
    _, wh = night
    with running_service(wh, workers=2) as service:
        for _ in range(3):  # new connections are spread over the workers
            client = service.client()
            for _ in range(5):
                assert client.post("/recommend", PAIR)[0] == 200
            client.close()
        metrics = service.client().get("/metrics")[1].decode()
    assert 'skipcache_service_requests_total{endpoint="recommend",status="200"} 15.0' in metrics
    promtool_check(metrics)


def test_the_load_of_a_real_nightly_run_sees_no_error_and_moves_to_the_new_night(
    night, tmp_path: Path
):
    raw, source = night
    wh = tmp_path / "wh" / "skipcache.duckdb"
    shutil.copytree(source.parent, wh.parent, ignore=NO_SERVED_LOGS)
    old = read_manifest(wh.parent / "serving")["decision_date"]
    new = (date.fromisoformat(old) + timedelta(days=1)).isoformat()
    users = [u for (u,) in query(wh, "select user_id from marts.dim_users")]
    tracks = [t for (t,) in query(wh, "select track_id from marts.dim_tracks")]
    seen: list[tuple[float, int, str | None]] = []
    stop_loop = threading.Event()
    with running_service(wh, reload_seconds=1.0) as service:

        def load() -> None:
            client, rng = service.client(), random.Random(1)
            while not stop_loop.is_set():
                pair = {"user_id": rng.choice(users), "track_id": rng.choice(tracks)}
                try:
                    status, body = client.post(rng.choice(ENDPOINTS), pair)
                except OSError as exc:
                    seen.append((time.time(), -1, repr(exc)))
                    continue
                seen.append((time.time(), status, body.get("decision_date")))

        thread = threading.Thread(target=load)
        thread.start()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "scoring", "nightly", "--raw-dir", str(raw),
                 "--warehouse", str(wh), "--date", new, "--quiet"],
                capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stdout + proc.stderr
            published = read_manifest(wh.parent / "serving")["published_at"]
            time.sleep(10)
        finally:
            stop_loop.set()
            thread.join()
    assert len(seen) > 100
    assert [s for s in seen if s[1] != 200] == []
    assert {s[2] for s in seen} == {old, new}
    first_new = min(t for t, _, day in seen if day == new)
    assert first_new - published <= 10
    assert all(day == new for t, _, day in seen if t > first_new + 1)


def test_no_finite_model_answer_falls_back_to_the_track_default(night):
    _, wh = night
    snap = Snapshot(wh.parent / "serving")
    user, track = next((u, t) for (u, t) in _sample_pairs(wh, 10)[1] if u in snap.users)
    track = next(iter(snap.tracks))
    snap.users[user] = (float("nan"), snap.users[user][1])  # a broken part
    answer = snap.answer(user, track, policy.MODEL)
    assert answer.source == "track_default"
    assert answer.p_play == snap.track_defaults[track]
