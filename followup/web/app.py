"""The ASGI app: requests to the handler module of their rule, and what every answer shares.

Every answer carries the same headers; a refusal (404, 405, 413) is a line of plain text; a
failure is logged with addresses masked and answered with a page, 503 when the ledger is down
or locked (worth a retry), 500 otherwise; each answer is one line of followup's access log.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from followup.logs import mask_email
from followup.stages.replies import InboundSetup
from followup.web import events, health, inbound, pages, unsubscribe

log = logging.getLogger(__name__)

# The token in an unsubscribe URL is all it takes to unsubscribe: no caching, no Referer to
# elsewhere, and no framing, so another site cannot lay its own page over the button
# (frame-ancestors for today's browsers, X-Frame-Options for older ones).
COMMON_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}
# Enough of a token to match a log line to a complaint, too little to replay the link.
_LOGGED_TOKEN_CHARS = 8


def make_app(
    engine: Engine,
    secret_key: SecretStr,
    webhook_public_key: ec.EllipticCurvePublicKey | None = None,
    inbound_setup: InboundSetup | None = None,
) -> Starlette:
    """The app answering from `engine`'s ledger, checking unsubscribe links against
    `secret_key` (the one the renderer signed them with), SendGrid's events against
    `webhook_public_key` (none: every event POST is refused), and Inbound Parse posts against
    `inbound_setup`'s token (none: every one is refused); any ASGI server can carry it."""
    app = Starlette(
        routes=[health.route, unsubscribe.route, events.route, inbound.route],
        # Outermost first: the access log and the headers see the failure pages too.
        middleware=[Middleware(_AccessLog), Middleware(_CommonHeaders), Middleware(_AnswerFailures)],
        exception_handlers={HTTPException: _refusal},
    )
    # Starlette would redirect /health/ and /unsubscribe to their neighbours; they are not found.
    app.router.redirect_slashes = False
    app.state.engine = engine
    app.state.secret_key = secret_key
    app.state.webhook_public_key = webhook_public_key
    app.state.inbound = inbound_setup
    return app


def _shown(path: str) -> str:
    """The path as the logs show it: an unsubscribe token cut to its first characters, and the
    Inbound Parse token (a standing secret, not one message's) left out."""
    if path.startswith(inbound.PATH + "/"):
        return inbound.PATH + "/…"
    prefix = unsubscribe.PATH + "/"
    if path.startswith(prefix) and len(path) > len(prefix) + _LOGGED_TOKEN_CHARS:
        return path[: len(prefix) + _LOGGED_TOKEN_CHARS] + "…"
    return path


async def _refusal(request: Request, exc: HTTPException) -> PlainTextResponse:
    headers = dict(exc.headers or {})
    if "Allow" in headers:
        # Route joins its methods from a set: one order, whatever the hash seed.
        headers["Allow"] = ", ".join(sorted(headers["Allow"].split(", ")))
    return PlainTextResponse(f"{exc.detail.lower()}\n", exc.status_code, headers=headers)


class _HttpMiddleware:
    """An ASGI middleware for HTTP requests: other scopes (uvicorn's lifespan) pass straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class _AccessLog(_HttpMiddleware):
    """'"GET /path HTTP/1.1" 200' at INFO once an answer starts; /health only with --verbose,
    since a load balancer asks for it every few seconds."""

    # Not uvicorn's access log: that one writes every line at INFO, /health too, and leads with
    # the client's address.

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        level = logging.DEBUG if scope["path"] == health.PATH else logging.INFO
        target = _shown(scope["raw_path"].decode("latin-1"))
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")

        async def logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                log.log(level, '"%s %s HTTP/%s" %s', scope["method"], target, scope["http_version"],
                        message["status"])  # fmt: skip
            await send(message)

        await self.app(scope, receive, logged)


class _CommonHeaders(_HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON_HEADERS.items():
                    headers.setdefault(name, value)
                # ASGI names headers in lower case; they go out as HTTP/1.1 servers write them
                # (Content-Type), since some clients match them case-sensitively (a dict made
                # of urllib's headers, for one).
                message["headers"] = [(_canonical(name), value) for name, value in message["headers"]]
            await send(message)

        await self.app(scope, receive, stamped)


def _canonical(name: bytes) -> bytes:
    return b"-".join(part.capitalize() for part in name.split(b"-"))


class _AnswerFailures(_HttpMiddleware):
    # Not an exception handler for Exception: Starlette runs that one in ServerErrorMiddleware,
    # which re-raises after answering so that the server logs the traceback, unmasked at ERROR;
    # SQLAlchemy's message may quote the address among its parameters.

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except ClientDisconnect:
            log.debug("client went away during %s %s", scope["method"], _shown(scope["path"]))
        except Exception as exc:
            log.error("%s %s failed: %s", scope["method"], _shown(scope["path"]), mask_email(str(exc)))
            log.debug("traceback", exc_info=True)
            if started:  # mid-answer: too late for a page
                return
            transient = isinstance(exc, sa.exc.SQLAlchemyError)
            await pages.try_again_later(503 if transient else 500)(scope, receive, send)
