"""`skipcache bench --serve`: the cache service under a closed-loop load, beside the seed's design.

Each server under test runs in its own subprocess (its own process group) bound to 127.0.0.1 on
a free port, and is always stopped (the whole group) when its cells are done:
- `constant`: a FastAPI endpoint on the same stack answering a fixed JSON: the ceiling of the
  load generator and of the stack on this machine (`scoring/ops/bench_seed_app.py`);
- `seed`: the seed's design, a one-row pandas DataFrame and `model.predict` per request;
- `service`: `skipcache serve` on a copy of the published snapshot (so that the bench's answers
  land in the copy's served-answer log, never in the warehouse's own), with 1 and 2 workers.

The load is closed-loop: each of C keep-alive connections sends its next request when the
previous response has arrived, for a fixed duration per cell (after a warm-up per server and
endpoint). The bodies are real pairs of the snapshot: candidate pairs, known users x known
tracks, unknown users and unknown tracks. The generator is `wrk` (with a Lua script for the
POST bodies) when it is on the PATH, as it costs far less CPU than Python on a machine the
generator shares with the server; otherwise an asyncio/aiohttp client. CPU per request of the
generator (rusage) and of the server's process group (/proc) are reported beside req/s and
latency. Results: a table on stdout, ``serve.json`` and ``serve.md`` (the table in Markdown)
in the bench folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scoring.config import DBT_ENV

SINGLE_ENDPOINTS = ("/recommend", "/abtest")
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
TARGETS = {
    "recommend_rps_c16": 3_000,
    "recommend_p99_ms_c16": 10.0,
    "times_seed_rps": 10.0,
    "decisions_pairs_per_s": 200_000,
}
# uvicorn issue #3149: a keep-alive request on a socket without TCP_NODELAY waits for the
# client's delayed ACK (about 40 ms on Linux); a p50 that high at concurrency 1 is the symptom.
NODELAY_SUSPECT_MS = 20.0

WRK_SCRIPT = r"""
-- skipcache bench --serve: POST bodies from a file (one JSON body a line), in turn
local reqs = {}
local n = 0
local i = 0
function init(args)
  for line in io.lines(args[1]) do
    n = n + 1
    reqs[n] = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, line)
  end
  math.randomseed(os.time() + n)
  i = math.random(n) - 1
end
function request()
  i = (i % n) + 1
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "mean_us": %.1f, "max_us": %d, "p50_us": %d, ' ..
    '"p90_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99)))
end
"""


@dataclass
class ServeOptions:
    duration: float = 5.0  # seconds measured per cell
    warmup: float = 1.0  # seconds per server and endpoint before its cells
    concurrency: tuple[int, ...] = (1, 16, 64)
    workers: tuple[int, ...] = (1, 2)
    batches: tuple[int, ...] = (1_000, 10_000)  # pairs per /decisions body
    batch_concurrency: tuple[int, ...] = (1, 4)
    generator: str = "auto"  # auto (wrk when on the PATH), wrk or aiohttp
    servers: tuple[str, ...] = ("constant", "seed", "service")
    pairs: int = 5_000
    seed: int = 7
    ready_timeout: float = 180.0


@dataclass
class Cell:
    server: str
    workers: int
    endpoint: str
    concurrency: int
    batch: int | None = None  # pairs per body (/decisions)
    requests: int = 0
    seconds: float = 0.0
    req_per_s: float = 0.0
    pairs_per_s: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    max_ms: float | None = None
    errors: int = 0  # connect, read, write errors and timeouts
    non_2xx: int = 0
    generator_cpu_us_per_req: float | None = None
    server_cpu_us_per_req: float | None = None
    error: str | None = None


@dataclass
class ServerRun:
    server: str
    workers: int
    command: list[str]
    log: str
    startup_s: float | None = None
    sample_answers: dict = field(default_factory=dict)
    answer_log_lines: int | None = None
    error: str | None = None


# --- request bodies -----------------------------------------------------------------------


def sample_pairs(serving: Path, n: int, seed: int) -> tuple[list[tuple[int, str]], dict]:
    """n (user, track) pairs drawn from the published snapshot: 40% candidate pairs, 40% known
    users x known tracks, 10% unknown users, 10% unknown tracks; and the mix as counts."""
    import pyarrow.parquet as pq

    manifest = json.loads((serving / "manifest.json").read_text())
    users: set[int] = set()
    tracks: set[str] = set()
    candidates: list[tuple[int, str]] = []
    for entry in manifest["files"].values():
        path = serving / entry["file"]
        names = pq.read_schema(path).names
        columns = [c for c in ("user_id", "track_id") if c in names]
        if not columns:
            continue
        table = pq.read_table(path, columns=columns).to_pydict()
        users.update(table.get("user_id", []))
        tracks.update(table.get("track_id", []))
        if len(columns) == 2:
            candidates.extend(zip(table["user_id"], table["track_id"], strict=True))
    if not users or not tracks:
        raise RuntimeError(f"the snapshot under {serving} names no users or no tracks")
    rng = random.Random(seed)
    known_users, known_tracks = sorted(users), sorted(tracks)
    candidates.sort()
    first_unknown = max(known_users) + 1_000_000
    counts = {"candidate": 0, "known_user_known_track": 0, "unknown_user": 0, "unknown_track": 0}
    pairs = []
    for _ in range(n):
        draw = rng.random()
        if draw < 0.4 and candidates:
            kind, pair = "candidate", rng.choice(candidates)
        elif draw < 0.8:
            kind, pair = (
                "known_user_known_track",
                (
                    rng.choice(known_users),
                    rng.choice(known_tracks),
                ),
            )
        elif draw < 0.9:
            kind, pair = (
                "unknown_user",
                (first_unknown + rng.randrange(10**6), rng.choice(known_tracks)),
            )
        else:
            track = "".join(rng.choice(BASE62) for _ in range(22))
            kind, pair = "unknown_track", (rng.choice(known_users), track)
        counts[kind] += 1
        pairs.append(pair)
    return pairs, counts


def _pair(user: int, track: str) -> dict:
    return {"user_id": user, "track_id": track}


def write_bodies(pairs: list[tuple[int, str]], folder: Path, batches: tuple[int, ...]) -> dict:
    """One JSON body a line: single pairs, and per batch size a few /decisions bodies."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    single = folder / "single.jsonl"
    single.write_text("".join(json.dumps(_pair(*p)) + "\n" for p in pairs))
    files[None] = single
    for size in batches:
        path = folder / f"decisions_{size}.jsonl"
        count = max(2, min(8, 4 * len(pairs) // size))
        with path.open("w") as out:
            for k in range(count):
                start = (k * size) % len(pairs)
                chunk = [pairs[(start + j) % len(pairs)] for j in range(size)]
                out.write(json.dumps({"pairs": [_pair(*p) for p in chunk]}) + "\n")
        files[size] = path
    return files


# --- load generators ----------------------------------------------------------------------


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Wrk:
    """wrk (C, epoll) with a Lua script that sends the bodies of a file in turn."""

    name = "wrk"

    def __init__(self, binary: str, folder: Path, threads: int = 1) -> None:
        self.binary = binary
        self.threads = threads
        self.script = folder / "bench_serve.lua"
        self.script.write_text(WRK_SCRIPT)
        proc = subprocess.run([binary, "-v"], capture_output=True, text=True)
        banner = (proc.stdout or proc.stderr).splitlines()[0]  # wrk 4.1.0 [epoll] Copyright ...
        self.version = banner.split(" Copyright")[0].removeprefix("wrk ").strip()

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "threads": self.threads}

    def run(self, url: str, bodies: Path, concurrency: int, duration: float) -> dict:
        seconds = max(1, round(duration))
        cmd = [
            self.binary,
            f"-t{min(self.threads, concurrency)}",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(self.script),
            url,
            "--",
            str(bodies),
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = proc.stdout.read().decode(errors="replace")  # wrk stops itself after -d
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)  # its own CPU time, from its rusage
        proc.returncode = os.waitstatus_to_exitcode(status)
        line = next((s for s in output.splitlines() if s.startswith("WRK_JSON ")), None)
        if proc.returncode != 0 or line is None:
            raise RuntimeError(f"wrk exited {proc.returncode}: {output[-1000:]}")
        r = json.loads(line.removeprefix("WRK_JSON "))
        cpu = usage.ru_utime + usage.ru_stime
        return {
            "requests": r["requests"],
            "seconds": r["duration_us"] / 1e6,
            "p50_ms": r["p50_us"] / 1000,
            "p90_ms": r["p90_us"] / 1000,
            "p99_ms": r["p99_us"] / 1000,
            "mean_ms": r["mean_us"] / 1000,
            "max_ms": r["max_us"] / 1000,
            "errors": r["connect"] + r["read"] + r["write"] + r["timeout"],
            "non_2xx": r["status"],
            "generator_cpu_s": cpu,
        }


class AiohttpLoad:
    """The fallback: C asyncio tasks on one aiohttp session (uvloop when installed)."""

    name = "aiohttp"

    def __init__(self) -> None:
        import aiohttp

        self.version = aiohttp.__version__

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "loop": self._loop_name()}

    @staticmethod
    def _loop_factory():
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency
            return None
        return uvloop.new_event_loop

    def _loop_name(self) -> str:
        return "uvloop" if self._loop_factory() else "asyncio"

    def run(self, url: str, bodies: Path, concurrency: int, duration: float) -> dict:
        payloads = bodies.read_bytes().splitlines()
        started_cpu = _self_cpu()
        with asyncio.Runner(loop_factory=self._loop_factory()) as runner:
            result = runner.run(self._run(url, payloads, concurrency, duration))
        result["generator_cpu_s"] = _self_cpu() - started_cpu
        return result

    @staticmethod
    async def _run(url: str, payloads: list[bytes], concurrency: int, duration: float) -> dict:
        import aiohttp

        latencies: list[float] = []
        counts = {"errors": 0, "non_2xx": 0}
        headers = {"Content-Type": "application/json"}
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
        timeout = aiohttp.ClientTimeout(total=30)
        clock = time.perf_counter
        deadline = clock() + duration

        async def client(session: aiohttp.ClientSession, k: int) -> None:
            i = k * 7919
            while True:
                sent = clock()
                if sent >= deadline:
                    return
                body = payloads[i % len(payloads)]
                i += 1
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        ok = 200 <= response.status < 300
                except (TimeoutError, aiohttp.ClientError):
                    counts["errors"] += 1
                    continue
                latencies.append(clock() - sent)
                if not ok:
                    counts["non_2xx"] += 1

        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            started = clock()
            await asyncio.gather(*(client(session, k) for k in range(concurrency)))
            seconds = clock() - started
        latencies.sort()

        def pct(q: float) -> float | None:
            if not latencies:
                return None
            return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

        return {
            "requests": len(latencies),
            "seconds": seconds,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "mean_ms": sum(latencies) / len(latencies) * 1000 if latencies else None,
            "max_ms": latencies[-1] * 1000 if latencies else None,
            **counts,
        }


def make_generator(kind: str, folder: Path) -> Wrk | AiohttpLoad:
    binary = shutil.which("wrk")
    if kind == "wrk" or (kind == "auto" and binary):
        if not binary:
            raise RuntimeError("--generator wrk: wrk is not on the PATH (Debian package wrk)")
        return Wrk(binary, folder)
    return AiohttpLoad()


# --- servers ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of the live processes of one process group (from /proc)."""
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    base: str
    pid: int


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _post(url: str, body: bytes, timeout: float = 60.0) -> tuple[int, object]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:500].decode(errors="replace")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the whole process group, then SIGKILL to whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def running_server(
    command: list[str], log: Path, workers: int, ready_timeout: float
) -> Iterator[tuple[Server, float]]:
    """Start `command` (with {port} filled in) in its own process group; yield once its
    /readyz has answered 200 on several fresh connections (every worker loaded); always stop."""
    port = _free_port()
    cmd = [part.replace("{port}", str(port)) for part in command]
    env = {**os.environ, **DBT_ENV}
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        base = f"http://127.0.0.1:{port}"
        needed, ready = 4 * workers, 0
        deadline = started + ready_timeout
        while ready < needed:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(cmd)} exited {proc.returncode} before it was ready; see {log}:\n"
                    + log.read_text()[-2000:]
                )
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{' '.join(cmd)} not ready after {ready_timeout:.0f}s")
            if _get(f"{base}/readyz") == 200:
                ready += 1
            else:
                ready = 0
                time.sleep(0.1)
        # a worker still loading takes no connections, so /readyz cannot see it: wait until
        # the group is idle (a loading worker burns CPU), at most until the deadline
        cpu = group_cpu_seconds(proc.pid)
        while time.perf_counter() < deadline:
            time.sleep(0.5)
            cpu, before = group_cpu_seconds(proc.pid), cpu
            if cpu - before < 0.1:
                break
        yield Server(base, proc.pid), time.perf_counter() - started
    finally:
        _stop(proc)


def service_home(warehouse: Path, folder: Path) -> Path:
    """A home for the service under test: a copy of the published snapshot (without its
    served-answer logs) and links to the warehouse file and the models, so that the bench's
    answers are logged in the copy, never in the warehouse's own serving/requests/ (which the
    dbt project reads as served answers)."""
    home = warehouse.parent
    target = folder / "service-home"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copytree(
        home / "serving", target / "serving", ignore=shutil.ignore_patterns("requests", ".*")
    )
    # the service needs serving/ only; a hard link (not a symlink, which the paths' resolve()
    # would follow back to the warehouse's home) in case it opens the file, where possible
    with contextlib.suppress(OSError):
        os.link(warehouse, target / warehouse.name)
    if (home / "models").is_dir():
        (target / "models").symlink_to(home / "models")
    return target / warehouse.name


def _count_lines(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    total = 0
    for path in folder.rglob("*.jsonl"):
        with path.open("rb") as f:
            total += sum(block.count(b"\n") for block in iter(lambda f=f: f.read(1 << 20), b""))
    return total


# --- the run ------------------------------------------------------------------------------


def _sanity(endpoint: str, batch: int | None, status: int, answer: object) -> str | None:
    """Why a preflight answer is wrong, or None."""
    if status != 200:
        return f"HTTP {status}: {answer}"
    if not isinstance(answer, dict):
        return f"not a JSON object: {answer!r:.200}"
    if batch is not None:
        answers = answer.get("answers")
        if not isinstance(answers, list) or len(answers) != batch:
            return f"expected {batch} answers, got {type(answers).__name__}"
    elif "prediction" not in answer:
        return f"no prediction in {answer}"
    return None


def _measure(generator, server: Server, cell: Cell, bodies: Path, duration: float) -> None:
    cpu_before = group_cpu_seconds(server.pid)
    r = generator.run(server.base + cell.endpoint, bodies, cell.concurrency, duration)
    server_cpu = group_cpu_seconds(server.pid) - cpu_before
    cell.requests = r["requests"]
    cell.seconds = round(r["seconds"], 3)
    cell.req_per_s = round(r["requests"] / r["seconds"], 1) if r["seconds"] else 0.0
    if cell.batch is not None and r["seconds"]:
        cell.pairs_per_s = round(r["requests"] * cell.batch / r["seconds"])
    for key in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms"):
        setattr(cell, key, None if r[key] is None else round(r[key], 3))
    cell.errors, cell.non_2xx = r["errors"], r["non_2xx"]
    if r["requests"]:
        if r["generator_cpu_s"] is not None:
            cell.generator_cpu_us_per_req = round(r["generator_cpu_s"] / r["requests"] * 1e6, 1)
        cell.server_cpu_us_per_req = round(server_cpu / r["requests"] * 1e6, 1)


def _plan(options: ServeOptions) -> list[tuple[str, int, list[tuple[str, int | None, int]]]]:
    """(server, workers, [(endpoint, batch, concurrency), ...]) in the order they run."""
    single = [(e, None, c) for e in SINGLE_ENDPOINTS for c in options.concurrency]
    batched = [("/decisions", b, c) for b in options.batches for c in options.batch_concurrency]
    plan = []
    for name in options.servers:
        if name == "constant":
            plan += [("constant", w, [("/recommend", None, c) for c in options.concurrency])
                     for w in options.workers]  # fmt: skip
        elif name == "seed":
            plan.append(("seed", 1, [("/recommend", None, c) for c in options.concurrency]))
        elif name == "service":
            plan += [("service", w, single + batched) for w in options.workers]
        else:
            raise ValueError(f"unknown server {name!r} (constant, seed, service)")
    return plan


def _command(name: str, warehouse: Path, service_warehouse: Path, workers: int) -> list[str]:
    if name == "service":
        return [sys.executable, "-m", "scoring", "serve", "--warehouse", str(service_warehouse),
                "--host", "127.0.0.1", "--port", "{port}", "--workers", str(workers)]  # fmt: skip
    return [sys.executable, "-m", "scoring.ops.bench_seed_app", name, "--warehouse", str(warehouse),
            "--port", "{port}", "--workers", str(workers)]  # fmt: skip


def build_demo_warehouse(
    folder: Path, preset: str, raw_dir: Path | None, seed: int
) -> tuple[Path, dict]:
    """Generate the preset (unless raw_dir is given) and run one night into folder/warehouse."""
    from scoring.ops.bench import _cli, _run

    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    timings = {}
    if raw_dir is None:
        raw_dir = folder / "export"
        secs, _, _ = _run(
            _cli("generate", "--preset", preset, "--seed", str(seed), "--out", str(raw_dir)),
            logs / "generate.log",
        )
        timings["generate_s"] = round(secs, 1)
    warehouse = folder / "warehouse" / "skipcache.duckdb"
    secs, _, _ = _run(
        _cli("nightly", "--raw-dir", str(raw_dir), "--warehouse", str(warehouse), "--quiet"),
        logs / "nightly.log",
    )
    timings["nightly_s"] = round(secs, 1)
    return warehouse, {"raw_dir": str(raw_dir), **timings}


def _run_server(
    run: ServerRun, todo: list[Cell], generator, bodies: dict, options: ServeOptions
) -> None:
    """Start one server, check one answer per endpoint and batch size, warm it up, measure
    its cells, stop it."""
    log = Path(run.log)
    with running_server(run.command, log, run.workers, options.ready_timeout) as (server, up):
        run.startup_s = round(up, 2)
        checked: dict[tuple[str, int | None], str | None] = {}
        for cell in todo:
            key = (cell.endpoint, cell.batch)
            if key not in checked:
                body = bodies[cell.batch].read_bytes().split(b"\n", 1)[0]
                status, answer = _post(server.base + cell.endpoint, body)
                checked[key] = _sanity(cell.endpoint, cell.batch, status, answer)
                if checked[key] is None:
                    label = f"{cell.endpoint} {cell.batch or ''}".strip()
                    run.sample_answers[label] = answer["answers"][0] if cell.batch else answer
                    if options.warmup > 0:
                        top = max(c.concurrency for c in todo if c.batch == cell.batch)
                        url = server.base + cell.endpoint
                        generator.run(url, bodies[cell.batch], top, options.warmup)
            cell.error = checked[key]
            if cell.error is None:
                _measure(generator, server, cell, bodies[cell.batch], options.duration)
            _progress(cell)


def run_serve_bench(
    out: Path,
    options: ServeOptions,
    warehouse: Path | None = None,
    preset: str = "demo",
    raw_dir: Path | None = None,
) -> dict:
    """Run every cell; write out/serve.json (work files under out/serve/); return the results."""
    folder = out / "serve"
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "logs").mkdir(parents=True)
    built = None
    if warehouse is None:
        warehouse, built = build_demo_warehouse(folder, preset, raw_dir, options.seed)
    warehouse = warehouse.resolve()
    serving = warehouse.parent / "serving"
    manifest = json.loads((serving / "manifest.json").read_text())
    pairs, mix = sample_pairs(serving, options.pairs, options.seed)
    bodies = write_bodies(pairs, folder / "bodies", options.batches)
    generator = make_generator(options.generator, folder)
    service_warehouse = (
        service_home(warehouse, folder) if "service" in options.servers else warehouse
    )

    cells: list[Cell] = []
    runs: list[ServerRun] = []
    started = time.perf_counter()
    load_before = [round(x, 2) for x in os.getloadavg()]
    for name, workers, work in _plan(options):
        command = _command(name, warehouse, service_warehouse, workers)
        run = ServerRun(name, workers, command, str(folder / "logs" / f"{name}-{workers}w.log"))
        runs.append(run)
        todo = [Cell(name, workers, e, c, b) for e, b, c in work]
        answer_log = service_warehouse.parent / "serving" / "requests"
        logged_before = _count_lines(answer_log)
        try:
            _run_server(run, todo, generator, bodies, options)
        except Exception as exc:  # a server that does not start: recorded, the rest still runs
            run.error = str(exc)[-2000:]
            for cell in todo:
                if cell.error is None and not cell.requests:
                    cell.error = f"server: {str(exc).splitlines()[0][:200]}"
            print(f"{name} ({workers} workers): {run.error}", file=sys.stderr, flush=True)
        cells += todo
        if name == "service":  # flushed at shutdown
            run.answer_log_lines = _count_lines(answer_log) - logged_before

    results = {
        "machine": {**_machine(), "load_average_before": load_before},
        "generator": generator.describe(),
        "warehouse": str(warehouse),
        "built": built,
        "decision_date": manifest.get("decision_date"),
        "model_version": manifest.get("model_version"),
        "options": asdict(options),
        "pairs": {"count": len(pairs), "mix": mix},
        "seconds": round(time.perf_counter() - started, 1),
        "servers": [asdict(r) for r in runs],
        "cells": [asdict(c) for c in cells],
    }
    results["ceiling"] = _ceiling(cells)
    results["targets"] = evaluate_targets(cells)
    results["nodelay"] = nodelay_check(cells)
    (out / "serve.json").write_text(json.dumps(results, indent=2))
    (out / "serve.md").write_text(markdown_table(results))
    return results


def _progress(cell: Cell) -> None:
    print(_row(asdict(cell)), file=sys.stderr, flush=True)


def _machine() -> dict:
    import fastapi
    import uvicorn

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
    }


def _find(cells: list[Cell], **where) -> list[Cell]:
    return [
        c for c in cells if c.error is None and all(getattr(c, k) == v for k, v in where.items())
    ]


def _ceiling(cells: list[Cell]) -> dict | None:
    best = max(_find(cells, server="constant"), key=lambda c: c.req_per_s, default=None)
    if best is None:
        return None
    return {
        "req_per_s": best.req_per_s,
        "concurrency": best.concurrency,
        "workers": best.workers,
        "generator_cpu_us_per_req": best.generator_cpu_us_per_req,
    }


def evaluate_targets(cells: list[Cell]) -> list[dict]:
    """The issue's targets for each worker count of the service, each with what was measured
    and whether it is met. The seed's design is measured with one worker."""
    rows = []
    seed = next(iter(_find(cells, server="seed", endpoint="/recommend", concurrency=16)), None)
    for workers in sorted({c.workers for c in _find(cells, server="service")}):
        on = f"{workers} worker{'s' if workers > 1 else ''}"
        c16 = next(
            iter(_find(cells, server="service", workers=workers, endpoint="/recommend",
                       concurrency=16)),
            None,
        )  # fmt: skip
        if c16 is not None:
            rows.append({
                "target": f"/recommend, concurrency 16, {on}: >= 3,000 req/s",
                "measured": f"{c16.req_per_s:,.0f} req/s",
                "met": c16.req_per_s >= TARGETS["recommend_rps_c16"],
            })  # fmt: skip
            rows.append({
                "target": f"/recommend, concurrency 16, {on}: p99 <= 10 ms",
                "measured": f"{c16.p99_ms:.2f} ms",
                "met": c16.p99_ms is not None and c16.p99_ms <= TARGETS["recommend_p99_ms_c16"],
            })  # fmt: skip
            if seed is not None and seed.req_per_s:
                ratio = c16.req_per_s / seed.req_per_s
                rows.append({
                    "target": f"/recommend, concurrency 16, {on}: >= 10 x the seed design "
                              "(1 worker)",
                    "measured": f"{ratio:.1f} x ({c16.req_per_s:,.0f} against "
                                f"{seed.req_per_s:,.0f} req/s)",
                    "met": ratio >= TARGETS["times_seed_rps"],
                })  # fmt: skip
        batches = _find(cells, server="service", workers=workers, endpoint="/decisions")
        top = max(batches, key=lambda c: c.pairs_per_s or 0, default=None)
        if top is not None and top.pairs_per_s is not None:
            rows.append({
                "target": f"/decisions, {on}: >= 200,000 pairs/s",
                "measured": f"{top.pairs_per_s:,.0f} pairs/s (best: {top.batch:,} pairs a "
                            f"request, concurrency {top.concurrency})",
                "met": top.pairs_per_s >= TARGETS["decisions_pairs_per_s"],
            })  # fmt: skip
    return rows


def nodelay_check(cells: list[Cell]) -> dict:
    """Per server: p50 at concurrency 1 by workers, and whether a multi-worker p50 looks like
    the delayed-ACK stall of uvicorn #3149 (tens of ms where one worker answers in a few)."""
    out = {}
    for server in sorted({c.server for c in cells}):
        p50 = {
            c.workers: c.p50_ms
            for c in _find(cells, server=server, endpoint="/recommend", concurrency=1)
            if c.p50_ms is not None
        }
        if not p50:
            continue
        single = p50.get(1)
        suspect = any(
            workers > 1 and value >= NODELAY_SUSPECT_MS and (single is None or single < value / 3)
            for workers, value in p50.items()
        )
        out[server] = {"p50_ms_at_concurrency_1_by_workers": p50, "suspect": suspect}
    return out


HEADER = (
    f"{'server':<9} {'w':>1} {'endpoint':<10} {'conc':>4} {'batch':>6} {'req/s':>9} "
    f"{'pairs/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} {'srv µs/req':>10} {'gen µs/req':>10}"
)


def _num(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _row(c: dict) -> str:
    if c["error"]:
        return (
            f"{c['server']:<9} {c['workers']:>1} {c['endpoint']:<10} {c['concurrency']:>4} "
            f"{_num(c['batch'], ','):>6} error: {c['error'][:80]}"
        )
    return (
        f"{c['server']:<9} {c['workers']:>1} {c['endpoint']:<10} {c['concurrency']:>4} "
        f"{_num(c['batch'], ','):>6} {c['req_per_s']:>9,.0f} {_num(c['pairs_per_s'], ',.0f'):>10} "
        f"{_num(c['p50_ms'], '.2f'):>7} {_num(c['p99_ms'], '.2f'):>7} "
        f"{c['errors'] + c['non_2xx']:>4} {_num(c['server_cpu_us_per_req'], ',.0f'):>10} "
        f"{_num(c['generator_cpu_us_per_req'], ',.0f'):>10}"
    )


def format_serve_results(results: dict) -> str:
    g = results["generator"]
    lines = [
        f"load generator: {g['name']} {g['version']}; closed loop, keep-alive, "
        f"{results['options']['duration']:g} s per cell; snapshot of {results['decision_date']} "
        f"({results['model_version']}); {results['pairs']['count']:,} pairs: "
        f"{results['pairs']['mix']}",
        HEADER,
    ]
    lines += [_row(c) for c in results["cells"]]
    ceiling = results["ceiling"]
    if ceiling:
        lines.append(
            f"generator ceiling (constant endpoint): {ceiling['req_per_s']:,.0f} req/s at "
            f"concurrency {ceiling['concurrency']} ({ceiling['workers']} worker(s)), generator "
            f"{_num(ceiling['generator_cpu_us_per_req'], ',.0f')} µs CPU per request"
        )
    for server, check in results["nodelay"].items():
        by = ", ".join(
            f"{w} worker(s) {v:.2f} ms"
            for w, v in check["p50_ms_at_concurrency_1_by_workers"].items()
        )
        verdict = "SUSPECT: TCP_NODELAY missing?" if check["suspect"] else "no delayed-ACK stall"
        lines.append(f"TCP_NODELAY check, {server}: p50 at concurrency 1: {by}: {verdict}")
    for t in results["targets"]:
        lines.append(f"target {t['target']}: {t['measured']}: {'met' if t['met'] else 'NOT met'}")
    for r in results["servers"]:
        if r["error"]:
            lines.append(f"{r['server']} ({r['workers']} workers) failed: {r['error'][:300]}")
    return "\n".join(lines)


def markdown_table(results: dict) -> str:
    """The cells as a Markdown table (for BENCHMARKS.md)."""
    lines = [
        "| server | workers | endpoint | concurrency | req/s | pairs/s | p50 ms | p99 ms "
        "| errors | server CPU µs/req | generator CPU µs/req |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in results["cells"]:
        endpoint = c["endpoint"] + (f" ({c['batch']:,} pairs)" if c["batch"] else "")
        if c["error"]:
            lines.append(
                f"| {c['server']} | {c['workers']} | {endpoint} | {c['concurrency']} "
                f"| error: {c['error'][:60]} | | | | | | |"
            )
            continue
        lines.append(
            f"| {c['server']} | {c['workers']} | {endpoint} | {c['concurrency']} "
            f"| {c['req_per_s']:,.0f} | {_num(c['pairs_per_s'], ',.0f')} "
            f"| {_num(c['p50_ms'], '.2f')} | {_num(c['p99_ms'], '.2f')} "
            f"| {c['errors'] + c['non_2xx']} | {_num(c['server_cpu_us_per_req'], ',.0f')} "
            f"| {_num(c['generator_cpu_us_per_req'], ',.0f')} |"
        )
    return "\n".join(lines) + "\n"


def _ints(text: str) -> tuple[int, ...] | None:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        return None
    return values if values and min(values) >= 1 else None


def main_serve_bench(args) -> int:
    """`skipcache bench --serve`, from the parsed command line."""
    from scoring.config import PROJECT_ROOT

    lists = {flag: _ints(getattr(args, flag)) for flag in ("concurrency", "workers", "batches")}
    for flag, values in lists.items():
        if values is None:
            print(
                f"skipcache bench: --{flag} takes positive integers, e.g. 1,16,64", file=sys.stderr
            )
            return 2
    if args.duration <= 0:
        print("skipcache bench: --duration must be positive", file=sys.stderr)
        return 2
    if args.warehouse and not (Path(args.warehouse).parent / "serving" / "manifest.json").exists():
        print(
            f"skipcache bench: no published snapshot beside {args.warehouse}: "
            "run skipcache nightly first",
            file=sys.stderr,
        )
        return 2
    options = ServeOptions(duration=args.duration, generator=args.generator, **lists)
    out = (Path(args.out) if args.out else PROJECT_ROOT / "build" / "bench").resolve()
    out.mkdir(parents=True, exist_ok=True)
    results = run_serve_bench(
        out,
        options,
        warehouse=Path(args.warehouse) if args.warehouse else None,
        preset=args.preset or "demo",
        raw_dir=Path(args.raw_dir) if args.raw_dir else None,
    )
    print(format_serve_results(results))
    print(f"results: {out / 'serve.json'} (and the table for BENCHMARKS.md: serve.md)")
    return 0
