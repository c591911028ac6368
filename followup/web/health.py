"""GET /health: "ok" while the ledger answers, for a load balancer or supervisor."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

PATH = "/health"


def health(request: Request) -> PlainTextResponse:
    # Sync: Starlette runs it on its thread pool, so a slow ledger holds no other request.
    with request.app.state.engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    return PlainTextResponse("ok\n")


route = Route(PATH, health, methods=["GET"])
