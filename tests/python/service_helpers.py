"""Test helpers for the cache service: the real `skipcache serve` on a free loopback port."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A keep-alive HTTP/1.1 client on one connection (http.client), JSON in and out."""

    def __init__(self, port: int, timeout: float = 30) -> None:
        self.port, self.timeout = port, timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        for attempt in range(2):  # a connection the server closed (e.g. after a 413) is redone
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, payload: object) -> tuple[int, dict]:
        status, body = self.request(
            "POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"}
        )
        return status, json.loads(body) if body else {}

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def close(self) -> None:
        self.conn.close()


class Service:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.url = f"http://127.0.0.1:{port}"

    def client(self) -> Client:
        return Client(self.port)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_service(
    warehouse: Path,
    workers: int = 1,
    reload_seconds: float = 1.0,
    ready: bool = True,
    env: dict | None = None,
) -> Iterator[Service]:
    """`skipcache serve` in its own process group on a free port; always stopped after."""
    port = free_port()
    log = Path(warehouse).parent / f"serve-{port}.log"
    environment = {
        **os.environ,
        "SKIPCACHE_RELOAD_SECONDS": str(reload_seconds),
        **(env or {}),
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scoring", "serve", "--warehouse", str(warehouse),
             "--port", str(port), "--workers", str(workers)],
            stdout=out, stderr=subprocess.STDOUT, env=environment, start_new_session=True,
        )  # fmt: skip
    service = Service(proc, port, log)
    try:
        _wait_until(service, "/readyz" if ready else "/healthz")
        yield service
    finally:
        stop(proc)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait_until(service: Service, path: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            raise AssertionError(
                f"the service exited {service.proc.returncode}:\n{service.output()}"
            )
        try:
            client = service.client()
            status, _ = client.get(path)
            client.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{path} not 200 within {timeout}s:\n{service.output()}")
