"""The unsubscribe link of keep-in-touch mail: GET asks, POST records.

Each keep-in-touch email carries `{FOLLOWUP_UNSUBSCRIBE_URL}/{token}` in its text and in a
`List-Unsubscribe` header with `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
The token names the message, not the person, and is signed with FOLLOWUP_SECRET_KEY; the ledger
knows whose message it was. A token that is mangled, forged, or names a message that carried no
unsubscribe link gets the same answer as one for a message that does not exist: "link not found".

- GET /unsubscribe/<token> shows a page with one button and changes nothing: mail security
  scanners and link previews fetch every link in a message, and must not unsubscribe anyone.
- POST /unsubscribe/<token> records the candidate's address as suppressed (reason
  "unsubscribe"); a mail client's one-click POST and the page's button both land here, and
  repeating it is harmless. The send stage turns every later message to that address into
  `suppressed` before it could be claimed.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router
from starlette.types import Receive, Scope, Send

from followup.logs import mask_email
from followup.rendering import UNSUBSCRIBE_TOKEN_CHARS, message_key_from_unsubscribe_token
from followup.store.candidates import message_recipient
from followup.store.suppressions import suppress_address
from followup.web import pages

log = logging.getLogger(__name__)

REASON = "unsubscribe"
# The one-click body (List-Unsubscribe=One-Click) is 26 bytes and the page's form posts nothing:
# anything much larger is not an unsubscribe. Refused from its Content-Length before any of it is
# read, or as a chunked body grows past it.
MAX_BODY_BYTES = 4096
PATH = "/unsubscribe"


class _Token(Convertor[str]):
    # unsubscribe_token() is unpadded URL-safe base64 of a message key and its signature;
    # anything else is refused before the ledger is asked, whatever the method.
    regex = "[A-Za-z0-9_-]{%d,%d}" % UNSUBSCRIBE_TOKEN_CHARS

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


# Starlette looks path convertors up by name in one table of its own.
register_url_convertor("unsubscribe_token", _Token())


class Unsubscribe(HTTPEndpoint):
    # Sync methods run on Starlette's thread pool: the ledger is plain (blocking) SQLAlchemy.

    def get(self, request: Request) -> Response:
        found = _recipient(request)
        if found is None:
            return pages.link_not_found()
        return pages.page(
            "Unsubscribe",
            f"Stop all further email from our recruiting team to {mask_email(found[1])}?",
            form=True,
        )

    async def post(self, request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(_unsubscribe, request, body)


def _unsubscribe(request: Request, body: bytes) -> Response:
    found = _recipient(request)
    if found is None:
        return pages.link_not_found()
    key, email = found
    # A mail client's RFC 8058 POST and a person's click are told apart for the audit trail.
    one_click = parse_qs(body.decode("latin-1")).get("List-Unsubscribe") == ["One-Click"]
    source = f"{'one-click' if one_click else 'page'}:{key}"
    if suppress_address(_engine(request), email, REASON, source):
        log.info("unsubscribed %s (%s)", mask_email(email), source)
    else:
        log.info("%s was already unsubscribed (%s)", mask_email(email), source)
    return pages.page(
        "You are unsubscribed",
        f"We will not email {mask_email(email)} again. Thank you for your interest in working with us.",
    )


def _recipient(request: Request) -> tuple[str, str] | None:
    """(message key, address) of the message the token names, or None."""
    key = message_key_from_unsubscribe_token(request.path_params["token"], request.app.state.secret_key)
    found = message_recipient(_engine(request), key) if key else None
    # Only a message that carried the link may be unsubscribed from through it.
    if key is None or found is None or "List-Unsubscribe" not in (found[1] or {}):
        return None
    return key, found[0]


def _engine(request: Request) -> Engine:
    return request.app.state.engine


async def _link_not_found(scope: Scope, receive: Receive, send: Send) -> None:
    # Any method: a token cut short or mangled by a mail client is a bad link, not a bad method.
    await pages.link_not_found()(scope, receive, send)


route = Mount(
    PATH,
    app=Router(
        [
            Route(path, Unsubscribe, max_body_size=MAX_BODY_BYTES)
            for path in ("/{token:unsubscribe_token}", "/{token:unsubscribe_token}/")
        ],
        default=_link_not_found,
        # A link with stray slashes is a bad link, answered as one, not redirected to a guess.
        redirect_slashes=False,
    ),
)
