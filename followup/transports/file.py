"""Writes each email as an .eml file in a folder: one file per message_key, for rehearsals and review.

Files are written atomically (a temporary file in the same folder, then a rename), so a reader
never sees half an email, and sending the same message_key again replaces its file rather
than adding a second one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import quote

from followup.logs import mask_email
from followup.transports.base import Envelope, SendOutcome, check_limits
from followup.transports.mime import BUILD_ERRORS, build_email_message, message_id_for

log = logging.getLogger(__name__)

_MAX_NAME = 200  # leaves room under the usual 255-byte file name limit


def eml_path(directory: Path, message_key: str) -> Path:
    """Where the email for `message_key` lands: the key percent-encoded (reversible, no path
    separators), or its hash when that would make too long a file name."""
    name = quote(message_key, safe="")
    if len(name) > _MAX_NAME:
        name = hashlib.sha256(message_key.encode("utf-8")).hexdigest()
    return directory / f"{name}.eml"


class FileTransport:
    name = "file"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def send(self, envelope: Envelope) -> SendOutcome:
        problem = check_limits(envelope)
        if problem:
            return SendOutcome.failed(problem)
        try:
            data = build_email_message(envelope).as_bytes()
        except BUILD_ERRORS as exc:
            return SendOutcome.failed(f"cannot build the email: {exc}")
        target = eml_path(self.directory, envelope.message_key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".sending-", suffix=".eml")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, target)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            # A full disk or an unmounted share may come back; the ledger retries with backoff.
            log.warning("Could not write %s for %s: %s", target.name, mask_email(envelope.to_email), exc)
            return SendOutcome.retry(f"cannot write {target}: {exc}")
        return SendOutcome.sent(message_id_for(envelope))

    def close(self) -> None:
        """Nothing to release: every send closes its file."""
