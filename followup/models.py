"""The ledger's tables (SQLAlchemy 2) and the status vocabularies.

Statuses are stored as their lowercase values (never enum member names) so SQL, reports and
other tools can read the ledger directly.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class MessageStatus(str, enum.Enum):
    PLANNED = "planned"
    RENDERED = "rendered"
    SENDING = "sending"
    SENT = "sent"
    RETRY_WAIT = "retry_wait"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


class Outcome(str, enum.Enum):
    """What happened after a message: a reply read, a call made, a meeting held (DESIGN.md, "Outcome vocabulary")."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    REPLIED = "replied"
    QUESTION = "question"
    OPT_OUT = "opt_out"
    CALLED_BACK = "called_back"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    OUT_OF_OFFICE = "out_of_office"
    AUTO_REPLY = "auto_reply"


# The outcomes that are the candidate answering, for the stop rules and the response report. The
# rest are recorded but are no answer: a call nobody took, a wrong number, an absence, a bot.
RESPONSES: frozenset[Outcome] = frozenset({
    Outcome.ACCEPTED, Outcome.DECLINED, Outcome.REPLIED, Outcome.QUESTION, Outcome.OPT_OUT,
    Outcome.CALLED_BACK, Outcome.ATTENDED,
})  # fmt: skip


class BatchStatus(str, enum.Enum):
    IMPORTED = "imported"
    REFUSED = "refused"


def _enum(kind: type[enum.Enum], name: str) -> sa.Enum:
    return sa.Enum(
        kind,
        name=name,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        validate_strings=True,
        length=16,
    )


class Base(DeclarativeBase):
    pass


class Batch(Base):
    """One imported file, or the record of its refusal."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    source_name: Mapped[str] = mapped_column(sa.String(512))
    file_sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    status: Mapped[BatchStatus] = mapped_column(_enum(BatchStatus, "batch_status"))
    format: Mapped[str | None] = mapped_column(sa.String(16))
    encoding: Mapped[str | None] = mapped_column(sa.String(32))
    delimiter: Mapped[str | None] = mapped_column(sa.String(4))
    suite_version: Mapped[str | None] = mapped_column(sa.String(16))
    rows: Mapped[int] = mapped_column(sa.Integer, default=0)
    valid: Mapped[int] = mapped_column(sa.Integer, default=0)
    quarantined: Mapped[int] = mapped_column(sa.Integer, default=0)
    quarantine_file: Mapped[str | None] = mapped_column(sa.String(1024))
    data_docs: Mapped[str | None] = mapped_column(sa.String(1024))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Candidate(Base):
    """A person, keyed by the ATS candidate id; updated in place by later batches."""

    __tablename__ = "candidates"

    candidate_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), index=True)
    first_name: Mapped[str] = mapped_column(sa.String(200))
    last_name: Mapped[str] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    channel: Mapped[str] = mapped_column(sa.String(16))
    locale: Mapped[str | None] = mapped_column(sa.String(35))
    first_batch_id: Mapped[str] = mapped_column(sa.ForeignKey("batches.id"))
    last_batch_id: Mapped[str] = mapped_column(sa.ForeignKey("batches.id"))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Decision(Base):
    """The hiring decision for one candidate and role, with what the messages need to say."""

    __tablename__ = "decisions"
    __table_args__ = (sa.UniqueConstraint("candidate_id", "role", name="uq_decisions_candidate_role"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    candidate_id: Mapped[str] = mapped_column(sa.ForeignKey("candidates.candidate_id"))
    batch_id: Mapped[str] = mapped_column(sa.ForeignKey("batches.id"), index=True)
    source_line: Mapped[int] = mapped_column(sa.Integer)
    role: Mapped[str] = mapped_column(sa.String(200))
    decision: Mapped[str] = mapped_column(sa.String(8))
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    offer_deadline: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    start_date: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    salary_min: Mapped[float | None] = mapped_column(sa.Float)
    salary_max: Mapped[float | None] = mapped_column(sa.Float)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    location: Mapped[str | None] = mapped_column(sa.String(200))
    reasons: Mapped[str | None] = mapped_column(sa.Text)
    interests: Mapped[str | None] = mapped_column(sa.Text)
    recruiter_name: Mapped[str | None] = mapped_column(sa.String(200))
    recruiter_email: Mapped[str | None] = mapped_column(sa.String(320))
    recruiter_phone: Mapped[str | None] = mapped_column(sa.String(32))
    # Where the recruiter works, for the call hours that suit both sides (else the company zone).
    recruiter_timezone: Mapped[str | None] = mapped_column(sa.String(64))
    hiring_manager: Mapped[str | None] = mapped_column(sa.String(200))
    company: Mapped[str | None] = mapped_column(sa.String(200))
    meeting_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    meeting_location: Mapped[str | None] = mapped_column(sa.String(300))
    notes: Mapped[str | None] = mapped_column(sa.Text)


class CandidateChange(Base):
    """What a later batch changed about a known candidate or decision (the upsert's audit trail)."""

    __tablename__ = "candidate_changes"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(sa.ForeignKey("batches.id"), index=True)
    candidate_id: Mapped[str] = mapped_column(sa.String(128), index=True)
    field: Mapped[str] = mapped_column(sa.String(64))
    old_value: Mapped[str | None] = mapped_column(sa.Text)
    new_value: Mapped[str | None] = mapped_column(sa.Text)


class Message(Base):
    """Every message the system will ever send is a row here before it is sent."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    message_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    campaign: Mapped[str] = mapped_column(sa.String(200), index=True)
    candidate_id: Mapped[str] = mapped_column(sa.ForeignKey("candidates.candidate_id"), index=True)
    decision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("decisions.id"), index=True)
    # Which cadence the row belongs to, "<decision>:<first channel>" ("offer:email"): a decision
    # that changes (an offer withdrawn, another channel) is told apart from the one planned.
    cadence: Mapped[str | None] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(32))
    step: Mapped[int] = mapped_column(sa.Integer, default=0)
    channel: Mapped[str] = mapped_column(sa.String(16))
    variant: Mapped[str | None] = mapped_column(sa.String(32))
    status: Mapped[MessageStatus] = mapped_column(
        _enum(MessageStatus, "message_status"), default=MessageStatus.PLANNED, index=True
    )
    template: Mapped[str | None] = mapped_column(sa.String(256))
    subject: Mapped[str | None] = mapped_column(sa.String(998))
    text_body: Mapped[str | None] = mapped_column(sa.Text)
    html_body: Mapped[str | None] = mapped_column(sa.Text)
    # What the sender needs besides subject and bodies, stored at render time so a send never
    # re-renders: extra headers (List-Unsubscribe), attachments (the .ics invite, base64), and
    # for a voicemail the recruiter's call-sheet row.
    headers: Mapped[dict | None] = mapped_column(sa.JSON)
    attachments: Mapped[list | None] = mapped_column(sa.JSON)
    call_sheet: Mapped[dict | None] = mapped_column(sa.JSON)
    # The send window: the message may go out from scheduled_for until window_closes (UTC); a
    # claim after the close moves it to the next window instead. NULL: no close.
    scheduled_for: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), index=True)
    window_closes: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # When the cadence's first message went out (steps after the first): a response since then
    # stops the step, an older one (last year's rejection) does not.
    cadence_started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Why the step is due when it is ("2 business days after step 0", "postponed: out of office").
    plan_note: Mapped[str | None] = mapped_column(sa.Text)
    # The timing experiment (F6 compares them): "timing" or "control" when the campaign runs it;
    # for "timing", the first message's random delay in business days and local send hour.
    experiment_arm: Mapped[str | None] = mapped_column(sa.String(16))
    experiment_delay_days: Mapped[int | None] = mapped_column(sa.Integer)
    experiment_hour: Mapped[int | None] = mapped_column(sa.Integer)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # What its events show, kept as they are stored (store.events) so the response report reads
    # three columns, not millions of events: the first delivery, the latest open that may be a
    # person's (not flagged sg_machine_open, not through a known image proxy), the latest click.
    # Whether that open or click came too soon after delivery to be a person is the reader's rule.
    delivered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_open_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_click_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class CampaignState(str, enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class Campaign(Base):
    """A campaign's switch: senders claim nothing from a paused or cancelled campaign."""

    __tablename__ = "campaigns"

    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    state: Mapped[CampaignState] = mapped_column(_enum(CampaignState, "campaign_state"), default=CampaignState.ACTIVE)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Event(Base):
    """A delivery or engagement event from SendGrid's Event Webhook, deduplicated by sg_event_id."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    sg_event_id: Mapped[str] = mapped_column(sa.String(128), unique=True)
    message_key: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    # The whole sg_message_id: the X-Message-Id, a dot, then SendGrid's own suffix.
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    event: Mapped[str] = mapped_column(sa.String(32))
    occurred_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    machine_open: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # False: neither its message_key nor its sg_message_id names a message of this ledger. It is
    # kept all the same (a message of another ledger on the same SendGrid account, or one whose
    # row came later) and the ingest counts it.
    matched: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    payload: Mapped[dict] = mapped_column(sa.JSON)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Response(Base):
    """A candidate's answer: an email reply, or a logged call or meeting outcome.

    outcome holds an Outcome value; RESPONSES says which of them are the candidate answering.
    """

    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    candidate_id: Mapped[str] = mapped_column(sa.ForeignKey("candidates.candidate_id"), index=True)
    message_key: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    outcome: Mapped[str] = mapped_column(sa.String(32))
    body: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    # Where it came from: "outcomes:<file name>" for a recorded outcome; later "webhook", "inbound".
    source: Mapped[str | None] = mapped_column(sa.String(300))
    note: Mapped[str | None] = mapped_column(sa.Text)
    # The same answer arriving twice (a file imported again, a webhook retried) is stored once.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True, index=True)


class ForwardStatus(str, enum.Enum):
    """A reply's forward to the recruiter, a message of its own: claimed, sent once, never resent blindly."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    RETRY_WAIT = "retry_wait"
    FAILED = "failed"
    UNKNOWN = "unknown"
    NONE = "none"  # nobody to forward it to: no recruiter address, nor a sender one


class Reply(Base):
    """An email reply that Inbound Parse posted: kept whole, matched or not, read once, and
    forwarded to the recruiter once. A matched reply is also a row of `responses`."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    # sha256 of its Message-ID: Inbound Parse posts a reply again after a 5xx.
    dedupe_key: Mapped[str] = mapped_column(sa.String(64), unique=True, index=True)
    message_id_header: Mapped[str | None] = mapped_column(sa.String(998))
    # None: it matched no message of this ledger (kept, never dropped).
    candidate_id: Mapped[str | None] = mapped_column(sa.ForeignKey("candidates.candidate_id"), index=True)
    message_key: Mapped[str | None] = mapped_column(sa.String(64))
    matched_by: Mapped[str | None] = mapped_column(sa.String(16))  # address, thread or sender
    from_email: Mapped[str] = mapped_column(sa.String(320))
    from_name: Mapped[str | None] = mapped_column(sa.String(200))
    to_email: Mapped[str | None] = mapped_column(sa.String(320))
    subject: Mapped[str | None] = mapped_column(sa.Text)
    text_body: Mapped[str | None] = mapped_column(sa.Text)
    html_body: Mapped[str | None] = mapped_column(sa.Text)
    headers: Mapped[dict | None] = mapped_column(sa.JSON)
    attachments: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    outcome: Mapped[str] = mapped_column(sa.String(32))  # its intent, an Outcome value
    reasons: Mapped[list | None] = mapped_column(sa.JSON)  # why it was read so
    language: Mapped[str | None] = mapped_column(sa.String(8))
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))  # its Date (business time)
    stored_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    forward_to: Mapped[str | None] = mapped_column(sa.String(320))
    forward_status: Mapped[str] = mapped_column(sa.String(16), index=True)  # a ForwardStatus value
    forward_attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    forward_next_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    forward_claimed_by: Mapped[str | None] = mapped_column(sa.String(200))
    forward_claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    forwarded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    forward_provider_id: Mapped[str | None] = mapped_column(sa.String(128))
    forward_error: Mapped[str | None] = mapped_column(sa.Text)


class Suppression(Base):
    """An address that must never be sent to again, and why."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(sa.String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(32))
    source: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class DailyCapDay(Base):
    """FOLLOWUP_DAILY_CAP's count for one company day: the emails senders have taken from the cap.

    A sender takes its allowance here in the same transaction as the claim it is for, so every
    sender together keeps to the cap; a message the provider did not take gives it back."""

    __tablename__ = "daily_cap"

    day: Mapped[str] = mapped_column(sa.String(10), primary_key=True)  # the company's date, ISO 8601
    taken: Mapped[int] = mapped_column(sa.Integer, default=0)


class CandidateStop(Base):
    """A person `followup stop` took out of every campaign: nothing is planned for them or sent to
    them until `followup stop --undo` removes the row."""

    __tablename__ = "candidate_stops"

    candidate_id: Mapped[str] = mapped_column(sa.ForeignKey("candidates.candidate_id"), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.String(200))  # who recorded it: "cli"
    stopped_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
