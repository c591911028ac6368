"""Recording addresses never to write to again: the user's own list and unsubscribe links.

Bounces, unsubscribes and spam reports arrive as events; a recruiting team also keeps its own
do-not-contact list (FOLLOWUP_SUPPRESSION_FILE). That file is read before every send stage, so
an address added to it stops the very next claim. One address per line, or a CSV whose column
named email (or the first column) holds them; blank lines and lines starting with # are skipped.
A candidate who follows the unsubscribe link of a keep-in-touch email is recorded one address
at a time (suppress_address), which stops the next claim the same way.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Suppression, utcnow
from followup.store.dialect import chunks

REASON = "list"
# Suppression reasons that say an address is bad, not that the person said no (SendGrid's hard
# bounce): they hold back what is delivered by email, never a phone call (store.stop_rules).
BOUNCE = "bounce"
ADDRESS_ONLY = (BOUNCE,)
_CHUNK = 1_000


def read_addresses(path: Path) -> list[str]:
    """The addresses in `path`, as written (local parts may be case-sensitive)."""
    text = path.read_text(encoding="utf-8-sig")
    rows = [row for row in csv.reader(io.StringIO(text)) if row and row[0].strip() and not row[0].startswith("#")]
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    column = header.index("email") if "email" in header else 0
    body = rows[1:] if "email" in header or "@" not in rows[0][0] else rows
    return sorted({row[column].strip() for row in body if len(row) > column and "@" in row[column]})


def sync_list(engine: Engine, path: Path) -> int:
    """Record every address of the list as suppressed (reason 'list'); returns how many are new."""
    addresses = read_addresses(path)
    table = Suppression.__table__
    added = 0
    with engine.begin() as conn:
        known = set(conn.execute(sa.select(table.c.email)).scalars())
        new = [a for a in addresses if a not in known]
        now = utcnow()
        for chunk in chunks(new, _CHUNK):
            conn.execute(table.insert(), [{"email": a, "reason": REASON, "source": path.name, "created_at": now} for a in chunk])
            added += len(chunk)
    return added


def suppress_address(engine: Engine, email: str, reason: str, source: str) -> bool:
    """Record `email` as suppressed; True when it is new, False when it already was.

    The address is stored as given (a local part may be case-sensitive); an existing row under
    its lower-cased spelling, as SendGrid reports addresses, counts as already suppressed, since
    the send stage looks up both spellings.
    """
    table = Suppression.__table__
    try:
        with engine.begin() as conn:
            spellings = sorted({email, email.lower()})
            if conn.execute(sa.select(table.c.email).where(table.c.email.in_(spellings)).limit(1)).first():
                return False
            conn.execute(
                table.insert().values(email=email, reason=reason, source=source, created_at=utcnow())
            )
    except sa.exc.IntegrityError:  # a concurrent request (a mail client and the person) recorded it first
        return False
    return True
