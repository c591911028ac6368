"""POST /webhooks/sendgrid/events: SendGrid's Signed Event Webhook.

Each POST is checked (tracking.signatures) with SENDGRID_WEBHOOK_PUBLIC_KEY, then its events are
stored in one transaction (store.events) before the 200 goes back: SendGrid retries, for 24
hours, only what it did not get a 2xx for, so an event acknowledged and then lost is lost for
good. A failure to store answers 5xx (app.py), and SendGrid posts the batch again.

- 413 for a body over 1 MiB, from its Content-Length before any of it is read, or as a chunked
  body grows past it (SendGrid posts at most 768 KB);
- 403 for a missing or wrong signature, a timestamp more than 10 minutes from the real clock,
  and every POST while no public key is set (nothing unsigned is believed);
- 400 for a malformed signature and for a body that is not a JSON array of events.
"""

from __future__ import annotations

import logging
from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from followup.models import utcnow
from followup.store.events import store_events
from followup.tracking.events import NotEvents, normalise, parse_body
from followup.tracking.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, check_signature

log = logging.getLogger(__name__)

PATH = "/webhooks/sendgrid/events"
MAX_BODY_BYTES = 1024 * 1024


async def receive_events(request: Request) -> Response:
    body = await request.body()
    # The check and the storing are blocking work: on the thread pool, the loop keeps accepting.
    return await run_in_threadpool(_receive, request, body, utcnow())


def _receive(request: Request, body: bytes, received_at: datetime) -> Response:
    key = request.app.state.webhook_public_key
    if key is None:
        log.warning("refused an event POST: SENDGRID_WEBHOOK_PUBLIC_KEY is not set, so no signature can be checked")
        return PlainTextResponse("signature checks are not configured\n", 403)
    refusal = check_signature(key, body, request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER))
    if refusal is not None:
        log.warning("refused an event POST: %s", refusal.reason)
        return PlainTextResponse(f"{refusal.reason}\n", refusal.status)
    try:
        events = parse_body(body)
    except NotEvents as exc:
        log.warning("refused an event POST: %s", exc)
        return PlainTextResponse(f"{exc}\n", 400)
    stored = store_events(request.app.state.engine, [normalise(event, received_at) for event in events], received_at)
    if stored.unmatched:
        log.info("%d of %d new events name no message of this ledger; kept, flagged unmatched",
                 stored.unmatched, stored.stored)  # fmt: skip
    return JSONResponse({"events": stored.events, "stored": stored.stored, "duplicates": stored.duplicates})


route = Route(PATH, receive_events, methods=["POST"], max_body_size=MAX_BODY_BYTES)
