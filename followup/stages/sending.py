"""The send stage as the campaign flow and the sweep run it: recover what a dead sender left,
then send what is due through the transports the settings choose, in one or more processes.

    recover(settings)
    report = send_stage(settings, business_now=now, campaign="autumn-round")

Several sender processes share the ledger safely (claims are atomic, DESIGN.md); they exist
because one Python process spends its interpreter lock on the sending threads and tops out
below what two cores can drive.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from dataclasses import fields
from datetime import datetime

from sqlalchemy.engine import Engine

from followup.config import Settings
from followup.daily_cap import DailyCap, day_bounds, emails_sent_since
from followup.delivery import SendPolicy, SendReport, send_due
from followup.outbound import EnvelopeBuilder, email_transport, router_for, sender_address
from followup.store import control, open_ledger, owners, recovery, suppressions
from followup.transports.base import Transport
from followup.transports.callsheet import CallSheetTransport

log = logging.getLogger(__name__)


def policy_for(settings: Settings) -> SendPolicy:
    return SendPolicy(
        concurrency=settings.send_concurrency,
        # Each process takes its share of the rate, so the campaign keeps to the whole.
        rate_per_s=settings.send_rate / settings.senders if settings.send_rate else None,
        max_attempts=settings.max_attempts,
        pause_after_consecutive_failures=settings.pause_after_failures,
    )


def recover(settings: Settings) -> dict:
    """Settle claims of senders that died (sent from events, else unknown), promote unknown
    messages whose events (or call-sheet rows) have arrived since, and take in the user's
    suppression list."""
    engine = open_ledger(settings.ledger_url)
    if settings.suppression_file is not None:
        suppressions.sync_list(engine, settings.suppression_file)
    recovered = recovery.recover_dead_claims(engine)
    # A voicemail has no events: its row on the call sheet is the proof it went out.
    calls = {row["message_key"] for row in recovery.unknown_messages(engine) if row["channel"] == "voicemail"}
    on_sheets = CallSheetTransport(settings.call_sheet_dir).find(calls)
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
    settings: Settings,
    *,
    business_now: datetime,
    campaign: str | None = None,
    email: Transport | None = None,
) -> SendReport:
    """Send everything due (of `campaign`, or all). `email`: a transport already made (tests,
    the demo); otherwise the settings choose it, and FOLLOWUP_SENDERS processes send.
    Run recover() first, so a dead sender's claims are settled before anything is resent."""
    sender_address(settings)  # refuse before any process starts
    if settings.senders > 1 and email is None:
        context = multiprocessing.get_context("spawn")
        with context.Pool(settings.senders) as pool:
            reports = pool.starmap(_send_one, [(settings, business_now, campaign, None, n) for n in range(settings.senders)])
        report = merge(reports)
    else:
        report = _send_one(settings, business_now, campaign, email)
    return report


def _send_one(
    settings: Settings,
    business_now: datetime,
    campaign: str | None,
    email: Transport | None = None,
    index: int = 0,
) -> SendReport:
    """One sender process's share (`index` of settings.senders)."""
    engine = open_ledger(settings.ledger_url)
    from_email, from_name = sender_address(settings)
    email = email or email_transport(settings)
    emails_closed = None
    if settings.daily_cap is not None:
        email = _capped(engine, settings, email, business_now, index)
        emails_closed = email.closed
    transport = router_for(settings, email)
    try:
        report = send_due(
            engine,
            transport,
            EnvelopeBuilder(from_email, from_name),
            owner=owners.Owner.current(),
            policy=policy_for(settings),
            business_now=business_now,
            campaign=campaign,
            emails_closed=emails_closed,
        )
    finally:
        transport.close()
    if report.paused and campaign is not None:
        # At once, not after the other sender processes finish: they claim nothing more from a
        # paused campaign, so a revoked key costs about N failures, not N per process.
        control.pause(engine, campaign, report.pause_reason or "too many failures in a row")
    return report


def _capped(engine: Engine, settings: Settings, email: Transport, business_now: datetime, index: int) -> DailyCap:
    """The email transport behind this process's share of what is left of today's cap."""
    cap = settings.daily_cap or 0
    day_start, next_day = day_bounds(business_now, settings.timezone)
    left = max(0, cap - emails_sent_since(engine, day_start))
    share = left // settings.senders + (1 if index < left % settings.senders else 0)
    started = time.monotonic()

    def reopens_in_s() -> float:
        # The business clock runs on from business_now with real time.
        return max(1.0, (next_day - business_now).total_seconds() - (time.monotonic() - started))

    if share == 0:
        log.warning("the daily cap of %d emails is reached; the rest wait for tomorrow", cap)
    return DailyCap(email, cap, share, reopens_in_s)


def merge(reports: list[SendReport]) -> SendReport:
    """One report for several sender processes' reports."""
    total = SendReport()
    for report in reports:
        for f in fields(SendReport):
            value = getattr(report, f.name)
            if f.name == "paused":
                total.paused = total.paused or value
            elif f.name == "pause_reason":
                total.pause_reason = total.pause_reason or value
            elif f.name == "errors":
                total.errors.update(value)
            else:
                setattr(total, f.name, getattr(total, f.name) + value)
    return total
