"""A file of recorded outcomes, checked: the vocabulary, the business clock, and the ledger's candidates
and messages; good rows typed and completed, bad ones quarantined as a batch's are.

Plain pandas rather than a Great Expectations suite: most rules are questions to the ledger (is this a
candidate, when were they first written to, whose message is this key), which the stage asks once per
file and hands in; the rest is a handful of rules over a call sheet's worth of rows, where importing GX
(~2.8 s) would cost more than the whole command. Failures take the batch quarantine's shape
(quarantine_frame) and the batch's gate (gate_reason) refuses a file too bad to record.

Times without an offset are wall time in `default_timezone` (the company's, FOLLOWUP_TIMEZONE), else
UTC: the person who logged them is the recruiter, on the company's clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from followup.channels import CHANNEL_NAMES
from followup.importing import OUTCOME_COLUMNS, RawBatch, ReadLimits
from followup.models import Outcome
from followup.validation import Validated
from followup.validation.derive import (
    as_shown, as_str, channel_name, parse_dates, per_unique, rows_where, scan_text, take_rows,
)  # fmt: skip
from followup.validation.quarantine import join_failures, quarantine_frame
from followup.validation.rules import listed

OUTCOMES = tuple(outcome.value for outcome in Outcome)
NOTE_LIMIT = 4000  # characters, as a batch's free-text columns
TYPED_COLUMNS = ("candidate_id", "outcome", "received_at", "channel", "message_key", "note", "source_line")
_TIME_HINT = " (use 2026-11-20 14:30, 2026-11-20T14:30:00+01:00 or 11/20/2026 2:30 PM)"


def _utc(moment: datetime) -> str:
    return f"{pd.Timestamp(moment).tz_convert('UTC'):%Y-%m-%d %H:%M} UTC"


def validate_outcomes(
    raw: RawBatch,
    *,
    now: datetime,
    channels: Mapping[str, str],
    sent: Iterable[tuple[str, str, str, datetime]],
    default_timezone: str | None = None,
    max_cell_chars: int = ReadLimits().max_cell_chars,
) -> Validated:
    """Every record checked: good ones typed in `valid` (TYPED_COLUMNS, received_at in UTC), the others
    (and malformed records) in `quarantine` with their reasons.

    channels: each known candidate of the file -> their channel. sent: (message_key, candidate_id,
    channel, sent_at) of every message sent to them. An empty channel becomes the named message's
    channel, else the candidate's; an empty message_key the latest message sent to the candidate on
    that channel no later than the outcome's time (none when there is no such message).
    """
    frame = raw.frame
    label = {c: raw.source_headers.get(c, c).strip() for c in OUTCOME_COLUMNS.canonical}
    parts: list[pd.DataFrame] = []
    bad = np.zeros(len(frame), dtype=bool)

    def fail(rows: np.ndarray, column: str, reason) -> None:
        if len(rows):
            reason = reason.to_numpy(dtype=object) if isinstance(reason, pd.Series) else reason
            parts.append(pd.DataFrame({"columns": column, "reason": reason}, index=rows))
            bad[rows] = True

    def quoted(column: str, rows: np.ndarray) -> pd.Series:
        return f"{label[column]} '" + as_shown(take_rows(frame[column], rows)).reset_index(drop=True) + "'"

    def required(column: str) -> np.ndarray:
        empty = frame[column].isna().to_numpy()
        fail(rows_where(empty), column, f"{label[column]} is required but empty")
        return ~empty

    sent_frame = pd.DataFrame(list(sent), columns=["message_key", "candidate_id", "channel", "sent_at"], dtype=object)
    sent_frame["sent_at"] = pd.to_datetime(sent_frame["sent_at"], utc=True).astype("datetime64[ns, UTC]")
    first_sent = sent_frame.groupby("candidate_id")["sent_at"].min()

    # Who: a candidate the ledger knows, and has written to.
    candidate = frame["candidate_id"].astype(object)
    present = required("candidate_id")
    known = present & candidate.isin(list(channels)).to_numpy()
    rows = rows_where(present & ~known)
    fail(rows, "candidate_id", quoted("candidate_id", rows) + " is not a candidate in the ledger")
    contacted = known & candidate.isin(first_sent.index).to_numpy()
    rows = rows_where(known & ~contacted)
    fail(rows, "candidate_id",
         quoted("candidate_id", rows) + " has not been sent any message yet, so cannot have answered")  # fmt: skip

    # What: one of the vocabulary, spelt as a recruiter may ("No answer", "no-answer").
    outcome = per_unique(frame["outcome"], channel_name).astype(object)
    rows = rows_where(required("outcome") & ~outcome.isin(OUTCOMES).to_numpy())
    fail(rows, "outcome", quoted("outcome", rows) + f" is not an outcome: use {listed(OUTCOMES)}")

    # When: a time that reads, not after the business clock, not before the first message.
    zone = pd.Index([default_timezone or "UTC"])
    at, unparsed = parse_dates(frame["at"], np.zeros(len(frame), dtype=np.int64), zone)
    rows = rows_where(unparsed)
    fail(rows, "at", quoted("at", rows) + " is not a date and time" + _TIME_HINT)
    timed = required("at") & ~unparsed
    rows = rows_where(timed & (at > pd.Timestamp(now)).to_numpy())
    fail(rows, "at", quoted("at", rows) + f" is in the future (it is {_utc(now)} now)")
    first = pd.Series(first_sent.reindex(candidate).array, index=frame.index)  # NaT for the others
    rows = rows_where(timed & contacted & (at < first).to_numpy())
    fail(rows, "at", quoted("at", rows) + " is before the first message to the candidate, sent "
         + as_str([_utc(moment) for moment in first.iloc[rows]]))  # fmt: skip

    # How: a channel we have; the message, when named, one sent to this candidate on that channel.
    given_channel = per_unique(frame["channel"], channel_name).astype(object)
    rows = rows_where(given_channel.notna().to_numpy() & ~given_channel.isin(CHANNEL_NAMES).to_numpy())
    fail(rows, "channel", quoted("channel", rows) + f" must be {listed(CHANNEL_NAMES)}")
    key = frame["message_key"].astype(object)
    named = pd.DataFrame({"message_key": key, "candidate_id": candidate}).merge(
        sent_frame, how="left", on=["message_key", "candidate_id"]
    )
    rows = rows_where(contacted & key.notna().to_numpy() & named["sent_at"].isna().to_numpy())
    fail(rows, "message_key", quoted("message_key", rows) + " is not a message sent to "
         + as_str(candidate.iloc[rows]))  # fmt: skip
    found = named["sent_at"].notna().to_numpy()
    rows = rows_where(found & given_channel.notna().to_numpy() & (given_channel != named["channel"]).to_numpy())
    fail(rows, "channel;message_key", quoted("channel", rows) + " is not the channel of that message ("
         + as_str(named["channel"].iloc[rows]) + ")")  # fmt: skip
    rows = rows_where(found & timed & (at < named["sent_at"]).to_numpy())
    fail(rows, "at;message_key", quoted("at", rows) + " is before that message was sent ("
         + as_str([_utc(moment) for moment in named["sent_at"].iloc[rows]]) + ")")  # fmt: skip

    # The note: free text, which may hold line breaks and tabs but no other control characters.
    scan = scan_text(frame["note"], NOTE_LIMIT, free_text=True)
    fail(scan.long_rows, "note", [f"{label['note']} is too long ({size} characters, at most {NOTE_LIMIT})"
                                  for size in scan.lengths])  # fmt: skip
    fail(scan.control[:, 0], "note", [f"{label['note']} contains the control character U+{point:04X} (free text "
                                      "may hold line breaks and tabs, no other control characters)"
                                      for point in scan.control[:, 1]])  # fmt: skip

    good = rows_where(~bad)
    note = frame["note"].str.replace("\r\n?", "\n", regex=True)  # line breaks are stored as LF

    def kept(values: pd.Series) -> pd.Series:
        return values.iloc[good].reset_index(drop=True)

    typed = pd.DataFrame({
        "candidate_id": kept(candidate),
        "outcome": kept(outcome),
        "received_at": kept(at),
        "channel": kept(given_channel.fillna(named["channel"]).fillna(candidate.map(channels))),
        "message_key": kept(key),
        "note": kept(note.astype(object).where(note.notna(), None)),
        "source_line": raw.line_numbers[good],
    })  # fmt: skip
    typed["message_key"] = typed["message_key"].where(typed["message_key"].notna(), _latest_sent(typed, sent_frame))
    return Validated(
        valid=typed[list(TYPED_COLUMNS)],
        quarantine=quarantine_frame(raw, join_failures(parts), max_cell_chars),
        rows=len(frame) + len(raw.malformed),
        data_docs=None,
    )


def _latest_sent(typed: pd.DataFrame, sent: pd.DataFrame) -> pd.Series:
    """Per outcome, the key of the latest message sent to its candidate on its channel no later than it
    (None when there is none)."""
    if typed.empty or sent.empty:
        return pd.Series(None, index=typed.index, dtype=object)
    left = typed[["candidate_id", "channel", "received_at"]].reset_index().sort_values("received_at")
    right = sent.sort_values("sent_at")
    matched = pd.merge_asof(left, right, left_on="received_at", right_on="sent_at", by=["candidate_id", "channel"])
    latest = matched.set_index("index")["message_key"].reindex(typed.index).astype(object)
    return latest.where(latest.notna(), None)
