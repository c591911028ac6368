"""The app under uvicorn: blocking for `followup serve`, or on a thread of this process for tests."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from uvicorn.server import HANDLED_SIGNALS

from followup.stages.replies import InboundSetup
from followup.web.app import make_app

# On a stop, a request under way may finish; a client trickling its body does not hold the stop
# past the 10 s Docker waits before it kills.
_STOP_GRACE_SECONDS = 5


class CannotListen(Exception):
    """The address is taken or not this machine's; the message names it."""


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (0: a free port)."""
    # Bound here, not by uvicorn: it logs a bind failure and exits the process, and the URL to
    # print needs the port that 0 became.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)  # an IPv6 literal such as "::"
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait out TIME_WAIT
        sock.bind((host, port))
        sock.listen()
    except OSError as exc:
        sock.close()
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _uvicorn(engine: Engine, secret_key: SecretStr, public_key: ec.EllipticCurvePublicKey | None,
             inbound_setup: InboundSetup | None) -> uvicorn.Server:  # fmt: skip
    return uvicorn.Server(uvicorn.Config(
        make_app(engine, secret_key, public_key, inbound_setup),
        log_config=None,  # followup.logs has configured logging; uvicorn's records go through it
        access_log=False,  # the app writes its own (app.py)
        headers=[("Server", "followup")],  # instead of uvicorn's name
        timeout_graceful_shutdown=_STOP_GRACE_SECONDS,
    ))  # fmt: skip


def serve(
    engine: Engine,
    secret_key: SecretStr,
    host: str,
    port: int,
    on_ready: Callable[[str], None] | None = None,
    webhook_public_key: ec.EllipticCurvePublicKey | None = None,
    inbound_setup: InboundSetup | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM (how systemd and Docker stop a service), then return
    normally. `on_ready(url)` runs once requests are accepted."""
    server = _uvicorn(engine, secret_key, webhook_public_key, inbound_setup)
    # uvicorn stops gracefully on these while it serves, then raises the signal again for the
    # handler it found: with its own as that handler, the signal is spent rather than killing the
    # process (SIGTERM) or raising KeyboardInterrupt (SIGINT), and one during start-up stops it too.
    # Only the main thread may set signal handlers.
    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, server.handle_exit) for sig in HANDLED_SIGNALS} if main else {}
    try:
        with _listen(host, port) as sock:
            if on_ready is not None:
                on_ready(_url(sock))  # the socket listens: a request now waits for uvicorn to take it
            server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def serving(
    engine: Engine,
    secret_key: SecretStr,
    host: str = "127.0.0.1",
    port: int = 0,
    webhook_public_key: ec.EllipticCurvePublicKey | None = None,
    inbound_setup: InboundSetup | None = None,
) -> Iterator[str]:
    """The server on a background thread (a free port by default): `with serving(engine, key) as url: ...`."""
    server = _uvicorn(engine, secret_key, webhook_public_key, inbound_setup)
    with _listen(host, port) as sock:
        url = _url(sock)  # uvicorn closes the socket when it stops
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="followup-web", daemon=True)
        thread.start()
        try:
            yield url
        finally:
            server.should_exit = True
            thread.join()
