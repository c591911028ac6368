"""Recorded outcomes: what no webhook brings (a call's result from the recruiter's call sheet, a
meeting held or missed, a reply the recruiter read in their own inbox), read from a CSV or XLSX
file, checked against the ledger, quarantined, gated and stored as responses.

    setup = OutcomeSetup.of(settings)
    summary = import_outcomes(path, now, setup)

One plain function, which the CLI runs without Prefect: a file holds a call sheet's worth of rows,
read and stored in well under a second, where Prefect's temporary server alone takes seconds to
start. A refusal is a summary with status "refused", never raised.

The same outcome is stored once (outcome_key): importing a file again, or a copy of it with a
corrected note, records nothing new; the note first recorded stays.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from followup import importing
from followup.config import Settings
from followup.stages.importing import read_limits
from followup.store import open_ledger
from followup.store.responses import NewResponse, candidate_channels, insert_responses, sent_messages
from followup.validation import gate_reason, write_quarantine
from followup.validation.outcomes import validate_outcomes


@dataclass(frozen=True)
class OutcomeSetup:
    """What recording outcomes needs from the settings."""

    ledger_url: str
    quarantine_dir: Path
    max_bad_share: float = 0.20
    default_timezone: str | None = None
    limits: importing.ReadLimits = importing.ReadLimits()

    @classmethod
    def of(cls, settings: Settings) -> OutcomeSetup:
        return cls(settings.ledger_url, settings.quarantine_dir, settings.max_bad_share, settings.timezone,
                   read_limits(settings))  # fmt: skip


@dataclass(frozen=True)
class OutcomeSummary:
    """What `followup outcomes import` reports; the fields in the order its --json prints them."""

    file: str
    status: str  # recorded | refused
    rows: int = 0
    recorded: int = 0
    duplicates: int = 0  # good rows recorded before (or twice in the file)
    quarantined: int = 0
    quarantine_file: str | None = None
    reason: str | None = None

    @property
    def refused(self) -> bool:
        return self.status == "refused"

    def to_json(self) -> dict:
        return asdict(self)


def outcome_key(candidate_id: str, outcome: str, at: datetime, channel: str, message_key: str | None) -> str:
    """What makes two recorded outcomes the same one: sha256 (hex) of the JSON array
    [candidate_id, outcome, at in UTC as "2026-11-20T14:30:00.000000Z", channel, message_key or null],
    the values as stored (channel and message_key after their defaults). The note and the file are
    left out, so a corrected note or a renamed copy of the file records nothing new."""
    moment = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = json.dumps([candidate_id, outcome, moment, channel, message_key], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def quarantine_path(path: Path, quarantine_dir: Path) -> Path:
    """One quarantine file per file content: importing the same file again replaces its list."""
    stem = re.sub(r"[^\w.-]+", "_", path.stem).strip("._") or "file"
    return quarantine_dir / f"outcomes-{stem}-{importing.file_sha256(path)[:8]}.csv"


def import_outcomes(path: Path, now: datetime, setup: OutcomeSetup) -> OutcomeSummary:
    """Read, check and record the outcomes in `path` as of the business clock `now` (aware): nothing
    is recorded when the file is refused (unreadable, required columns missing, too many bad rows)."""
    path = Path(path)
    try:
        raw = importing.read_batch(path, limits=setup.limits, columns=importing.OUTCOME_COLUMNS)
    except importing.ImportRefused as exc:
        return OutcomeSummary(file=str(path), status="refused", reason=str(exc))
    engine = open_ledger(setup.ledger_url)
    ids = raw.frame["candidate_id"].dropna().unique().tolist()
    checked = validate_outcomes(
        raw,
        now=now,
        channels=candidate_channels(engine, ids),
        sent=sent_messages(engine, ids),
        default_timezone=setup.default_timezone,
        max_cell_chars=setup.limits.max_cell_chars,
    )
    target = quarantine_path(path, setup.quarantine_dir)
    quarantine_file = write_quarantine(checked, target)
    if quarantine_file is None:
        target.unlink(missing_ok=True)  # an earlier import's list of this file (another --now) is void
    summary = OutcomeSummary(
        file=str(path),
        status="recorded",
        rows=checked.rows,
        quarantined=len(checked.quarantine),
        quarantine_file=str(quarantine_file) if quarantine_file else None,
    )
    refusal = gate_reason(checked, setup.max_bad_share, "outcome file")
    if refusal:
        return replace(summary, status="refused", reason=refusal)
    source = f"outcomes:{path.name}"
    responses = []
    for row in checked.valid.itertuples(index=False):
        at = row.received_at.to_pydatetime()
        key = outcome_key(row.candidate_id, row.outcome, at, row.channel, row.message_key)
        responses.append(
            NewResponse(key, row.candidate_id, row.message_key, row.channel, row.outcome, row.note, at, source)
        )
    recorded = insert_responses(engine, responses)
    return replace(summary, recorded=recorded, duplicates=len(responses) - recorded)
