"""The cache service: `skipcache serve`, a FastAPI app on uvicorn over the published snapshot.

POST /naive, /recommend, /abtest answer one (user, track); POST /decisions answers a batch of
up to 10,000. Every answer comes from the night's Snapshot (serving.py) by the rules of
policy.py, is logged to serving/requests/<UTC date>.jsonl (served_log.py) and counted in GET
/metrics (service_metrics.py), all in scoring/decide/. A watcher thread polls the manifest
every few seconds (and on SIGHUP), loads a new night beside the old one, checks it (sha256,
row counts) and swaps it in with one reference assignment: a request holds the snapshot it
started with until it ends. A broken new snapshot is refused, and the old one keeps serving.

The handlers read the body themselves (orjson, hand-written checks) instead of through
pydantic: it is the hot path. The pydantic models below only describe the API for /docs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from contextlib import asynccontextmanager, suppress
from functools import lru_cache
from itertools import product, repeat
from pathlib import Path

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect

from scoring.config import resolve_paths
from scoring.decide import policy
from scoring.decide import service_metrics as m
from scoring.decide.served_log import ServedLog, utc_now
from scoring.decide.serving import PLAY, SKIP, Snapshot, manifest_stamp

log = logging.getLogger("skipcache.service")

MAX_BODY = 64 * 1024  # one pair
MAX_BATCH = 10_000  # pairs in one POST /decisions
MAX_BATCH_BODY = 2 * 1024 * 1024  # 10,000 pairs of about 60 bytes fit with room to spare
BATCH_SLICE = 1_000  # pairs answered between two yields to the event loop
INT64 = (-(2**63), 2**63 - 1)
ENDPOINT_ARMS = {"naive": policy.NAIVE, "recommend": policy.MODEL, "abtest": None}
JSON = "application/json"
#: the fields of an answer after p_play, each of a few values (see `_answer_tails`)
TAIL_FIELDS = ("prediction", "should_cache", "policy", "arm", "source")


# --- the API as /docs shows it ------------------------------------------------------------

PAIR_EXAMPLE = {"user_id": 101, "track_id": "31PzY79H10HCgJs533Xq6B"}


class PairRequest(BaseModel):
    """One (user, track) the cache asks about."""

    user_id: int = Field(
        description="The user: a 64-bit integer (unknown users get an answer too).",
        ge=INT64[0],
        le=INT64[1],
    )
    track_id: str = Field(
        description="The track: 22 base62 characters.", pattern=r"^[0-9A-Za-z]{22}$"
    )
    model_config = {"json_schema_extra": {"examples": [PAIR_EXAMPLE]}}


class BatchRequest(BaseModel):
    """Up to 10,000 pairs, e.g. a playlist, answered at once."""

    pairs: list[PairRequest] = Field(max_length=MAX_BATCH)
    policy: str = Field(
        "abtest",
        description="abtest (the user's A/B arm, the default), recommend (the night's policy "
        "for everyone) or naive (the seed's favourite-genre rule).",
        pattern="^(abtest|recommend|naive)$",
    )
    model_config = {
        "json_schema_extra": {
            "examples": [{"pairs": [PAIR_EXAMPLE, {**PAIR_EXAMPLE, "user_id": 102}]}]
        }
    }


class AnswerOut(BaseModel):
    """The answer to "keep this track cached for this user?"."""

    request_id: str = Field(description="Id of the HTTP request (also in the served-answer log).")
    served_at: str = Field(description="When it was answered (UTC, ISO 8601).")
    endpoint: str = Field(description="naive, recommend, abtest or decisions.")
    user_id: int
    track_id: str
    prediction: str = Field(description="PLAY or SKIP: p_play against the night's threshold.")
    should_cache: bool = Field(description="Keep the track cached for the user (false in holdout).")
    p_play: float = Field(description="Probability that the user plays the track through.")
    policy: str = Field(description="The rule that answered: a model version, a baseline:* "
                        "fallback of the gate, or naive-rule.")  # fmt: skip
    arm: str | None = Field(description="model, naive or holdout (the arm whose rule answered).")
    model_version: str = Field(description="The night's model (the snapshot's).")
    decision_date: str = Field(description="The night of the snapshot that answered.")
    source: str = Field(
        description="pair: the pair's own row of the night's prefetch list; model: computed "
        "for a known user and track; cold_start: the user or the track is unknown, computed "
        "with the cold-start values training uses; track_default: the policy gave no finite "
        "answer, so the track's default answered."
    )
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "request_id": "3f2b9c0e8d7a4b1c9e6f5a4d3c2b1a09",
                    "served_at": "2025-01-01T08:15:02.123456Z",
                    "endpoint": "abtest",
                    **PAIR_EXAMPLE,
                    "prediction": "PLAY",
                    "should_cache": True,
                    "p_play": 0.71,
                    "policy": "svc-20250101-2d918557",
                    "arm": "model",
                    "model_version": "svc-20250101-2d918557",
                    "decision_date": "2025-01-01",
                    "source": "model",
                }
            ]
        }
    }


class BatchOut(BaseModel):
    request_id: str
    decision_date: str
    answers: list[AnswerOut]


#: request schemas that /docs shows but FastAPI does not see (the handlers read raw bodies)
REQUEST_SCHEMAS: dict[str, dict] = {}


def _body_doc(model: type[BaseModel]) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    REQUEST_SCHEMAS.update(schema.pop("$defs", {}))
    REQUEST_SCHEMAS[model.__name__] = schema
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {JSON: {"schema": ref}}}}


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description='Where: e.g. ["body", "pairs", 3, "track_id"].')
    msg: str
    type: str


class ProblemOut(BaseModel):
    detail: list[FieldProblem] | str


ERRORS_DOC = {
    413: {"model": ProblemOut, "description": "Body over 64 KB (2 MB for /decisions) or more "
          "than 10,000 pairs."},
    422: {"model": ProblemOut, "description": "Invalid JSON, or a missing or mistyped field; "
          "`detail` names it. The body is read as JSON whatever its Content-Type."},
    503: {"model": ProblemOut, "description": "No snapshot loaded yet (see /readyz)."},
}  # fmt: skip


# --- the service ----------------------------------------------------------------------------


class Problem(Exception):
    def __init__(self, status: int, detail: object) -> None:
        self.status, self.detail = status, detail


def _field_error(loc: list, msg: str, kind: str) -> Problem:
    return Problem(422, [{"loc": loc, "msg": msg, "type": kind}])


def _pair(item: object, loc: list) -> tuple[int, str]:
    """(user_id, track_id) of one pair object, or a 422 naming the field."""
    if not isinstance(item, dict):
        raise _field_error(loc, "must be a JSON object with user_id and track_id", "type_error")
    user_id = item.get("user_id")
    track_id = item.get("track_id")
    if "user_id" not in item:
        raise _field_error([*loc, "user_id"], "field required", "missing")
    if type(user_id) is not int or not INT64[0] <= user_id <= INT64[1]:
        raise _field_error([*loc, "user_id"], "must be a 64-bit integer", "int_type")
    if "track_id" not in item:
        raise _field_error([*loc, "track_id"], "field required", "missing")
    if (
        type(track_id) is not str
        or len(track_id) != 22
        or not (track_id.isascii() and track_id.isalnum())  # base62, without a regex
    ):
        raise _field_error(
            [*loc, "track_id"], "must be a string of 22 base62 characters", "string_pattern"
        )
    return user_id, track_id


def _all_int64(values: list) -> bool:
    return set(map(type, values)) == {int} and INT64[0] <= min(values) and max(values) <= INT64[1]


def _all_track_ids(values: list) -> bool:
    """Every value a string of 22 base62 characters (checked in C loops, without a regex)."""
    if set(map(type, values)) != {str} or set(map(len, values)) != {22}:
        return False
    joined = "".join(values)
    return joined.isascii() and joined.isalnum()


def _pairs(items: list) -> tuple[list[int], list[str]]:
    """The users and tracks of a batch's pairs, checked column-wise; at the first doubt, pair
    by pair with `_pair`, whose 422 names the field of the first bad pair."""
    try:
        users = [item["user_id"] for item in items]
        tracks = [item["track_id"] for item in items]
    except (KeyError, TypeError, IndexError):
        users = tracks = None
    if users and _all_int64(users) and _all_track_ids(tracks):
        return users, tracks
    pairs = [_pair(item, ["body", "pairs", i]) for i, item in enumerate(items)]
    return [u for u, _ in pairs], [t for _, t in pairs]


async def _read_request(request: Request, limit: int) -> bytes:
    """The body of a request that came through FastAPI (the fast path reads its own)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"body of {declared} bytes is over the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _field_error(["body"], f"invalid JSON: {exc}", "json_invalid") from None


class Service:
    """The state one worker serves from: the snapshot reference, the watcher and the log."""

    def __init__(self, serving: Path, poll_seconds: float, log_interval: float) -> None:
        self.serving = serving
        self.poll_seconds = poll_seconds
        self.snapshot: Snapshot | None = None
        self.refused: tuple[tuple[int, int], float, str] | None = None  # stamp, when, why
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.log = ServedLog(serving / "requests", log_interval, self._log_failed)
        self.watcher = threading.Thread(target=self._watch, name="snapshot-watcher", daemon=True)

    @staticmethod
    def _log_failed(lines: int) -> None:
        m.LOG_WRITE_FAILURES.inc()
        m.LOG_LINES_DROPPED.inc(lines)

    def start(self) -> None:
        self.reload()
        self.log.start()
        self.watcher.start()

    def close(self) -> None:
        self.stop.set()
        self.wake.set()
        self.watcher.join(timeout=10)
        self.log.close()

    def _watch(self) -> None:
        while not self.stop.is_set():
            self.wake.wait(self.poll_seconds)
            self.wake.clear()
            if self.stop.is_set():
                return
            try:
                self.reload()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one bad night
                log.exception("reloading %s failed", self.serving / "manifest.json")

    def reload(self) -> bool:
        """Load a new manifest's snapshot beside the old one and swap it in; True if swapped.

        A refused manifest is tried again only when it changes, or after a minute (a read
        error may be transient)."""
        stamp = manifest_stamp(self.serving)
        current = self.snapshot
        if stamp is None or (current is not None and stamp == current.stamp):
            return False
        if self.refused and self.refused[0] == stamp and time.time() - self.refused[1] < 60:
            return False
        try:
            fresh = Snapshot(self.serving)  # checked whole before anything is swapped
        except Exception as exc:  # noqa: BLE001 - any broken snapshot is refused, not fatal
            self.refused = (stamp, time.time(), str(exc))
            m.REFUSED.inc()
            log.error("refused the snapshot of %s: %s", self.serving / "manifest.json", exc)
            return False
        self.snapshot = fresh  # the swap: one reference assignment
        self.refused = None
        m.RELOADS.inc()
        m.SNAPSHOT_DECISION_DATE.set(fresh.decision_timestamp)
        m.SNAPSHOT_PUBLISHED.set(fresh.published_at)
        m.SNAPSHOT_LOADED.set(fresh.loaded_at)
        log.info("serving the snapshot of %s (run %s)", fresh.decision_date, fresh.run_id)
        return True

    def current(self) -> Snapshot:
        snap = self.snapshot  # the request's snapshot, whatever a reload does meanwhile
        if snap is None:
            raise Problem(503, "no snapshot loaded yet: see /readyz")
        return snap

    def answer_pairs(
        self,
        snap: Snapshot,
        endpoint: str,
        users: list[int],
        tracks: list[str],
        arm: str | None,
        stamp: tuple[str, str, str],
    ) -> bytes:
        """Answer the pairs from `snap`: the answers' JSON objects joined by commas (the inside
        of a JSON array); log each answer (one line) and count them. One pair goes through
        `Snapshot.decide`, a batch through `decide_codes` (column-wise). An answer is written
        from pieces: the fields every answer of the request shares, then user_id, track_id and
        p_play, then one of a few tails (`_answer_tails`). Every string in it is one of ours
        (ids, dates, names checked when the snapshot loaded, base62 track ids)."""
        if not users:
            return b""
        request_id, served_at, day = stamp
        tails, tail_of = _answer_tails(tuple(snap.rules))
        if len(users) == 1:
            prediction, cache, p, rule, arm_name, source = snap.decide(users[0], tracks[0], arm)
            codes, p_play = [tail_of[prediction, cache, rule, arm_name, source]], [p]
            counts = [((arm_name, source), 1)]
        else:
            p, cache, rule, arms, source = snap.decide_codes(users, tracks, arm)
            codes = _tail_codes(p >= snap.threshold, cache, rule, len(snap.rules), arms, source)
            p_play = p.tolist()
            n_sources = len(policy.SOURCES)
            arm_source, n = np.unique(
                arms.astype(np.int64) * n_sources + source, return_counts=True
            )
            counts = [
                ((policy.ARMS[k // n_sources], policy.SOURCES[k % n_sources]), c)
                for k, c in zip(arm_source.tolist(), n.tolist(), strict=True)
            ]
        shared = orjson.dumps(
            {
                "request_id": request_id,
                "served_at": served_at,
                "endpoint": endpoint,
                "model_version": snap.model_version,
                "decision_date": snap.decision_date,
            }
        )
        answers = list(
            map(
                b"".join,
                zip(
                    repeat(shared[:-1] + b',"user_id":'),
                    _json_items(users),
                    repeat(b',"track_id":'),
                    _json_items(tracks),
                    repeat(b',"p_play":'),
                    _json_items(p_play),
                    map(tails.__getitem__, codes),
                    strict=False,  # the repeats are endless
                ),
            )
        )
        self.log.append(day, b"\n".join(answers) + b"\n")
        for (arm_name, source), k in counts:
            _child(m.ANSWERS, endpoint, arm_name or "none", source).inc(k)
        return b",".join(answers)


def _json_items(values: list) -> list[bytes]:
    """The JSON of each value of a non-empty list of numbers or of our strings (no commas)."""
    return orjson.dumps(values)[1:-1].split(b",")


@lru_cache(maxsize=8)
def _answer_tails(rules: tuple[str, ...]) -> tuple[list[bytes], dict[tuple, int]]:
    """How an answer ends, after p_play: the JSON of each (prediction, should_cache, policy,
    arm, source) there can be, as a list in the order of `_tail_codes`, and its index by value."""
    tails, tail_of = [], {}
    for key in product((SKIP, PLAY), (False, True), rules, policy.ARMS, policy.SOURCES):
        tail_of[key] = len(tails)
        fields = dict(zip(TAIL_FIELDS, key, strict=True))
        tails.append(b"," + orjson.dumps(fields)[1:])
    return tails, tail_of


def _tail_codes(play, cache, rule, n_rules: int, arm, source) -> list[int]:
    """The `_answer_tails` index of each answer, from the columns of `Snapshot.decide_codes`."""
    code = play.astype(np.int64) * 2 + cache
    code = (code * n_rules + rule) * len(policy.ARMS) + arm
    return (code * len(policy.SOURCES) + source).tolist()


_CHILDREN: dict[tuple, object] = {}


def _child(metric, *labels: str):
    """metric.labels(*labels), looked up once (labels() costs more than the increment)."""
    key = (metric, labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*labels)
    return child


def _stamp() -> tuple[str, str, str]:
    """(request_id, served_at, UTC date of the log file) of one HTTP request."""
    served_at, day = utc_now()
    return os.urandom(16).hex(), served_at, day


def _response(status: int, content: object) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type=JSON)


def create_app(
    serving: Path | None = None, poll_seconds: float | None = None, log_interval: float = 0.5
) -> FastPath:
    """The app over `serving` (default: serving/ beside the configured warehouse)."""
    serving = Path(serving) if serving else resolve_paths().home / "serving"
    poll = poll_seconds or float(os.environ.get("SKIPCACHE_RELOAD_SECONDS") or 2.0)
    service = Service(serving, poll, log_interval)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        # not in the main thread (an embedded server), polling alone reloads
        with suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, service.wake.set)
        try:
            yield
        finally:
            service.close()

    if not logging.getLogger().handlers:  # each uvicorn worker is a new process
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s"
        )
    app = FastAPI(
        docs_url=None,  # served below from the installed Swagger UI, not from a CDN
        title="skipcache cache service",
        version="1",
        description="Answers, for any (user, track), whether the cache should keep the track "
        "for the user, from the night's published snapshot. Every answer is logged to "
        "serving/requests/<UTC date>.jsonl beside the warehouse.",
        lifespan=lifespan,
    )
    app.state.service = service
    _offline_docs(app)

    async def respond(endpoint: str, work, read) -> tuple[int, bytes, list]:
        """Run one request's `work(read)`; (status, JSON body, extra headers), counted."""
        started = time.perf_counter()
        headers: list = []
        try:
            status, body = 200, await work(read)
        except Problem as p:
            status, body = p.status, orjson.dumps({"detail": p.detail})
            if p.status == 503:
                headers = [(b"retry-after", b"2")]
        except ClientDisconnect:  # the client went away mid-body: nobody to answer
            status, body = 499, b""
        except Exception:  # a bug: counted and logged, and the service stays up
            log.exception("%s failed", endpoint)
            status, body = 500, orjson.dumps({"detail": "internal error (logged)"})
        _child(m.REQUESTS, endpoint, str(status)).inc()
        _child(m.LATENCY, endpoint).observe(time.perf_counter() - started)
        return status, body, headers

    def route(path: str, work, summary: str, request_model, response_model) -> None:
        """POST `path`, through FastAPI (documented) and through the fast path (served)."""

        async def handler(request: Request) -> Response:
            status, body, headers = await respond(
                path[1:], work, lambda limit: _read_request(request, limit)
            )
            response = Response(body, status_code=status, media_type=JSON)
            for name, value in headers:
                response.headers[name.decode()] = value.decode()
            return response

        app.post(
            path,
            summary=summary,
            response_model=None,
            responses={200: {"model": response_model}, **ERRORS_DOC},
            openapi_extra=_body_doc(request_model),
        )(handler)
        fast_routes[path] = (path[1:], work)

    fast_routes: dict[str, tuple] = {}

    def single(endpoint: str, arm: str | None, summary: str) -> None:
        async def work(read) -> bytes:
            user_id, track_id = _pair(_parse(await read(MAX_BODY)), ["body"])
            snap = service.current()
            return service.answer_pairs(snap, endpoint, [user_id], [track_id], arm, _stamp())

        route(f"/{endpoint}", work, summary, PairRequest, AnswerOut)

    single("naive", policy.NAIVE, "The seed's naive rule: cache iff the track's genres meet "
           "the user's favourite genres.")  # fmt: skip
    single("recommend", policy.MODEL, "The night's decision policy (the promoted model, or the "
           "baseline the gate fell back to).")  # fmt: skip
    single("abtest", None, "The user's A/B arm (a stable hash of user_id, as the nightly "
           "arms) and that arm's answer.")  # fmt: skip

    async def batch(read) -> bytes:
        body = _parse(await read(MAX_BATCH_BODY))
        if not isinstance(body, dict):
            raise _field_error(["body"], "must be a JSON object with pairs", "type_error")
        items = body.get("pairs")
        if not isinstance(items, list):
            raise _field_error(["body", "pairs"], "must be a list of pairs", "list_type")
        if len(items) > MAX_BATCH:
            raise Problem(413, f"{len(items)} pairs: at most {MAX_BATCH} in one request")
        name = body.get("policy", "abtest")
        if not isinstance(name, str) or name not in ENDPOINT_ARMS:
            raise _field_error(["body", "policy"], "must be abtest, recommend or naive", "enum")
        users, tracks = _pairs(items)
        snap, stamp, parts = service.current(), _stamp(), []
        for start in range(0, len(users), BATCH_SLICE):
            if start:  # let single requests in between the slices of a large batch
                await asyncio.sleep(0)
            end = start + BATCH_SLICE
            answers = service.answer_pairs(
                snap, "decisions", users[start:end], tracks[start:end], ENDPOINT_ARMS[name], stamp
            )
            parts.append(answers)
        head = orjson.dumps({"request_id": stamp[0], "decision_date": snap.decision_date})
        return head[:-1] + b',"answers":[' + b",".join(parts) + b"]}"

    route(
        "/decisions",
        batch,
        "A batch of up to 10,000 pairs, e.g. a playlist, answered at once.",
        BatchRequest,
        BatchOut,
    )

    @app.get("/healthz", summary="The process is up.")
    async def healthz() -> Response:
        return _response(200, {"status": "ok"})

    @app.get("/readyz", summary="503 until a snapshot is loaded; then its night and age.")
    async def readyz() -> Response:
        snap = service.snapshot
        refused = service.refused[2] if service.refused else None
        if snap is None:
            reason = f"refused: {refused}" if refused else f"no snapshot under {serving}"
            return _response(503, {"ready": False, "reason": reason})
        return _response(
            200,
            {
                "ready": True,
                "decision_date": snap.decision_date,
                "model_version": snap.model_version,
                "decision_policy": snap.decision_policy,
                "run_id": snap.run_id,
                "published_at": snap.published_at,
                "loaded_at": snap.loaded_at,
                "age_seconds": round(time.time() - snap.published_at, 3),
                "watcher_alive": service.watcher.is_alive(),
                "last_refused": refused,
            },
        )

    @app.get("/metrics", summary="Prometheus metrics of the service.")
    async def metrics() -> Response:
        return Response(*m.exposition())

    return FastPath(app, fast_routes, respond)


class FastPath:
    """The app as uvicorn sees it: the POST endpoints go straight to their handlers (FastAPI's
    routing, middleware and request objects cost as much as the answer); everything else,
    /docs and lifespan included, goes to the FastAPI app, where the same endpoints are
    declared (and work) for the OpenAPI page."""

    def __init__(self, app: FastAPI, routes: dict[str, tuple], respond) -> None:
        self.app, self.routes, self.respond = app, routes, respond
        self.state = app.state

    async def __call__(self, scope, receive, send) -> None:
        route = self.routes.get(scope.get("path")) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        endpoint, work = route

        async def read(limit: int) -> bytes:
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > limit:
                    raise Problem(413, f"body of {value.decode()} bytes is over the limit")
            chunks, size = [], 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise Problem(413, f"body is over the limit of {limit} bytes")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)

        status, body, headers = await self.respond(endpoint, work, read)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _offline_docs(app: FastAPI) -> None:
    """/docs from the Swagger UI files of the swagger-ui-bundle-v2 package (no network), and
    the request schemas of the raw-body handlers in the OpenAPI components."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.openapi.utils import get_openapi
    from fastapi.staticfiles import StaticFiles

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            )  # fmt: skip
            spec.setdefault("components", {}).setdefault("schemas", {}).update(REQUEST_SCHEMAS)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi


def app_from_env() -> FastPath:
    """The app factory uvicorn's workers call (`skipcache serve` sets the environment)."""
    return create_app()


def serve(warehouse: str | None, host: str, port: int, workers: int) -> None:
    """Run the service on uvicorn (blocking). Workers share the port; each loads the snapshot."""
    import uvicorn

    paths = resolve_paths(None, warehouse)
    os.environ["SKIPCACHE_WAREHOUSE"] = str(paths.warehouse)
    options = dict(
        host=host, port=port, factory=True, access_log=False, loop="uvloop", http="httptools",
        log_level="warning", timeout_graceful_shutdown=10,
    )  # fmt: skip
    if workers > 1:
        uvicorn.run("scoring.decide.service:app_from_env", workers=workers, **options)
    else:
        uvicorn.run(app_from_env, **options)
