"""Run the sandbox: blocking for `followup sandbox`, or in the background for the demo and tests.

In the background it runs on a thread of this process (the default) or in a child process
(`process=True`). Measured here on 2 cores with 256 sending threads and 50 ms latency, with
the earlier http.client pool: with the schema checked on a sample of bodies the thread won
(~1,250 against ~1,000 messages/s: the shared interpreter lock batched the work of both sides),
while with every body checked (validate_share=1.0, ~0.6 ms each) the child process won
(~600-790 against ~420-630/s), because the validation no longer took the senders' interpreter
lock. Load tests with several sender processes (benchmarks/send_bench.py) use the child process,
so the sandbox's ~250-300 µs of CPU per request is spent beside the senders, not inside one.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from datetime import datetime
from urllib.parse import urlsplit

from followup.sandbox.app import FeaturesHook, SandboxApp, SandboxConfig
from followup.sandbox.http import HttpProtocol

log = logging.getLogger(__name__)

READY_PREFIX = "SendGrid sandbox listening on "


async def _start_server(host: str, port: int, config: SandboxConfig, features: FeaturesHook | None = None):
    app = SandboxApp(config, features)
    connections: set[HttpProtocol] = set()
    loop = asyncio.get_running_loop()
    # backlog: a load test opens hundreds of connections at once
    server = await loop.create_server(lambda: HttpProtocol(app, connections), host, port, backlog=1024)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    return server, connections, f"http://{_url_host(bound_host)}:{bound_port}", app


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(host: str, port: int, config: SandboxConfig) -> None:
    """Serve until interrupted. Prints one line with the URL on stdout once it accepts requests."""

    async def main() -> None:
        server, _, url, _ = await _start_server(host, port, config)
        print(f"{READY_PREFIX}{url}", flush=True)
        log.info("Sandbox ready at %s (POST /v3/mail/send, GET /sandbox/outbox)", url)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


class Sandbox:
    """A SendGrid-compatible server in the background: `with Sandbox(config) as sb: ... sb.url ...`."""

    def __init__(
        self,
        config: SandboxConfig = SandboxConfig(),
        host: str = "127.0.0.1",
        port: int = 0,
        process: bool = False,
        features: FeaturesHook | None = None,
    ) -> None:
        """`features(message_key, body)`: what the caller knows of a message that its body does not say
        (behaviour.replies.features_from); a function stays in this process, so not with process=True."""
        if process and features is not None:
            raise ValueError("a features hook runs in this process: it cannot go with process=True")
        self.config = config
        self.features = features
        self.host = host
        self.port = port
        self.process = process
        self.url = ""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._child: subprocess.Popen | None = None
        self._app: SandboxApp | None = None  # on a thread of this process

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> Sandbox:
        if self.process:
            self._start_child()
        else:
            self._start_thread()
        return self

    def stop(self) -> None:
        if self._child is not None:
            self._child.stdin.close()  # type: ignore[union-attr]  # the child ends at end of input
            try:
                self._child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
            self._child.stdout.close()  # type: ignore[union-attr]
            self._child = None
        if self._thread is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None
        if self._app is not None and self._app.poster is not None:
            self._app.poster.stop()
        if self._app is not None and self._app.replier is not None:
            self._app.replier.stop()
        self._app = None

    @property
    def pid(self) -> int | None:
        """The child process's id (process=True), e.g. to measure the CPU the sandbox used."""
        return self._child.pid if self._child is not None else None

    def messages(self) -> list[dict]:
        """Every accepted message: {"x_message_id", "received_at", "body"}, oldest first."""
        return self._get_json("/sandbox/messages")

    def message_keys(self) -> list[tuple[str, str | None]]:
        """(x_message_id, custom_args.message_key) of every accepted message, oldest first: the
        exactly-once check of a load test, without fetching every body."""
        return [tuple(pair) for pair in self._get_json("/sandbox/message-keys")]

    def stats(self) -> dict:
        """Counts only, cheap even after 100,000 messages: accepted, mail_send_requests,
        connections (accepted TCP connections), answers (by status), events_posted / events_waiting,
        replies_posted / replies_waiting / replies_dropped."""
        return self._get_json("/sandbox/stats")

    def public_key(self) -> str:
        """The key its event POSTs are signed with, as SendGrid shows it (SENDGRID_WEBHOOK_PUBLIC_KEY)."""
        return self._get_json("/sandbox/public-key")["public_key"]

    def set_clock(self, now: datetime) -> None:
        """Tell it the business clock: what happens from now on is stamped with it."""
        self._request("POST", "/sandbox/clock", json.dumps({"now": now.isoformat()}).encode())

    def wait_for_events(self, timeout: float = 30.0, poll_s: float = 0.05) -> dict:
        """Wait until the receivers have acknowledged (or, for replies, refused) every event and reply
        due so far; the stats then. TimeoutError when some are still waiting after `timeout` seconds
        (a receiver is down, or refuses events)."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if stats["events_waiting"] == 0 and stats["replies_waiting"] == 0:
                return stats
            if time.monotonic() > deadline:
                raise TimeoutError(f"{stats['events_waiting']} events and {stats['replies_waiting']} replies "
                                   "still wait for their receivers")  # fmt: skip
            time.sleep(poll_s)

    def _get_json(self, path: str):
        return self._request("GET", path)

    def _request(self, method: str, path: str, body: bytes | None = None):
        # http.client rather than urllib: urllib would route localhost through an *_proxy variable.
        address = urlsplit(self.url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        try:
            connection.request(method, path, body=body)
            answer = connection.getresponse()
            text = answer.read()
            if answer.status != 200:
                raise RuntimeError(f"the sandbox answered {method} {path} with {answer.status}: {text[:200]!r}")
            return json.loads(text)
        finally:
            connection.close()

    def _start_thread(self) -> None:
        ready = threading.Event()
        outcome: dict = {}

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                server, connections, url, app = loop.run_until_complete(
                    _start_server(self.host, self.port, self.config, self.features)
                )
            except BaseException as exc:  # handed to start(), which raises it in the caller's thread
                outcome["error"] = exc
                ready.set()
                loop.close()
                return
            outcome["url"] = url
            self._app = app
            ready.set()
            try:
                loop.run_forever()
            finally:
                server.close()
                for connection in list(connections):
                    connection.close()
                loop.run_until_complete(server.wait_closed())
                loop.close()

        self._thread = threading.Thread(target=run, name="followup-sandbox", daemon=True)
        self._thread.start()
        ready.wait()
        if "error" in outcome:
            self._thread = None
            raise outcome["error"]
        self.url = outcome["url"]

    def _start_child(self) -> None:
        args = [sys.executable, "-m", "followup.sandbox", "--host", self.host, "--port", str(self.port)]
        args += ["--config", json.dumps(asdict(self.config))]
        self._child = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8"
        )
        line = self._child.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith(READY_PREFIX):
            self._child.kill()
            self._child.wait()
            self._child.stdin.close()  # type: ignore[union-attr]
            self._child.stdout.close()  # type: ignore[union-attr]
            self._child = None
            raise RuntimeError(f"the sandbox process did not start (it said: {line.strip() or 'nothing'})")
        self.url = line[len(READY_PREFIX) :].strip()
