"""One person's cadence explained: every step planned, sent, postponed, cancelled or suppressed,
every response, the stop and the suppressions of their address, in time order, each with why.
What a recruiter asks first: why did this person get a nudge, or why not.

    timeline = candidate_timeline(ledger_url, "C-1", now, default_timezone="Europe/London")

candidate_timeline reads the ledger (store.timeline.candidate_facts) and hands the facts to
timeline_entries, a plain function of them and the business clock. Neither applies a cadence
rule: the reasons are those the planner, the claim and `followup stop` recorded on the rows.

Where each entry sits (UTC):
- a message that went out, at sent_at (the business clock); one that did not, at its window's
  opening (scheduled_for), or when it was planned if it has none: a step cancelled by a reply is
  listed where it would have gone, after the reply that stopped it;
- a response at received_at (the business clock);
- the stop and a suppression at when they were recorded, on the real clock: in a replay with
  --now they sit at today's date, outside a replay the two clocks are the same.

The planner adds what the ledger does not hold yet through `upcoming`: Entry values for a next
step not planned so far (what="planned", reason "next: step 2 due ..."), a step held until
`reconcile` settles its predecessor ("held") or one the cadence passed over ("skipped"). They
are merged into the same order; an entry whose `what` is not in WHATS is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from followup.channels import CHANNELS
from followup.models import MessageStatus
from followup.store import open_ledger
from followup.store.stops import DEFAULT_REASON
from followup.store.timeline import CandidateFacts, candidate_facts

# What an entry says happened. A message row is planned, due, postponed, sending, sent, cancelled,
# suppressed, failed or unknown, by its status and the business clock; held and skipped come from
# the planner's upcoming entries; responses, the stop and suppressions are the last three.
WHATS = (
    "planned", "due", "postponed", "held", "skipped", "sending", "sent", "cancelled", "suppressed", "failed",
    "unknown", "response", "stopped", "suppressed_address",
)  # fmt: skip
_PENDING = {MessageStatus.PLANNED.value, MessageStatus.RENDERED.value, MessageStatus.RETRY_WAIT.value}
# An outcome as a sentence's verb ("replied by email"); DESIGN.md's vocabulary.
_SAID = {
    "accepted": "accepted", "declined": "declined", "replied": "replied", "question": "asked a question",
    "opt_out": "opted out", "called_back": "called back", "no_answer": "no answer", "wrong_number": "wrong number",
    "attended": "attended", "no_show": "did not show", "out_of_office": "out of office",
    "auto_reply": "automatic reply",
}  # fmt: skip
_HOW = {"voicemail": "by phone", "in_person": "in person"}


@dataclass(frozen=True)
class Entry:
    """One line of a timeline. `at` is aware; step, kind, channel and campaign are those of the
    message it is about, None for what concerns the person as a whole (a stop)."""

    at: datetime
    what: str
    step: int | None = None
    kind: str | None = None
    channel: str | None = None
    campaign: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.what not in WHATS:
            raise ValueError(f"a timeline entry is one of {', '.join(WHATS)}, not {self.what!r}")
        if self.at.tzinfo is None:
            raise ValueError("a timeline entry's time must be aware")

    def to_json(self) -> dict:
        utc = self.at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        return {"at": utc, "what": self.what, "step": self.step, "kind": self.kind, "channel": self.channel,
                "campaign": self.campaign, "reason": self.reason}  # fmt: skip


@dataclass(frozen=True)
class Timeline:
    """`followup timeline`'s document: the person, their decisions and the entries in time order."""

    candidate: dict  # candidate_id, name, timezone (the zone times are shown in), country, channel
    decisions: list[dict]  # role, decision, decided_at, offer_deadline
    entries: list[Entry]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.candidate["timezone"])

    def to_json(self) -> dict:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

        decisions = [{**d, "decided_at": iso(d["decided_at"]), "offer_deadline": iso(d["offer_deadline"])}
                     for d in self.decisions]  # fmt: skip
        return {"candidate": self.candidate, "decisions": decisions, "entries": [e.to_json() for e in self.entries]}


def candidate_timeline(
    ledger_url: str,
    candidate_id: str,
    now: datetime,
    *,
    default_timezone: str | None = None,
    upcoming: Iterable[Entry] = (),
) -> Timeline | None:
    """The timeline of `candidate_id` as of `now` (the business clock); None for an unknown id.
    Times are shown in the candidate's zone, else `default_timezone` (FOLLOWUP_TIMEZONE), else UTC."""
    facts = candidate_facts(open_ledger(ledger_url), candidate_id)
    if facts is None:
        return None
    person = facts.candidate
    zone = ZoneInfo(person["timezone"] or default_timezone or "UTC")
    candidate = {
        "candidate_id": person["candidate_id"],
        "name": f"{person['first_name']} {person['last_name']}".strip(),
        "timezone": zone.key,
        "country": person["country"],
        "channel": person["channel"],
    }
    decisions = [{key: d[key] for key in ("role", "decision", "decided_at", "offer_deadline")} for d in facts.decisions]
    return Timeline(candidate, decisions, timeline_entries(facts, now, zone, upcoming))


def timeline_entries(
    facts: CandidateFacts, now: datetime, zone: ZoneInfo, upcoming: Iterable[Entry] = ()
) -> list[Entry]:
    """The entries the facts make, with `upcoming`'s, in time order. At the same moment the
    ledger's come first (messages as planned, then responses, the stop, suppressions)."""
    by_key = {m["message_key"]: m for m in facts.messages}
    entries = [_message_entry(m, now, zone, facts.halted.get(m["campaign"])) for m in facts.messages]
    entries += [_response_entry(r, by_key.get(r["message_key"])) for r in facts.responses]
    if facts.stop is not None:
        entries.append(_stop_entry(facts.candidate["candidate_id"], facts.stop))
    entries += [_suppression_entry(s) for s in facts.suppressions]
    entries += list(upcoming)
    return sorted(entries, key=lambda entry: entry.at)  # stable: ties keep the order above


# --- messages ---


def local(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


def _window(opens: datetime, closes: datetime | None, zone: ZoneInfo) -> str:
    """"2026-11-27 09:00–17:00 America/New_York": the window in the candidate's own time."""
    if closes is None:
        return f"from {local(opens, zone)} {zone.key}"
    same_day = closes.astimezone(zone).date() == opens.astimezone(zone).date()
    until = f"{closes.astimezone(zone):%H:%M}" if same_day else local(closes, zone)
    return f"{local(opens, zone)}–{until} {zone.key}"


def _when_due(message: dict, now: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """Whether a pending message is planned for later or due now, and its window as a reason."""
    opens, closes = message["scheduled_for"], message["window_closes"]
    if opens is None:
        return "due", "due at once"
    window = _window(opens, closes, zone)
    if opens > now:
        return "planned", f"due {window}"
    if closes is not None and closes <= now:
        return "due", f"window {window} closed before it went out: the next sweep moves it to the next window"
    return "due", f"window open {window}: due now"


def _plan_note(message: dict) -> str | None:
    """Why the step is due when it is, as the planner wrote it; the timing experiment's draw
    when the planner left no note of it."""
    note = message["plan_note"]
    drew = message["experiment_arm"] == "timing" and message["experiment_hour"] is not None
    if drew and "experiment" not in (note or ""):
        draw = f"experiment: +{message['experiment_delay_days']} business days at {message['experiment_hour']:02d}:00"
        note = f"{note}; {draw}" if note else draw
    return note


def _join(*parts: str | None) -> str:
    return "; ".join(part for part in parts if part)


def _message_entry(message: dict, now: datetime, zone: ZoneInfo, halted: dict | None) -> Entry:
    """The entry of one message row; `halted`: its campaign's state when paused or cancelled."""
    status, note = message["status"], _plan_note(message)
    at = message["sent_at"] or message["scheduled_for"] or message["created_at"]

    def entry(what: str, reason: str) -> Entry:
        return Entry(at, what, message["step"], message["kind"], message["channel"], message["campaign"], reason)

    if status == MessageStatus.SENT.value:
        on_sheet = CHANNELS[message["channel"]].delivery == "call_sheet"
        return entry("sent", _join("onto the recruiter's call sheet" if on_sheet else None, note))
    if status in _PENDING:
        what, window = _when_due(message, now, zone)
        retry = waiting = None
        if status == MessageStatus.RETRY_WAIT.value:
            after = message["next_attempt_at"]
            retry = (f"attempt {message['attempts']} did not go through: {message['last_error'] or 'no reason given'}"
                     + (f"; next try after {local(after, timezone.utc)} UTC" if after else ""))  # fmt: skip
        if halted is not None:  # a paused campaign's messages wait, whatever their window says
            why = f" ({halted['reason']})" if halted["reason"] else ""
            waiting = f"campaign {message['campaign']} is {halted['state']}{why}"
        if note and note.startswith("postponed"):
            return entry("postponed", _join(note, window, retry, waiting))
        return entry(what, _join(window, retry, note, waiting))
    if status == MessageStatus.SENDING.value:
        return entry("sending", "a sender has it now")
    if status == MessageStatus.UNKNOWN.value:
        return entry("unknown", _join("fate unknown: see `followup reconcile`", message["last_error"]))
    if status == MessageStatus.FAILED.value and message["attempts"]:
        return entry("failed", f"after {message['attempts']} attempts: {message['last_error'] or 'no reason given'}")
    # cancelled, suppressed, or failed before any attempt (it could not be written): the row says why.
    return entry(status, message["last_error"] or f"{status}, no reason recorded")


# --- the rest ---


def _response_entry(response: dict, message: dict | None) -> Entry:
    """"replied by email: <note>"; step, kind and campaign those of the message it answers, when known."""
    outcome, channel = response["outcome"], response["channel"]
    said = f"{_SAID.get(outcome, outcome.replace('_', ' '))} {_HOW.get(channel, f'by {channel}')}"
    reason = _join(f"{said}: {response['note']}" if response["note"] else said,
                   f"recorded from {response['source']}" if response["source"] else None)  # fmt: skip
    step, kind, campaign = (message["step"], message["kind"], message["campaign"]) if message else (None, None, None)
    return Entry(response["received_at"], "response", step, kind, channel, campaign, reason)


def _stop_entry(candidate_id: str, stop: dict) -> Entry:
    said = stop["reason"] if stop["reason"] == DEFAULT_REASON else f"stopped: {stop['reason']}"
    lasts = f"lasts until `followup stop {candidate_id} --undo`"
    return Entry(stop["stopped_at"], "stopped", reason=f"{said} (recorded by {stop['source']}); {lasts}")


def _suppression_entry(suppression: dict) -> Entry:
    source = f" (from {suppression['source']})" if suppression["source"] else ""
    reason = f"address suppressed: {suppression['reason']}{source}"
    return Entry(suppression["created_at"], "suppressed_address", reason=reason)
