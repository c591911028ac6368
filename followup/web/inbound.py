"""POST /webhooks/sendgrid/inbound/<token>: the replies SendGrid's Inbound Parse receives.

Inbound Parse signs nothing, so the secret is the URL's last segment (FOLLOWUP_INBOUND_TOKEN),
checked before a byte of the body is read: 404 for a wrong one (as for any unknown path), 403 for
every post while none is set. Each reply is matched, read and stored (stages.replies) before the
200: Inbound Parse retries only after a 5xx (for 3 days), so a reply acknowledged and then lost
is lost for good. Posted again, it is recognised by its Message-ID and stored once.

- 413 for a body over MAX_BODY_BYTES (a whole email with attachments: SendGrid takes mail up to
  30 MB), from its Content-Length before any of it is read;
- 400 for a body that is not an Inbound Parse form (never retried by SendGrid): the log says why,
  and the post is kept whole under the quarantine dir (data/quarantine/inbound/) for a person.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from followup.models import utcnow
from followup.stages.replies import keep_unreadable, receive_reply
from followup.tracking.inbound import NotInbound, parse_form

log = logging.getLogger(__name__)

PATH = "/webhooks/sendgrid/inbound"
MAX_BODY_BYTES = 40 * 1024 * 1024  # 30 MB of mail, and the growth of its form encoding


async def receive_inbound(request: Request) -> Response:
    setup = request.app.state.inbound
    if setup is None or setup.token is None:
        log.warning("refused an Inbound Parse POST: FOLLOWUP_INBOUND_TOKEN is not set")
        return PlainTextResponse("inbound parse is not configured\n", 403)
    # compare_digest: how long the check takes tells nothing about how much of a guess was right.
    given = request.path_params["token"].encode("utf-8")
    if not hmac.compare_digest(given, setup.token.get_secret_value().encode("utf-8")):
        return PlainTextResponse("not found\n", 404)
    body = await request.body()
    return await run_in_threadpool(_receive, request, body, utcnow())


def _receive(request: Request, body: bytes, received_at: datetime) -> Response:
    try:
        reply = parse_form(body, request.headers.get("content-type", ""))
    except NotInbound as exc:
        directory = request.app.state.inbound.unreadable_dir
        if directory is None:
            log.error("refused an Inbound Parse POST: %s", exc)
        else:
            kept = keep_unreadable(directory, body, request.headers.get("content-type", ""), str(exc), received_at)
            log.error("refused an Inbound Parse POST: %s; the post is kept in %s", exc, kept)
        return PlainTextResponse(f"{exc}\n", 400)
    received = receive_reply(request.app.state.engine, request.app.state.inbound, reply, received_at)
    return JSONResponse({"stored": received.stored, "outcome": received.outcome, "matched_by": received.matched_by})


route = Route(PATH + "/{token}", receive_inbound, methods=["POST"], max_body_size=MAX_BODY_BYTES)
