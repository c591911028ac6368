"""The public web server (`followup serve`): it answers the unsubscribe links of keep-in-touch mail.

Each keep-in-touch email carries `{FOLLOWUP_UNSUBSCRIBE_URL}/{token}` in its text and in a
`List-Unsubscribe` header with `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
The token names the message, not the person; the ledger knows whose message it was.

- GET /unsubscribe/<token> shows a page with one button and changes nothing: mail security
  scanners and link previews fetch every link in a message, and must not unsubscribe anyone.
- POST /unsubscribe/<token> records the candidate's address as suppressed (reason
  "unsubscribe"); a mail client's one-click POST and the page's button both land here, and
  repeating it is harmless. The send stage turns every later message to that address into
  `suppressed` before it could be claimed.
- GET /health answers "ok" while the ledger answers, for a load balancer or supervisor.

Plain standard library (http.server) on purpose: two routes do not justify a framework, and the
server must start without Prefect. Behind a reverse proxy for TLS, one thread per request.
"""

from __future__ import annotations

import html
import logging
import re
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.logs import mask_email
from followup.rendering import message_key_from_unsubscribe_token
from followup.store.candidates import email_for_message
from followup.store.suppressions import suppress_address

log = logging.getLogger(__name__)

REASON = "unsubscribe"
# The one-click body (List-Unsubscribe=One-Click) is 26 bytes and the page's form posts nothing:
# anything much larger is not an unsubscribe. Up to _DRAIN_LIMIT of it is read away before the
# refusal, so the client gets the answer rather than a reset connection; beyond, it may not.
MAX_BODY_BYTES = 4096
_DRAIN_LIMIT = 64 * 1024
# unsubscribe_token() is unpadded URL-safe base64 of a message key (at most 64 characters, so
# at most 86 here); anything else is refused before the ledger is asked.
_UNSUBSCRIBE_PATH = re.compile(r"/unsubscribe/([A-Za-z0-9_-]{1,100})/?")
_ROUTE_METHODS = {"unsubscribe": "GET, HEAD, POST", "health": "GET, HEAD"}
_TEXT = "text/plain; charset=utf-8"

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;"
    "line-height:1.5;color:#222}button{font:inherit;padding:.5rem 1.25rem;cursor:pointer}"
)


def _page(title: str, *paragraphs: str, form: bool = False) -> bytes:
    """A small UTF-8 page; every text is escaped here, so callers pass plain text."""
    body = "".join(f"<p>{html.escape(text)}</p>" for text in paragraphs)
    if form:
        # No action: the form posts to the page's own URL, whatever path a reverse proxy put in front.
        body += '<form method="post"><button type="submit">Unsubscribe</button></form>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    ).encode("utf-8")


NOT_FOUND_PAGE = _page(
    "Link not found",
    "This unsubscribe link is not valid. It may have been cut off when it was copied: please open it "
    "from the email itself, or reply to that email and ask us to stop writing to you.",
)


class UnsubscribeServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows the ledger its handlers write to."""

    daemon_threads = True  # Ctrl-C does not wait for a slow client

    def __init__(self, address: tuple[str, int], engine: Engine) -> None:
        if ":" in address[0]:  # an IPv6 literal such as "::"
            self.address_family = socket.AF_INET6
        self.engine = engine
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def handle_error(self, request, client_address) -> None:
        # socketserver would print a traceback on stderr; a client hanging up is no error of ours.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            log.debug("client %s went away: %s", client_address[0], exc)
            return
        log.error("request from %s failed: %s", client_address[0], mask_email(repr(exc)))
        log.debug("traceback", exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    # http.server's default HTTP/1.0: one request per connection, so a body left unread can never
    # be taken for the next request.
    server: UnsubscribeServer
    server_version = "followup"
    timeout = 30  # seconds a client may take to send its request before its thread is freed

    # --- routing ---

    def do_GET(self) -> None:
        self._route("GET")

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_POST(self) -> None:
        self._route("POST")

    def _wrong_method(self) -> None:
        self._route(self.command)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _wrong_method

    def _route(self, method: str) -> None:
        self._answered = False
        path = urlsplit(self.path).path
        if path == "/health":
            name, token = "health", None
        elif match := _UNSUBSCRIBE_PATH.fullmatch(path):
            name, token = "unsubscribe", match.group(1)
        elif path.startswith("/unsubscribe/"):  # a token cut short or mangled by a mail client
            self._reply(HTTPStatus.NOT_FOUND, NOT_FOUND_PAGE)
            return
        else:
            self._reply(HTTPStatus.NOT_FOUND, b"not found\n", _TEXT)
            return
        allowed = _ROUTE_METHODS[name]
        if method not in allowed.split(", "):
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n", _TEXT, extra={"Allow": allowed})
            return
        try:
            if name == "health":
                self._health()
            elif method == "POST":
                self._unsubscribe(token)
            else:
                self._confirm_page(token)
        except Exception as exc:
            if self._answered:  # the client went away mid-answer: nothing more to say
                raise
            # SQLAlchemy's message may quote the address among its parameters: masked at ERROR,
            # the traceback only with --verbose.
            log.error("%s %s failed: %s", method, path, mask_email(str(exc)))
            log.debug("traceback", exc_info=True)
            # The ledger down or locked is worth a retry; anything else is our bug.
            transient = isinstance(exc, sa.exc.SQLAlchemyError)
            status = HTTPStatus.SERVICE_UNAVAILABLE if transient else HTTPStatus.INTERNAL_SERVER_ERROR
            self._reply(status, _page(
                "Please try again later", "Something went wrong on our side. Please try again in a few minutes.",
            ))  # fmt: skip

    # --- the routes ---

    def _health(self) -> None:
        with self.server.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        self._reply(HTTPStatus.OK, b"ok\n", _TEXT)

    def _recipient(self, token: str) -> tuple[str, str] | None:
        """(message key, address) of the message a token names; None after a 404 was sent."""
        key = message_key_from_unsubscribe_token(token)
        email = email_for_message(self.server.engine, key) if key else None
        if key is None or email is None:
            self._reply(HTTPStatus.NOT_FOUND, NOT_FOUND_PAGE)
            return None
        return key, email

    def _confirm_page(self, token: str) -> None:
        found = self._recipient(token)
        if found is None:
            return
        self._reply(HTTPStatus.OK, _page(
            "Unsubscribe",
            f"Stop all further email from our recruiting team to {mask_email(found[1])}?",
            form=True,
        ))  # fmt: skip

    def _unsubscribe(self, token: str) -> None:
        body = self._read_body()
        if body is None:
            return
        found = self._recipient(token)
        if found is None:
            return
        key, email = found
        # A mail client's RFC 8058 POST and a person's click are told apart for the audit trail.
        one_click = parse_qs(body.decode("latin-1")).get("List-Unsubscribe") == ["One-Click"]
        source = f"{'one-click' if one_click else 'page'}:{key}"
        if suppress_address(self.server.engine, email, REASON, source):
            log.info("unsubscribed %s (%s)", mask_email(email), source)
        else:
            log.info("%s was already unsubscribed (%s)", mask_email(email), source)
        self._reply(HTTPStatus.OK, _page(
            "You are unsubscribed",
            f"We will not email {mask_email(email)} again. Thank you for your interest in working with us.",
        ))  # fmt: skip

    def _read_body(self) -> bytes | None:
        """The request body, or None after refusing it (too large, or no length we can trust)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # http.server cannot read a chunked body; RFC 8058 clients send a small fixed one.
            self._reply(HTTPStatus.LENGTH_REQUIRED, b"Content-Length required\n", _TEXT)
            return None
        raw = self.headers.get("Content-Length", "0").strip()
        if not (raw.isascii() and raw.isdigit()):
            self._reply(HTTPStatus.BAD_REQUEST, b"bad Content-Length\n", _TEXT)
            return None
        length = int(raw)
        if length > MAX_BODY_BYTES:
            try:  # closing a socket with unread data resets the connection
                self.rfile.read(min(length, _DRAIN_LIMIT))
            except OSError:
                pass
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"body too large\n", _TEXT)
            return None
        return self.rfile.read(length)

    # --- answering and logging ---

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def _reply(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        extra: dict[str, str] | None = None,
    ) -> None:
        self._answered = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        # The token in the URL is all it takes to unsubscribe: no caching, no Referer to elsewhere.
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # A load balancer asks for /health every few seconds: only --verbose shows those.
        level = logging.DEBUG if urlsplit(self.path).path == "/health" else logging.INFO
        log.log(level, '"%s" %s', self.requestline, int(code) if isinstance(code, HTTPStatus) else code)

    def log_message(self, format: str, *args) -> None:
        # http.server writes to stderr directly; our logging masks addresses and honours --verbose.
        log.warning("%s: %s", self.address_string(), format % args)


class CannotListen(Exception):
    """The address is taken or not this machine's; the message names it."""


def make_server(engine: Engine, host: str = "127.0.0.1", port: int = 0) -> UnsubscribeServer:
    """A server bound to host:port (0: a free port), not yet serving."""
    try:
        return UnsubscribeServer((host, port), engine)
    except OSError as exc:
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def serve(engine: Engine, host: str, port: int, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM (how systemd and Docker stop a service), then return
    normally. `on_ready(url)` runs once requests are accepted."""
    server = make_server(engine, host, port)

    def stop(signum, frame) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    try:
        if on_ready is not None:
            on_ready(server.url)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@contextmanager
def serving(engine: Engine, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """The server on a background thread (a free port by default): `with serving(engine) as url: ...`."""
    server = make_server(engine, host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="followup-web", daemon=True)  # fmt: skip
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
