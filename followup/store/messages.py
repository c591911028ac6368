"""The messages ledger: what the render stage reads and writes."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Candidate, Decision, Message, MessageStatus, utcnow

_CANDIDATE_COLUMNS = ("email", "first_name", "last_name", "phone", "timezone", "country", "locale")
_DECISION_COLUMNS = (
    "role", "decision", "decided_at", "offer_deadline", "start_date", "salary_min", "salary_max",
    "currency", "location", "reasons", "interests", "recruiter_name", "recruiter_email",
    "recruiter_phone", "hiring_manager", "company", "meeting_at", "meeting_location", "notes",
)  # fmt: skip
_MESSAGE_COLUMNS = ("id", "message_key", "campaign", "candidate_id", "kind", "step", "channel", "variant", "scheduled_for")
_RENDERED_COLUMNS = (
    "variant", "template", "subject", "text_body", "html_body", "headers", "attachments", "call_sheet",
)  # fmt: skip
# SQLite caps bound parameters per statement; PostgreSQL does not mind the same chunk.
_ID_CHUNK = 5_000
# Most messages have no headers, attachments or call-sheet row: store SQL NULL, as the sender
# reads it (None either way), without serialising a JSON 'null' three times per message.
_JSON_OR_NULL = sa.JSON(none_as_null=True)


def planned_ids(engine: Engine, campaign: str | None = None) -> list[int]:
    """Ids of the messages waiting to be rendered, oldest plan first."""
    query = sa.select(Message.id).where(Message.status == MessageStatus.PLANNED).order_by(Message.id)
    if campaign is not None:
        query = query.where(Message.campaign == campaign)
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def rows_for_render(engine: Engine, ids: Sequence[int]) -> list[dict]:
    """Planned messages joined with their candidate and decision, as the renderer reads them."""
    columns = [
        *(Message.__table__.c[c] for c in _MESSAGE_COLUMNS),
        *(Candidate.__table__.c[c] for c in _CANDIDATE_COLUMNS),
        *(Decision.__table__.c[c] for c in _DECISION_COLUMNS),
    ]
    rows: list[dict] = []
    with engine.connect() as conn:
        for start in range(0, len(ids), _ID_CHUNK):
            query = (
                sa.select(*columns)
                .join(Candidate, Candidate.candidate_id == Message.candidate_id)
                .outerjoin(Decision, Decision.id == Message.decision_id)
                .where(Message.id.in_(ids[start : start + _ID_CHUNK]), Message.status == MessageStatus.PLANNED)
            )
            result = conn.execute(query)
            # dict(zip()) over plain tuples: dict(row._mapping) fetches each of the 35 columns
            # through a Python-level mapping, as long as SQLite takes to read the row.
            keys = tuple(result.keys())
            rows.extend(dict(zip(keys, row)) for row in result)
    return rows


def save_render_results(engine: Engine, rendered: Sequence[dict], failed: Sequence[dict]) -> None:
    """Store rendered parts (status rendered) and failures with their reason (status failed).

    Only rows still `planned` change, so a re-run after a crash never overwrites a message
    another process has already moved on.
    """
    now = utcnow()
    table = Message.__table__
    still_planned = sa.and_(table.c.id == sa.bindparam("_id"), table.c.status == MessageStatus.PLANNED.value)
    with engine.begin() as conn:
        if rendered:
            conn.execute(
                table.update().where(still_planned).values(
                    status=MessageStatus.RENDERED.value,
                    variant=sa.bindparam("variant"),
                    template=sa.bindparam("template"),
                    subject=sa.bindparam("subject"),
                    text_body=sa.bindparam("text_body"),
                    html_body=sa.bindparam("html_body"),
                    headers=sa.bindparam("headers", type_=_JSON_OR_NULL),
                    attachments=sa.bindparam("attachments", type_=_JSON_OR_NULL),
                    call_sheet=sa.bindparam("call_sheet", type_=_JSON_OR_NULL),
                    updated_at=now,
                ),
                [{**{k: r.get(k) for k in _RENDERED_COLUMNS}, "_id": r["id"]} for r in rendered],
            )  # fmt: skip
        if failed:
            conn.execute(
                table.update().where(still_planned).values(
                    status=MessageStatus.FAILED.value,
                    variant=sa.bindparam("variant"),
                    last_error=sa.bindparam("last_error"),
                    updated_at=now,
                ),
                [{"variant": f["variant"], "last_error": f["last_error"], "_id": f["id"]} for f in failed],
            )
