"""Rendering a chunk of planned messages into ledger updates: pure, no I/O."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from .channels import Renderer
from .context import assign_variant, candidate_context
from .message import RenderError


def render_chunk(
    renderer: Renderer,
    rows: Iterable[Mapping[str, Any]],
    *,
    now: datetime | None = None,
) -> tuple[list[dict], list[dict]]:
    """Render planned messages; one bad row never stops the others.

    Each row is a planned `messages` row joined with its candidate and decision: the message
    columns id, message_key, campaign, candidate_id, kind, step, channel, variant (None: assign
    one now), scheduled_for and cadence_started_at, plus the Candidate and Decision columns under
    their own names (where names clash, the message's channel and id win). The text speaks from
    the moment the message is due (scheduled_for), else from `now` (default: the real time), so
    "reply within a week" and the default meeting slot count from when the candidate reads it;
    a later step of a cadence counts the reply-by date from when its first message went out.

    Returns (rendered, failed): rendered rows carry the ledger columns to update (status
    'rendered', template, variant, subject, text_body, html_body, and what the sender needs
    besides: headers, attachments (base64) and the call-sheet row); failed rows carry status
    'failed' and last_error, the reason naming template, line and variable.
    """
    render_now = now or datetime.now(timezone.utc)
    rendered: list[dict] = []
    failed: list[dict] = []
    for row in rows:
        kind, channel = row["kind"], row["channel"]
        variant = row.get("variant")
        try:
            # A variant kept from before (the row rendered again) that was turned off since is not sent.
            if not variant or renderer.turned_off(kind, variant):
                variant = assign_variant(row["campaign"], row["candidate_id"], renderer.variants(kind))
            context = candidate_context(
                row,
                row,
                now=render_now,
                message_key=row.get("message_key"),
                step=row.get("step") or 0,
                scheduled_for=row.get("scheduled_for"),
                cadence_started_at=row.get("cadence_started_at"),
            )
            message = renderer.render(kind, channel, context, variant=variant)
        except (RenderError, ValueError) as exc:
            failed.append(
                {
                    "id": row.get("id"),
                    "message_key": row.get("message_key"),
                    "status": "failed",
                    "variant": variant or None,
                    "last_error": str(exc),
                }
            )
            continue
        rendered.append(
            {
                "id": row.get("id"),
                "message_key": row.get("message_key"),
                "status": "rendered",
                "variant": message.variant,
                "template": message.template,
                "subject": message.subject,
                "text_body": message.text if message.script is None else message.script,
                "html_body": message.html,
                "headers": message.headers or None,
                "attachments": [
                    {
                        "filename": a.filename,
                        "content_type": a.content_type,
                        "content_b64": base64.b64encode(a.content).decode("ascii"),
                    }
                    for a in message.attachments
                ]
                or None,
                "call_sheet": message.call_sheet_row,
            }
        )
    return rendered, failed
