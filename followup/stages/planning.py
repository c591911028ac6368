"""The plan stage: a batch's first steps (`followup run`) and every cadence's next step (the sweep).

    result = plan_batch(setup, campaign, batch_id, business_now)
    steps = plan_next(setup, business_now)

The rules (which step, which channel, which window, why not) are the cadence's
(followup.cadence.planner); the store reads the facts in bulk and writes the rows, and a row
planned before is not planned again. One decision has one cadence, whichever file or campaign
brings it again: a corrected re-export continues it; a changed decision (an offer withdrawn, a
rejection turned offer, another role or channel) cancels what the old one had pending and starts
the new one, and says loudly which candidates had already heard the old one.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from followup import importing
from followup.cadence import message_key
from followup.cadence.file import load_cadence
from followup.cadence.planner import (
    REPLIES_NOT_TRACKED,
    CadenceFacts,
    Company,
    Plan,
    Verdict,
    cadence_key,
    first_step,
    next_step,
    steps_of,
)
from followup.cadence.spec import DECISIONS, CadenceSpec
from followup.channels import CHANNELS
from followup.config import Settings
from followup.models import CampaignState
from followup.stages.timeline import Entry
from followup.store import open_ledger
from followup.store.cadences import (
    CHANGED,
    batch_facts,
    cancel_pending,
    candidate_facts,
    open_cadences,
    other_decisions,
    rerender_changed,
    revive_returned,
    superseded,
)
from followup.store.planning import NewMessage, ensure_campaign, insert_messages


@dataclass(frozen=True)
class PlanSetup:
    """What planning needs: the ledger, the cadence file's values, the company's zone and country,
    and whether email replies are tracked (FOLLOWUP_REPLY_DOMAIN: the cadence file may hold email
    nudges until they are)."""

    ledger_url: str
    cadence: CadenceSpec
    company: Company = Company()
    tracks_replies: bool = False

    @classmethod
    def of(cls, settings: Settings, cadence: CadenceSpec | None = None) -> PlanSetup:
        return cls(
            settings.ledger_url,
            cadence or load_cadence(settings.cadence_file),
            Company(settings.timezone, settings.country, bool(settings.office), bool(settings.phone)),
            settings.tracks_replies,
        )


@dataclass(frozen=True)
class ChangedDecision:
    """A re-import changed what was decided for someone whose old cadence had begun."""

    candidate_id: str
    old: str  # "offer:email"
    new: str
    sent: int  # messages of the old decision that went out: the recruiter must put it right
    cancelled: int


@dataclass(frozen=True)
class PlanResult:
    planned: int = 0  # rows planned now: new ones, and those a decision changed back waits for again
    already: int = 0  # decisions whose cadence exists (an earlier run, another file or campaign)
    stopped: int = 0  # decisions left unplanned: stopped by hand, unsubscribed, nothing can reach them
    changed: tuple[ChangedDecision, ...] = ()
    rerendered: int = 0  # rendered messages sent back to be rendered: the batch changed their facts
    # Why nothing was planned: the campaign was cancelled. A value, not an exception: a refusal is
    # an answer, and a raised one would have Prefect log a traceback on the user's terminal.
    refused: str | None = None

    @property
    def sent_before_change(self) -> list[ChangedDecision]:
        return [change for change in self.changed if change.sent]


def default_campaign_name(path: Path) -> str:
    """ "round-3.csv" -> "round-3-1a2b3c4d": readable, and the same for the same bytes, so running
    the same file again continues the same campaign."""
    return f"{path.stem}-{importing.file_sha256(path)[:8]}"


def _row(plan: Plan, facts: CadenceFacts, campaign: str) -> NewMessage:
    return NewMessage(
        message_key(campaign, facts.candidate_id, plan.kind, plan.step, plan.channel), campaign, facts.candidate_id,
        facts.decision_id, plan.kind, plan.step, plan.channel, plan.opens, plan.closes,
        cadence_key(facts.decision, facts.channel), plan.started_at, plan.note, plan.arm, plan.delay_days, plan.hour,
    )  # fmt: skip


@contextmanager
def _no_collector_pauses() -> Iterator[None]:
    """Planning builds a few hundred thousand small objects (facts, messages, answers, rows) that
    hold no reference cycles. CPython's cyclic collector, set off by every 700 new objects, walks
    the growing heap again and again meanwhile: a third of the sweep's planning time for 100,000
    cadences (BENCHMARKS.md). Reference counting frees them all the same; the collector runs again
    once planning is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def plan_batch(setup: PlanSetup, campaign: str, batch_id: str, business_now: datetime) -> PlanResult:
    """Plan step 0 for every decision the batch stored that has no cadence yet, in its first
    window; decisions whose cadence exists continue it. Nothing more is planned for a cancelled
    campaign."""
    with _no_collector_pauses():
        return _plan_batch(setup, campaign, batch_id, business_now)


def _plan_batch(setup: PlanSetup, campaign: str, batch_id: str, business_now: datetime) -> PlanResult:
    engine = open_ledger(setup.ledger_url)
    if ensure_campaign(engine, campaign) is CampaignState.CANCELLED:
        return PlanResult(refused=f"campaign {campaign!r} was cancelled; plan under another --campaign name")
    changed = [ChangedDecision(s.candidate_id, s.old, s.new, s.sent, s.pending) for s in superseded(engine, batch_id)]
    changed += _other_roles_ended(setup, engine, batch_id, business_now)
    revived = revive_returned(engine, batch_id)
    rerendered = rerender_changed(engine, batch_id)
    rows, already, stopped = [], 0, 0
    for facts in batch_facts(engine, batch_id):
        if facts.stopped is not None:
            stopped += 1
            continue
        if facts.messages:
            already += facts.decision_id not in revived
            continue
        plan = first_step(setup.cadence, setup.company, facts, business_now, campaign)
        if isinstance(plan, Verdict):
            stopped += 1
            continue
        rows.append(_row(plan, facts, campaign))
    planned = insert_messages(engine, rows) + len(revived)
    return PlanResult(planned, already, stopped, tuple(changed), rerendered)


def _other_roles_ended(setup: PlanSetup, engine, batch_id: str, now: datetime) -> list[ChangedDecision]:
    """A candidate the batch brings with a new role ends the cadence of their old role when that
    one is still going (one person, one conversation); a finished one (last year's rejection) is
    left as it is."""
    changes, ended = [], []
    for facts in other_decisions(engine, batch_id):
        if not facts.messages:
            continue
        verdict = next_step(setup.cadence, setup.company, facts, now, replies_tracked=setup.tracks_replies)
        if isinstance(verdict, Verdict) and verdict.what in ("ended", "stopped"):
            continue
        ended.append(facts)
        changes.append(ChangedDecision(facts.candidate_id, cadence_key(facts.decision, facts.channel), "another role",
                                       sum(m.sent_at is not None for m in facts.messages), 0))  # fmt: skip
    if ended:
        cancel_pending(engine, [f.decision_id for f in ended], f"{CHANGED} another role")
    return changes


@dataclass
class NextSteps:
    """What the sweep's planning did: rows planned, and why the other cadences planned nothing."""

    planned: int = 0
    by_day: dict[str, int] = field(default_factory=dict)
    # Cadences moved on because an address bounced or a number was wrong: the recruiter is told.
    moved_on: list[dict] = field(default_factory=list)
    held: list[dict] = field(default_factory=list)  # a fate unknown or a failure: a person decides
    # Email nudges the cadence file holds until replies are tracked: no person need act on each.
    held_until_replies_tracked: int = 0
    postponed: int = 0  # out-of-office replies
    verdicts: dict[str, int] = field(default_factory=dict)  # why nothing else was planned, by kind
    # The earliest step still waiting out its business days: a later sweep plans it then.
    next_step_due: datetime | None = None

    def to_json(self) -> dict:
        return {"planned": self.planned, "by_day": self.by_day, "moved_on": self.moved_on, "held": self.held,
                "held_until_replies_tracked": self.held_until_replies_tracked, "postponed": self.postponed,
                "not_planned": self.verdicts}  # fmt: skip


def plan_next(setup: PlanSetup, business_now: datetime) -> NextSteps:
    """Plan the next step of every open cadence whose wait is over at `business_now`."""
    with _no_collector_pauses():
        return _plan_next(setup, business_now)


def _plan_next(setup: PlanSetup, business_now: datetime) -> NextSteps:
    engine = open_ledger(setup.ledger_url)
    result = NextSteps()
    reasons: Counter = Counter()
    opens: list[datetime] = []

    def rows() -> Iterator[NewMessage]:
        # A generator: insert_messages writes each chunk while the rules make the next.
        for facts in open_cadences(engine, last_steps(setup.cadence)):
            plan = next_step(setup.cadence, setup.company, facts, business_now, replies_tracked=setup.tracks_replies)
            if isinstance(plan, Verdict):
                reasons[plan.what] += 1
                if plan.at is not None and (result.next_step_due is None or plan.at < result.next_step_due):
                    result.next_step_due = plan.at
                if plan.reason.endswith(REPLIES_NOT_TRACKED):
                    result.held_until_replies_tracked += 1
                elif plan.what == "held":
                    result.held.append({"candidate_id": facts.candidate_id, "reason": plan.reason})
                continue
            opens.append(plan.opens)
            if plan.note.startswith("moved on"):
                result.moved_on.append({"candidate_id": facts.candidate_id, "step": plan.step, "channel": plan.channel,
                                        "reason": plan.note})  # fmt: skip
            elif plan.note.startswith("postponed"):
                result.postponed += 1
            yield _row(plan, facts, facts.campaign or "unnamed")

    result.planned = insert_messages(engine, rows())
    result.by_day = _by_day(opens)
    result.verdicts = dict(sorted(reasons.items()))
    return result


def upcoming(setup: PlanSetup, candidate_id: str, business_now: datetime) -> list[Entry]:
    """What comes next in each of the candidate's cadences, for their timeline (what the ledger
    does not hold yet): the next step and when it is due, or why none will be."""
    entries = []
    for facts in candidate_facts(open_ledger(setup.ledger_url), candidate_id):
        if not facts.messages:
            continue
        plan = next_step(setup.cadence, setup.company, facts, business_now, replies_tracked=setup.tracks_replies)
        if isinstance(plan, Plan):
            entries.append(Entry(plan.opens, "planned", plan.step, plan.kind, plan.channel, facts.campaign,
                                 f"next: due now ({plan.note}); the next sweep plans it"))  # fmt: skip
        elif plan.what == "waiting" and plan.reason.startswith("step") and " due " in plan.reason:
            entries.append(Entry(business_now, "planned", campaign=facts.campaign, reason=f"next: {plan.reason}"))
        elif plan.what != "waiting":
            entries.append(Entry(business_now, _SAID[plan.what], campaign=facts.campaign, reason=plan.reason))
    return entries


# A verdict as a timeline entry: held stays held; an answer or a stop ends the cadence as "stopped"
# does; a cadence with no step left, or past its deadline, has its remaining steps "skipped".
_SAID = {"held": "held", "stopped": "stopped", "ended": "skipped"}


def last_steps(spec: CadenceSpec) -> dict[str, int]:
    """Each cadence's last step ("offer:email" -> 3), for every decision and first channel: a
    cadence that sent it has nothing left, and the sweep need not read it again."""
    return {cadence_key(decision, channel): len(steps_of(spec, decision, channel)) - 1
            for decision in DECISIONS for channel in CHANNELS}  # fmt: skip


def _by_day(opens: Iterable[datetime]) -> dict[str, int]:
    """How many planned rows' windows open on each UTC day."""
    days: Counter = Counter()
    for moment, count in Counter(opens).items():  # a few windows for many rows
        days[f"{moment:%Y-%m-%d}"] += count
    return dict(sorted(days.items()))
