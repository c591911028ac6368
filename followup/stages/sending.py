"""The send stage as the campaign flow and the sweep run it: recover what a dead sender left,
settle what must not be claimed (what an answer stopped; what missed its send window, moved to
the next one), then send what is due through the transports the setup chooses, in one or more
processes.

    recover(setup)
    report = send_stage(setup, business_now=now, campaign="autumn-round")

Several sender processes share the ledger safely (claims are atomic, DESIGN.md); they exist
because one Python process spends its interpreter lock on the sending threads and tops out
below what two cores can drive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone

from followup.cadence.missed import after_close, offer_deadline
from followup.cadence.windows import reach_of
from followup.sending import SendReport, send_due
from followup.sending.daily_cap import DailyAllowance
from followup.sending.envelopes import EnvelopeBuilder
from followup.sending.routing import on_call_sheets, router_for
from followup.sending.setup import SendingRefused, SendSetup, check_can_send, sender_address
from followup.stages import workers
from followup.store import control, open_ledger, owners, recovery, stop_rules, suppressions, windows
from followup.store import sending as sending_store
from followup.store.control import campaigns_with_due
from followup.transports.base import Transport

log = logging.getLogger(__name__)

_ROUNDS_WORTH_PROCESSES = 40


def refusal(setup: SendSetup, email: Transport | None = None) -> str | None:
    """Why nothing could be sent with this setup, or None: asked before a run stores anything.
    With `email` (a transport already made) only the sender address is needed."""
    try:
        if email is None:
            check_can_send(setup)
        else:
            sender_address(setup)
    except SendingRefused as exc:
        return str(exc)
    return None


def recover(setup: SendSetup) -> dict:
    """Settle claims of senders that died (sent from events, else unknown), promote unknown
    messages whose events (or call-sheet rows) have arrived since, and take in the user's
    suppression list."""
    engine = open_ledger(setup.ledger_url)
    if setup.suppression_file is not None:
        suppressions.sync_list(engine, setup.suppression_file)
    recovered = recovery.recover_dead_claims(engine)
    on_sheets = on_call_sheets(setup, recovery.unknown_messages(engine))
    recovered["reconciled"] = recovery.reconcile_unknown(engine, on_sheets)
    recovered["unknown"] = max(0, recovered["unknown"] - len(on_sheets))
    if recovered["unknown"]:
        log.warning(
            "%d messages were in flight when their sender died and no event shows they arrived: "
            "they are marked unknown and not resent; see `followup reconcile`",
            recovered["unknown"],
        )
    return recovered


def send_stage(
    setup: SendSetup,
    *,
    business_now: datetime,
    campaign: str | None = None,
    email: Transport | None = None,
    more_coming: Callable[[], bool] | None = None,
) -> SendReport:
    """Send everything due (of `campaign`, or all). `email`: a transport already made (tests,
    the demo); otherwise the setup chooses it, and setup.senders processes send. `more_coming`
    (picklable): while it is true the senders wait for more instead of finishing (rendering still
    under way, followup.stages.overlap); what it brings is checked by each claim as anything is.
    Run recover() first, so a dead sender's claims are settled before anything is resent."""
    sender_address(setup)  # refuse before any process starts
    cancelled, moved = before_claims(setup, business_now, campaign)
    if setup.senders > 1 and email is None and not _worth_processes(setup, business_now, campaign, more_coming):
        setup = setup.in_one_process()
    if setup.senders > 1 and email is None:
        with workers.context().Pool(setup.senders) as pool:
            work = [(setup, business_now, campaign, None, more_coming)] * setup.senders
            report = SendReport.merge(pool.starmap(_send_one, work))
    else:
        report = _send_one(setup, business_now, campaign, email, more_coming)
    report.cancelled += cancelled
    report.moved += moved
    return report


def _worth_processes(setup: SendSetup, business_now: datetime, campaign: str | None,
                     more_coming: Callable[[], bool] | None) -> bool:
    """Whether enough is due to pay for starting sender processes: where their server is not
    running yet (stages.workers; a sweep's, say) they wait 1-2 s here for its imports, as long as
    one process takes to send about 40 rounds of its requests in flight at SendGrid's ~100 ms. A
    sweep or a small campaign sends sooner from this process. While rendering is under way
    (`more_coming`) it is a big campaign."""
    if more_coming is not None:
        return True
    enough = _ROUNDS_WORTH_PROCESSES * setup.policy.concurrency
    due = sending_store.due_ids(open_ledger(setup.ledger_url), enough, business_now=business_now,
                                real_now=datetime.now(timezone.utc), campaign=campaign)  # fmt: skip
    return len(due) >= enough


def before_claims(setup: SendSetup, business_now: datetime, campaign: str | None = None) -> tuple[int, int]:
    """Settle the due messages (of `campaign`, or all) no claim will take, once before the
    senders start: those an answer or a wrong number stopped are cancelled; those whose window
    closed before a sender got to them move to their next window, or are cancelled when that
    would open at or after the offer deadline. Returns (cancelled, moved)."""
    engine = open_ledger(setup.ledger_url)
    cancelled = stop_rules.cancel_answered_due(engine, business_now, campaign)
    moves, ended = [], []
    for row in windows.closed_windows(engine, business_now, campaign):
        reach = reach_of(row.timezone, row.country, row.recruiter_timezone, setup.company_timezone,
                         setup.company_country)  # fmt: skip
        deadline = offer_deadline(row.offer_deadline, reach.zone) if row.decision == "offer" else None
        verdict = after_close(setup.cadence, reach, row.channel, business_now, row.window_closes,
                              row.experiment_hour, deadline)  # fmt: skip
        if verdict.window is None:
            ended.append((row.id, row.window_closes, verdict.note))
        else:
            moves.append(windows.Move(row.id, row.window_closes, *verdict.window, verdict.note))
    cancelled += windows.cancel_closed(engine, ended)
    moved = windows.move_windows(engine, moves)
    if moved or ended:
        log.info("%d messages missed their send window: %d moved to the next one, %d past the offer deadline "
                 "cancelled", moved + len(ended), moved, len(ended))  # fmt: skip
    return cancelled, moved


def _send_one(
    setup: SendSetup,
    business_now: datetime,
    campaign: str | None,
    email: Transport | None = None,
    more_coming: Callable[[], bool] | None = None,
) -> SendReport:
    """One sender; others may claim from the same ledger at once (claims and the daily cap's
    allowance are taken atomically there)."""
    engine = open_ledger(setup.ledger_url)
    from_email, from_name = sender_address(setup)
    daily_cap = None
    if setup.daily_cap is not None:
        daily_cap = DailyAllowance.open(engine, setup.daily_cap, business_now, setup.company_timezone)
    transport: Transport = router_for(setup, email)
    try:
        report = send_due(
            engine,
            transport,
            EnvelopeBuilder(from_email, from_name, setup.track_engagement, setup.reply_addresses),
            owner=owners.Owner.current(),
            policy=setup.policy,
            business_now=business_now,
            campaign=campaign,
            daily_cap=daily_cap,
            more_coming=more_coming,
        )
    finally:
        transport.close()
    if report.paused and campaign is not None:
        # At once, not after the other sender processes finish: they claim nothing more from a
        # paused campaign, so a revoked key costs about N failures, not N per process.
        control.pause(engine, campaign, report.pause_reason or "too many failures in a row")
    return report


def due_campaigns(ledger_url: str, business_now: datetime) -> list[str]:
    """The open campaigns holding messages to render or send at `business_now`, by name."""
    return campaigns_with_due(open_ledger(ledger_url), business_now)
