"""A Prefect server of a test's own on a free port, as a user starts one (`prefect server start`),
and its REST API. Imported as `tests.prefect_server`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PREFECT = [sys.executable, "-m", "prefect"]
# No proxy: an *_proxy variable in the environment would otherwise route 127.0.0.1 through it.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def start_worker(name: str, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`prefect worker start` on the `followup` process pool, two flow runs at a time, its output
    in `log`."""
    return subprocess.Popen([*PREFECT, "worker", "start", "--pool", "followup", "--name", name, "--limit", "2"],
                            cwd=cwd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            preexec_fn=_sigint_as_a_service_has_it)  # fmt: skip


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=60)


def _sigint_as_a_service_has_it() -> None:
    """In a worker's process before it starts: SIGINT at its default, as systemd starts a service.
    Prefect's worker stops on SIGTERM by sending itself SIGINT, and a shell that runs this in the
    background (`&`) hands its children SIGINT ignored: such a worker never stops
    (docs/production.md)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(base: str, path: str, body: dict | None = None, attempts: int = 5):
    """The JSON answer; a 503 is tried again after a pause, as Prefect's own client does: a busy
    server on SQLite answers 503 while its database is locked."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, headers={"Content-Type": "application/json"})
    for attempt in range(1, attempts + 1):
        try:
            with _OPENER.open(request, timeout=30) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or attempt == attempts:
                raise
            time.sleep(attempt)


def answers(base: str) -> bool:
    """Whether the Prefect API at `base` is up."""
    try:
        with _OPENER.open(f"{base}/health", timeout=5) as answer:
            return answer.read().strip() == b"true"
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def start(home: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    """`prefect server start` on 127.0.0.1:`port`, its output in `home`/server.log."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / "server.log").open("w") as log:
        return subprocess.Popen([*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


def wait_until_up(base: str, server: subprocess.Popen, home: Path, seconds: float = 120) -> None:
    """Until the server answers; the test fails with its log when it died or took longer than
    `seconds` (a busy 2-core machine can take a while to set up its database)."""
    deadline = time.monotonic() + seconds
    while not answers(base):
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the Prefect server did not start: {(home / 'server.log').read_text()[-2000:]}")
        time.sleep(0.25)


@contextmanager
def local_prefect_server(home: Path, **settings: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A server with a home of its own (its own SQLite database), stopped afterwards; yields its
    API URL and the environment that reaches it (the caller's PREFECT_* settings left out).
    `settings`: more of the server's settings (PREFECT_SERVER_...)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/api"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_API_URL=base, PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_LOGGING_LEVEL="WARNING")  # fmt: skip
    server = start(home, port, {**env, **settings})
    try:
        wait_until_up(base, server, home)
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=30)
