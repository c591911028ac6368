"""Logging for the command line: stderr only, candidate emails masked at INFO and above."""

from __future__ import annotations

import logging
import re
from pathlib import Path

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+)[A-Za-z0-9.-]*")


def mask_email(text: str) -> str:
    """'maria.lopez@example.com' -> 'm***@e***': enough to tell rows apart, not to contact anyone."""
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)[0]}***", text)


class MaskEmails(logging.Filter):
    """Candidate addresses appear in full only in DEBUG records, which a user turns on deliberately."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.INFO:
            message = record.getMessage()
            masked = mask_email(message)
            if masked != message:
                record.msg, record.args = masked, None
        return True


class _Terminal(logging.Formatter):
    """Prefect's own records without their tracebacks: a failed task's error reaches the command,
    which says what went wrong once (a traceback only for what it cannot explain)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name.startswith("prefect") and (record.exc_info or record.stack_info):
            return f"{record.levelname} {record.name}: {record.getMessage()}"
        return super().format(record)


def configure(verbose: bool = False) -> None:
    handler = logging.StreamHandler()  # stderr: stdout belongs to --json documents
    line = "%(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(line) if verbose else _Terminal(line))
    handler.addFilter(MaskEmails())
    if not verbose:
        # Great Expectations resets one of its loggers to INFO when imported and narrates
        # temporary directories there; only its warnings concern a recruiter.
        handler.addFilter(lambda r: r.levelno >= logging.WARNING or not r.name.startswith("great_expectations"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("followup").setLevel(logging.DEBUG if verbose else logging.INFO)


def to_file(path: Path) -> None:
    """From now on the log goes to `path` (appended), not to the terminal: a command whose terminal
    shows its own progress and summary (the demo) keeps its INFO narrative for whoever looks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskEmails())
    logging.getLogger().handlers[:] = [handler]
