"""The planner's rules: which step of a decision's cadence comes next, on which channel, in which
window, or why none does (held, stopped, ended). Plain Python over the facts the store reads.

    plan = first_step(spec, company, facts, business_now, campaign)   # step 0 of a new cadence
    plan = next_step(spec, company, facts, business_now, replies_tracked=True)  # the step after the last

Both return a Plan (a row to write) or a Verdict (why nothing is written now). The send stage
checks the stop rules again in the claim, so an answer that arrives between planning and
sending still stops the message.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, time, timedelta, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo

from followup.cadence.calendar import (
    Window,
    add_business_days,
)
from followup.cadence.spec import OWN_CHANNEL, CadenceSpec, Step
from followup.cadence.missed import offer_deadline
from followup.cadence.windows import Reach, reach_of, window_for
from followup.channels import CHANNELS
from followup.models import RESPONSES, MessageStatus, Outcome

# The channel every step falls back to when none it names can reach the candidate.
LAST_RESORT = "email"
# What an in-person step becomes for a candidate outside the office's country (when they have a phone).
IN_PERSON_STAND_IN = "voicemail"
_RESPONSES = frozenset(o.value for o in RESPONSES)
# The statuses as plain strings: next_step runs for every open cadence of a sweep, and an enum
# member's .value is a Python-level property lookup each time.
_ON_ITS_WAY = frozenset(s.value for s in (MessageStatus.PLANNED, MessageStatus.RENDERED, MessageStatus.SENDING,
                                          MessageStatus.RETRY_WAIT))  # fmt: skip
_UNKNOWN, _FAILED = MessageStatus.UNKNOWN.value, MessageStatus.FAILED.value
_CANCELLED, _SUPPRESSED = MessageStatus.CANCELLED.value, MessageStatus.SUPPRESSED.value
_WRONG_NUMBER, _OUT_OF_OFFICE = Outcome.WRONG_NUMBER.value, Outcome.OUT_OF_OFFICE.value
_ISO_DAY = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
# How a step held by hold_email_nudges_until_replies_tracked ends its reason: the sweep counts these.
REPLIES_NOT_TRACKED = "email replies are not tracked; set FOLLOWUP_REPLY_DOMAIN"


@dataclass(frozen=True)
class Company:
    """The company defaults the calendar falls back on: FOLLOWUP_TIMEZONE and FOLLOWUP_COUNTRY
    (also the office's country, for in-person steps)."""

    timezone: str | None = None
    country: str | None = None
    office: bool = False  # FOLLOWUP_OFFICE is set: there is a place to meet when a row names none
    phone: bool = False  # FOLLOWUP_PHONE is set: a voicemail has a number to call back when a row names none


class Sent(NamedTuple):
    """A message of the cadence so far."""

    step: int
    kind: str
    channel: str
    status: str
    sent_at: datetime | None  # UTC
    last_error: str | None


class Answer(NamedTuple):
    """Something the candidate did (a response row): outcome from the Outcome vocabulary."""

    outcome: str
    at: datetime  # UTC, business clock
    channel: str
    note: str | None


@dataclass
class CadenceFacts:
    """What the ledger knows about one decision's cadence."""

    decision_id: int
    candidate_id: str
    decision: str  # offer | reject
    channel: str  # the candidate's channel: the cadence's first channel
    zone: str | None  # the candidate's IANA zone
    country: str | None  # the candidate's row country
    has_phone: bool
    recruiter_zone: str | None
    decided_at: datetime | None
    offer_deadline: datetime | None
    has_place: bool = False  # the row names a meeting_location
    has_callback: bool = False  # the row names a recruiter_phone (a voicemail ends with a number to call)
    campaign: str | None = None  # the campaign that planned step 0
    messages: list[Sent] = field(default_factory=list)  # this cadence's, by step
    answers: list[Answer] = field(default_factory=list)  # the candidate's, oldest first
    # What the candidate's address is suppressed for: "all" (unsubscribe, spam report, list,
    # opt-out) or "email" (a hard bounce: the address is bad, the person has not said no).
    blocked: str | None = None
    stopped: str | None = None  # `followup stop`'s reason
    meeting_at: datetime | None = None  # the row's meeting_at: an in-person invitation must come before it


class Plan(NamedTuple):
    step: int
    kind: str
    channel: str
    opens: datetime  # UTC: scheduled_for
    closes: datetime  # UTC: window_closes
    note: str
    started_at: datetime | None  # the cadence's first send (steps after the first)
    arm: str | None = None
    delay_days: int | None = None
    hour: int | None = None


class Verdict(NamedTuple):
    """Why no row is written now. `what`: waiting (a message of the cadence is still on its way),
    held (a fate is unknown, a step failed, or an email nudge waits for replies to be tracked),
    stopped (an answer, a stop or an unsubscribe), ended (no step left, the deadline passed)."""

    what: str
    reason: str
    # "waiting" for a step's business days (or a return from the office): when that step comes due.
    at: datetime | None = None


def cadence_key(decision: str, channel: str) -> str:
    return f"{decision}:{channel}"


def _reach(facts: CadenceFacts, company: Company) -> Reach:
    return reach_of(facts.zone, facts.country, facts.recruiter_zone, company.timezone, company.country)


def _choices(step: Step, facts: CadenceFacts) -> Iterator[str]:
    """The channels a step may go by, in order: those it names, an in-person step's stand-in (a
    call: someone abroad is not asked to the office), then email."""
    for name in (*step.channels, LAST_RESORT):
        channel = facts.channel if name == OWN_CHANNEL else name
        yield channel
        if CHANNELS[channel].calendar_invite:
            yield IN_PERSON_STAND_IN


def _opted_out(facts: CadenceFacts) -> bool:
    """An opt-out, whenever it was said, stops all contact as an unsubscribe does."""
    return any(answer.outcome == Outcome.OPT_OUT.value for answer in facts.answers)


def _channel_for(step: Step, facts: CadenceFacts, company: Company, reach: Reach, phone_blocked: bool) -> str | None:
    """The first channel the step may go by that can reach the candidate, else None."""
    for channel in _choices(step, facts):
        spec = CHANNELS[channel]
        if spec.delivery == "email" and facts.blocked is not None:
            continue
        if spec.delivery == "call_sheet" and (
            not facts.has_phone or phone_blocked or not (facts.has_callback or company.phone)
        ):
            continue
        if spec.calendar_invite and (
            (company.country and reach.country != company.country) or not (facts.has_place or company.office)
        ):
            continue  # an in-person meeting only in the office's country, and only with a place to meet
        return channel
    return None


def _steps(spec: CadenceSpec, facts: CadenceFacts) -> tuple[Step, ...]:
    return steps_of(spec, facts.decision, facts.channel)


def steps_of(spec: CadenceSpec, decision: str, channel: str) -> tuple[Step, ...]:
    """The steps of the cadence of a decision whose first channel is `channel`, a rejection's
    keep-in-touch email after them when the file turns it on."""
    steps = spec.cadence_for(decision, channel).steps
    if decision == "reject" and spec.keep_in_touch_weeks:
        steps = (
            *steps,
            Step("keep_in_touch", (LAST_RESORT,), 0, spec.keep_in_touch_weeks),
        )
    return steps


def draw(spec: CadenceSpec, campaign: str, candidate_id: str) -> tuple[str | None, int | None, int | None]:
    """The timing experiment's arm, delay (business days) and local hour for a candidate: from a
    hash of campaign and candidate, so the same person in the same campaign always draws the same
    (on any machine, in any run). (None, None, None) when the campaign runs no experiment."""
    experiment = spec.experiment
    if experiment.share <= 0:
        return None, None, None
    digest = hashlib.sha256(f"timing\x1f{campaign}\x1f{candidate_id}".encode("utf-8")).digest()
    if int.from_bytes(digest[:8], "big") / 2**64 >= experiment.share:
        return "control", None, None
    delay = int.from_bytes(digest[8:12], "big") % (experiment.max_delay_days + 1)
    low, high = experiment.hours
    return "timing", delay, low + int.from_bytes(digest[12:16], "big") % (high - low)


def _local_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def first_step(
    spec: CadenceSpec,
    company: Company,
    facts: CadenceFacts,
    now: datetime,
    campaign: str,
) -> Plan | Verdict:
    """Step 0: the offer in the first window at or after max(decided_at, now); a rejection a
    business day after the decision (a day to prepare); in the timing experiment's arm, later
    by its drawn delay, in its drawn hour. Delays count from now when decided_at is missing."""
    if facts.stopped is not None:
        return Verdict("stopped", f"stopped: {facts.stopped}")
    if facts.blocked == "all" or _opted_out(facts):
        return Verdict("stopped", "suppressed: the candidate asked for no more messages")
    reach = _reach(facts, company)
    step = _steps(spec, facts)[0]
    channel = _channel_for(step, facts, company, reach, phone_blocked=False)
    if channel is None:
        return Verdict("ended", "no channel can reach the candidate")
    base = max(facts.decided_at or now, now)
    note = "first message"
    if facts.decision == "reject" and spec.reject_delay_business_days:
        decided = (facts.decided_at or now).astimezone(reach.zone)
        day = add_business_days(decided.date(), spec.reject_delay_business_days, reach.country)
        base = max(datetime.combine(day, decided.time(), tzinfo=reach.zone), now)
        note = f"{spec.reject_delay_business_days} business day after the decision"
    # A meeting fixes when its invitation must go: the timing experiment leaves it out.
    arm, delay, hour = (None, None, None) if _invites(channel, facts) else draw(spec, campaign, facts.candidate_id)
    if arm == "timing":
        if delay:
            # Counted from the day the step would otherwise go (a Saturday's offer goes Monday, so
            # one day's delay is Tuesday), not from `base`'s date, which may be no business day.
            due = window_for(spec, reach, channel, base).opens.astimezone(reach.zone)
            base = _local_start(add_business_days(due.date(), delay, reach.country), reach.zone)
        note += f"; timing experiment: +{delay} business days at {hour:02d}:00"
    window = window_for(spec, reach, channel, base, hour)
    channel, window, note = _before_the_meeting(spec, facts, reach, channel, window, base, note)
    return _within_deadline(facts, reach, Plan(
        0, step.kind, channel, _utc(window.opens), _utc(window.closes), note, None, arm, delay, hour,
    ))  # fmt: skip


def _invites(channel: str, facts: CadenceFacts) -> bool:
    """Whether a message on `channel` invites the candidate to a meeting at a known time."""
    return CHANNELS[channel].calendar_invite and facts.meeting_at is not None


def _before_the_meeting(spec: CadenceSpec, facts: CadenceFacts, reach: Reach, channel: str, window: Window,
                        base: datetime, note: str) -> tuple[str, Window, str]:  # fmt: skip
    """An invitation whose window opens at or after its meeting would invite the candidate to the
    past: it goes by email instead (the last resort), in email's window."""
    if not (_invites(channel, facts) and window.opens >= facts.meeting_at):
        return channel, window, note
    held = facts.meeting_at.astimezone(reach.zone)
    return (LAST_RESORT, window_for(spec, reach, LAST_RESORT, base),
            f"{note}; by email: the meeting ({held:%Y-%m-%d %H:%M}) comes before an invitation could go")


def next_step(
    spec: CadenceSpec, company: Company, facts: CadenceFacts, now: datetime, *, replies_tracked: bool = False
) -> Plan | Verdict:
    """The step after the cadence's last message, when its wait is over at `now`; else why not.
    `replies_tracked`: FOLLOWUP_REPLY_DOMAIN is set (see _held_for_replies).

    Stop rules, in order: a stop by hand or an unsubscribe ends contact; a response since the
    first message ends the cadence; a message whose fate is unknown holds it; an out-of-office
    reply postpones the step (to its return date, else by the file's business days); a hard
    bounce (or a wrong number) moves on to the next step that does not need the address (or the
    phone), at once rather than after the wait; the offer deadline ends it; an email nudge waits
    while replies are not tracked, when the file says so."""
    if not facts.messages:
        return Verdict("ended", "no first message")
    last = facts.messages[-1]
    if facts.stopped is not None:
        return Verdict("stopped", f"stopped: {facts.stopped}")
    if facts.blocked == "all" or _opted_out(facts):
        return Verdict("stopped", "suppressed: the candidate asked for no more messages")
    started = facts.messages[0].sent_at
    for answer in facts.answers:
        if answer.outcome in _RESPONSES and started is not None and answer.at >= started:
            return Verdict(
                "stopped",
                f"stopped: {answer.outcome} {answer.at:%Y-%m-%d %H:%M} by {answer.channel}",
            )
    status = last.status
    if status in _ON_ITS_WAY:
        return Verdict("waiting", f"step {last.step} is {status}")
    if status == _UNKNOWN:
        return Verdict("held", f"held: step {last.step}'s fate is unknown; see followup reconcile")
    if status == _FAILED:
        return Verdict("held", f"held: step {last.step} failed ({last.last_error}); see followup retry --failed")
    if status == _CANCELLED:
        return Verdict("ended", f"ended: step {last.step} was cancelled ({last.last_error})")
    bounced = status == _SUPPRESSED or (facts.blocked == "email" and CHANNELS[last.channel].delivery == "email")
    if status == _SUPPRESSED and facts.blocked != "email":
        return Verdict("ended", f"ended: step {last.step} was {last.last_error or 'suppressed'}")
    reach = _reach(facts, company)
    phone_blocked = started is not None and any(a.outcome == _WRONG_NUMBER and a.at >= started for a in facts.answers)
    wrong_number = phone_blocked and CHANNELS[last.channel].delivery == "call_sheet"
    steps = _steps(spec, facts)
    last_at = last.sent_at or now
    for index in range(last.step + 1, len(steps)):
        step = steps[index]
        channel = _channel_for(step, facts, company, reach, phone_blocked)
        if channel is None:
            continue  # nothing left that can reach them this way: on to the next step
        if bounced or wrong_number:
            moment, note = (
                now,
                ("moved on: the email address bounced" if bounced else "moved on: wrong number"),
            )
        else:
            moment, note = _after(step, last_at, reach), _wait_note(step, last.step)
        moment, postponed = _postponed(spec, facts, reach, last_at, moment)
        if moment > now and not postponed:
            return Verdict("waiting", f"step {index} due {moment:%Y-%m-%d %H:%M} UTC ({note})", moment)
        if postponed and moment > now:
            return Verdict("waiting", f"step {index} {postponed}", moment)
        window = window_for(spec, reach, channel, max(moment, now))
        channel, window, note = _before_the_meeting(spec, facts, reach, channel, window, max(moment, now),
                                                    postponed or note)  # fmt: skip
        plan = _within_deadline(facts, reach, Plan(
            index, step.kind, channel, _utc(window.opens), _utc(window.closes), note, started,
        ))  # fmt: skip
        if isinstance(plan, Plan) and not replies_tracked and _held_for_replies(spec, facts, channel):
            return Verdict("held", f"held: step {index} ({step.kind} by email): {REPLIES_NOT_TRACKED}")
        return plan
    return Verdict("ended", f"ended: step {last.step} was the last")


def _held_for_replies(spec: CadenceSpec, facts: CadenceFacts, channel: str) -> bool:
    """hold_email_nudges_until_replies_tracked: an email step waits while an answer to an email the
    candidate got in this cadence could sit unseen in the recruiter's inbox. The first email (step
    0, or the written offer after a call) still goes: there is nothing to have answered yet. Calls
    and meetings are never held: their outcomes come back through `followup outcomes import`.

    Held here, at planning, rather than at the claim: a held step has no row, so nothing rendered
    waits for weeks with text from the old facts, moved from window to window; an answer recorded
    meanwhile stops the cadence before the step exists; and once replies are tracked the next sweep
    plans it as any step whose wait is over, in the next window from now and never after the offer
    deadline. The step is not lost: the cadence's last message stays the one before it, so every
    sweep finds it again, and its message_key lets it be written (and sent) once."""
    way = CHANNELS[channel]
    if not spec.hold_email_nudges_until_replies_tracked or way.delivery != "email" or way.calendar_invite:
        return False
    return any(CHANNELS[m.channel].delivery == "email" and m.sent_at is not None for m in facts.messages)


def _after(step: Step, last_at: datetime, reach: Reach) -> datetime:
    """When the wait after the previous send is over: that many business days on, from the start
    of the candidate's day (so the step takes that day's first window); 0 days: at once."""
    local = last_at.astimezone(reach.zone)
    if not step.after_business_days and not step.after_weeks:
        return last_at
    day = add_business_days(local.date(), step.after_business_days, reach.country) + timedelta(weeks=step.after_weeks)
    return _day_start_utc(day, reach.zone)


@lru_cache(maxsize=4096)  # every candidate of a zone whose wait ends the same day starts it the same moment
def _day_start_utc(day: date, zone: ZoneInfo) -> datetime:
    return _utc(_local_start(day, zone))


def _wait_note(step: Step, previous: int) -> str:
    if step.after_weeks:
        return f"{step.after_weeks} weeks after step {previous}"
    if not step.after_business_days:
        return f"the same day as step {previous}"
    return f"{step.after_business_days} business days after step {previous}"


def _postponed(
    spec: CadenceSpec,
    facts: CadenceFacts,
    reach: Reach,
    since: datetime,
    moment: datetime,
) -> tuple[datetime, str | None]:
    """An out-of-office reply since the last send moves the step to the return date it gives
    (an ISO date in the note), else on by the file's business days."""
    away = [a for a in facts.answers if a.outcome == _OUT_OF_OFFICE and a.at >= since]
    if not away:
        return moment, None
    answer = away[-1]
    found = _ISO_DAY.search(answer.note or "")
    if found:
        back = date.fromisoformat(found.group(1))
        later = max(moment, _utc(_local_start(back, reach.zone)))
        return later, f"postponed: out of office until {back:%Y-%m-%d}"
    local = moment.astimezone(reach.zone)
    day = add_business_days(local.date(), spec.out_of_office_business_days, reach.country)
    later = _utc(datetime.combine(day, local.time(), tzinfo=reach.zone))
    return (
        later,
        f"postponed: out of office, {spec.out_of_office_business_days} business days",
    )


def _within_deadline(facts: CadenceFacts, reach: Reach, plan: Plan) -> Plan | Verdict:
    """Nothing is planned or sent after an offer's deadline: a window opening later ends the
    cadence, and one that spans it closes at the deadline."""
    deadline = offer_deadline(facts.offer_deadline, reach.zone) if facts.decision == "offer" else None
    if deadline is None:
        return plan
    if plan.opens >= deadline.at:
        return Verdict("ended", f"ended: the offer deadline {deadline.label} passed")
    closes = _utc(deadline.at)
    return plan if plan.closes <= closes else plan._replace(closes=closes)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)
