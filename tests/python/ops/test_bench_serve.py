"""`skipcache bench --serve` end to end on the tiny preset, with short cells: the real service,
the seed's design and the constant endpoint under the closed-loop load generator. Structure
and sanity only: figures are never asserted (no timed tests)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import run_cli

from scoring.ops.bench_serve import ServeOptions, _plan

SERVICE_KEYS = {
    "user_id", "track_id", "prediction", "should_cache", "p_play", "policy", "arm",
    "model_version", "decision_date", "source",
}  # fmt: skip


def _bench(out: Path, *args: str) -> tuple[dict, str]:
    proc = run_cli(
        "bench", "--serve", "--out", str(out), "--duration", "1", "--concurrency", "1,4",
        "--batches", "50,200", *args, timeout=1200,
    )  # fmt: skip
    return json.loads((out / "serve.json").read_text()), proc.stdout


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(cmdline)
    return found


def _check(results: dict, stdout: str, generator: str, workers: tuple[int, ...]) -> None:
    assert results["generator"]["name"] == generator
    assert f"load generator: {generator}" in stdout and "p99 ms" in stdout

    options = ServeOptions(
        concurrency=(1, 4), workers=workers, batches=(50, 200), generator=generator
    )
    expected = [
        (server, w, endpoint, c, b) for server, w, work in _plan(options) for endpoint, b, c in work
    ]
    cells = results["cells"]
    assert [(c["server"], c["workers"], c["endpoint"], c["concurrency"], c["batch"])
            for c in cells] == expected  # fmt: skip
    for c in cells:
        assert c["error"] is None, c
        assert c["requests"] > 0 and c["req_per_s"] > 0 and c["seconds"] > 0, c
        assert c["errors"] == 0 and c["non_2xx"] == 0, c
        assert 0 < c["p50_ms"] <= c["p99_ms"] <= c["max_ms"], c
        assert c["server_cpu_us_per_req"] > 0 and c["generator_cpu_us_per_req"] > 0, c
        if c["endpoint"] == "/decisions":
            assert c["batch"] in (50, 200) and c["pairs_per_s"] > 0, c
        else:
            assert c["batch"] is None and c["pairs_per_s"] is None, c

    servers = {(r["server"], r["workers"]): r for r in results["servers"]}
    assert set(servers) == {(s, w) for s, w, _ in _plan(options)}
    for run in servers.values():
        assert run["error"] is None and run["startup_s"] > 0, run
    for w in workers:
        run = servers[("service", w)]
        assert set(run["sample_answers"]) == {"/recommend", "/abtest", "/decisions 50",
                                              "/decisions 200"}  # fmt: skip
        for answer in run["sample_answers"].values():
            assert set(answer) >= SERVICE_KEYS, answer
            assert answer["prediction"] in ("PLAY", "SKIP") and 0 <= answer["p_play"] <= 1
        # every answer is logged (flushed at shutdown): at least those the cells counted
        answered = sum(
            c["requests"] * (c["batch"] or 1)
            for c in cells
            if c["server"] == "service" and c["workers"] == w
        )
        assert run["answer_log_lines"] >= answered
    assert servers[("seed", 1)]["sample_answers"]["/recommend"]["prediction"] in ("PLAY", "SKIP")

    mix = results["pairs"]["mix"]
    assert sum(mix.values()) == results["pairs"]["count"] and min(mix.values()) > 0
    assert results["ceiling"]["req_per_s"] > 0
    # no concurrency 16 here, so only the /decisions target can be read
    assert [t["target"] for t in results["targets"]] == [
        f"/decisions, {w} worker{'s' if w > 1 else ''}: >= 200,000 pairs/s" for w in workers
    ]
    assert all(isinstance(t["met"], bool) for t in results["targets"])
    assert set(results["nodelay"]) == {"constant", "seed", "service"}
    assert set(results["nodelay"]["service"]["p50_ms_at_concurrency_1_by_workers"]) == {
        str(w) for w in workers
    }


@pytest.fixture(scope="module")
def aiohttp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    """The whole bench with the aiohttp generator, building its own tiny warehouse."""
    out = tmp_path_factory.mktemp("bench-serve")
    results, stdout = _bench(out, "--preset", "tiny", "--workers", "1,2", "--generator",
                             "aiohttp")  # fmt: skip
    return out, results, stdout


def test_bench_serve_with_the_aiohttp_generator(aiohttp_run):
    out, results, stdout = aiohttp_run
    _check(results, stdout, "aiohttp", (1, 2))
    assert results["built"]["nightly_s"] > 0
    assert (out / "serve.md").read_text().count("| service |") == len(
        [c for c in results["cells"] if c["server"] == "service"]
    )
    # the bench's answers went to its copy of the snapshot, not to the warehouse's own log
    warehouse = Path(results["warehouse"])
    assert not (warehouse.parent / "serving" / "requests").exists()
    assert _processes_mentioning(str(out)) == []  # every server was stopped


def test_bench_serve_with_wrk(aiohttp_run, tmp_path: Path):
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (Debian package wrk); the aiohttp test covers the rest")
    _, first, _ = aiohttp_run
    out = tmp_path / "bench"
    results, stdout = _bench(out, "--warehouse", first["warehouse"], "--workers", "1",
                             "--generator", "wrk")  # fmt: skip
    _check(results, stdout, "wrk", (1,))
    assert results["built"] is None
    assert _processes_mentioning(str(out)) == []
