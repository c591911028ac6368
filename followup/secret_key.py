"""The secret that signs unsubscribe links: FOLLOWUP_SECRET_KEY, or on a SQLite ledger a key made
on first use and kept in the data dir, readable by its owner only.

A SQLite ledger lives on one machine, so the processes that sign links (senders, render workers)
and the one that checks them (`followup serve`) all find the same file. Any other ledger may be
shared by several machines: a key made on each would sign links the others refuse, so there
the setting is required and nothing is made.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import sqlalchemy as sa
from pydantic import SecretStr

from followup.config import Settings

MISSING = (
    "FOLLOWUP_SECRET_KEY is not set. With a ledger other than SQLite every sender and `followup serve` "
    "must sign and check unsubscribe links with the same secret: set FOLLOWUP_SECRET_KEY to the same "
    "random string for all of them, e.g. the output of "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
)


def signing_secret(settings: Settings) -> SecretStr | None:
    """The secret the settings sign with; None when the ledger is not SQLite and none is set."""
    if settings.secret_key is not None:
        return settings.secret_key
    if sa.make_url(settings.ledger_url).get_backend_name() != "sqlite":
        return None
    return SecretStr(_kept_key(settings.secret_key_file))


def _kept_key(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp makes the file 0600. Written whole under another name, then linked into place:
        # two processes starting at once both end up with the first one's key, and neither can
        # read a key half-written.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="ascii") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
                out.flush()
                os.fsync(out.fileno())  # a key lost to a power cut would break every link sent
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise ValueError(f"{path} holds no key; delete it to make a new one (links already sent stop working)")
    return key
