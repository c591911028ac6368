"""What every drill checks and prints: each message_key accepted by the sandbox at most once, and
each message either arrived and is `sent`, or is `unknown` for a person; never lost.

Imported as `drillkit` (tests/drills is on the path of its tests and of sender_child.py); not
`conftest`, which the suite's own conftest.py shadows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa

from followup.models import Message
from followup.transports import Envelope


def envelope_for(row: dict) -> Envelope:
    """The email of a claimed row, as the delivery tests build it."""
    return Envelope(
        message_key=row["message_key"],
        to_email=row["email"],
        to_name=row["first_name"],
        from_email="jobs@acme.example",
        from_name="Acme Recruiting",
        reply_to=None,
        subject=row["subject"],
        text=row["text_body"],
        html=None,
        custom_args={"message_key": row["message_key"], "campaign": row["campaign"]},
    )


def statuses(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Message.message_key, Message.status)).all())


def backend(engine) -> str:
    return engine.dialect.name


@dataclass(frozen=True)
class Delivery:
    """What reached the sandbox and what the ledger says, checked: see check_delivery."""

    messages: int
    accepted: int  # distinct message keys the sandbox accepted
    sent: int
    unknown: int
    by_status: dict[str, int]

    def line(self) -> str:
        return f"{self.messages} messages, {self.accepted} accepted once each, {self.sent} sent, {self.unknown} unknown"


def check_delivery(engine, accepted: list[tuple[str, str | None]], keys: list[str]) -> Delivery:
    """`accepted`: Sandbox.message_keys(). Asserts that no key was accepted twice, that every
    message arrived or is `unknown` (never lost), and that every one that is not unknown is `sent`
    (with the X-Message-Id of its one arrival)."""
    arrivals = Counter(key for _, key in accepted)
    twice = [key for key, n in arrivals.items() if n > 1]
    assert not twice, f"accepted more than once: {twice[:5]}"
    final = statuses(engine)
    unknown = {key for key in keys if final[key] == "unknown"}
    lost = set(keys) - set(arrivals) - unknown
    assert not lost, f"neither sent nor unknown: {sorted(lost)[:5]} ({len(lost)})"
    settled = {final[key] for key in set(keys) - unknown}
    assert settled <= {"sent"}, f"arrived, yet {settled - {'sent'}} in the ledger"
    with engine.connect() as conn:
        provider_ids = dict(conn.execute(sa.select(Message.message_key, Message.provider_message_id)
                                          .where(Message.status == "sent")).all())  # fmt: skip
    wrong = [key for message_id, key in accepted if key in provider_ids and provider_ids[key] != message_id]
    assert not wrong, f"sent with another arrival's X-Message-Id: {wrong[:5]}"
    return Delivery(len(keys), len(arrivals), len(set(keys) - unknown), len(unknown), dict(Counter(final.values())))
