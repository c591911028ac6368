"""Commands that send and steer sending: run, sweep, reconcile, retry, pause, resume, cancel
and stop."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.text import Text

from followup.cli.common import (
    JsonOption,
    NowOption,
    TemplatesOption,
    app,
    cadence_or_refuse,
    err,
    out,
    parse_now,
    refuse,
    settings_or_refuse,
    signing_secret_or_refuse,
)
from followup.cli.progress import ledger_progress
from followup.cli.summary import print_campaign, print_later, print_reply_tracking
from followup.config import Settings


def _sending_settings(settings: Settings) -> None:
    """Refuse at once, before Prefect starts, when nothing could be sent, or when the links
    in what is sent could not be checked by `followup serve`."""
    from followup.sending.setup import SendingRefused, SendSetup, check_can_send

    try:
        check_can_send(SendSetup.of(settings))
    except SendingRefused as exc:
        refuse(str(exc))
    signing_secret_or_refuse(settings)


@app.command()
def run(
    file: Annotated[
        Path,
        typer.Argument(help="The batch: a CSV or XLSX export from your ATS.", exists=True, dir_okay=False, readable=True),
    ],
    campaign: Annotated[
        Optional[str],
        typer.Option("--campaign", help="Campaign name (default: the file's name and a digest of its bytes)."),
    ] = None,
    mapping: Annotated[
        Optional[Path],
        typer.Option("--mapping", help="Your header names for our columns (as for `followup import`).",
                     exists=True, dir_okay=False),
    ] = None,
    templates: TemplatesOption = None,
    now: NowOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Render and report what would be sent; send and store nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run a campaign on a batch: import, validate, plan, render and send.

    Each candidate gets their message on their channel: email through the configured
    transport, voicemail onto the recruiter's call sheet, in-person invites with a calendar file.

    Running the same file again continues the same campaign: nothing is sent twice. Transient
    failures are retried within the run. Exit codes: 0 done (some messages may still wait for
    a retry), 1 messages failed or the campaign paused, 2 refused input or settings.
    """
    from followup.store import open_ledger
    from followup.store.reports import status_counts

    moment = parse_now(now)
    settings = settings_or_refuse()
    cadence = cadence_or_refuse(settings)
    if not dry_run:
        _sending_settings(settings)
    from followup.stages import workers

    # Great Expectations and the render and send workers' modules load in a server process, on
    # the other core, while this one imports the flow and Prefect starts it (stages.workers).
    workers.start_early(validation=True)
    from flows.campaign import run_campaign
    from followup.stages.planning import default_campaign_name

    name = campaign or default_campaign_name(file)
    if dry_run:  # it renders into a scratch ledger that nothing can watch: a spinner will do
        with err.status(Text(f"Dry run of {name}: importing, planning, rendering…"), spinner="dots"):
            summary = run_campaign(file, name, mapping, settings, moment, dry_run, templates_dir=templates)
    else:
        counts = lambda: status_counts(open_ledger(settings.ledger_url), name)  # noqa: E731
        with ledger_progress(err, counts, f"campaign {name}"):
            summary = run_campaign(file, name, mapping, settings, moment, dry_run, templates_dir=templates)
    print_campaign(summary, as_json)
    if not dry_run:
        print_reply_tracking(settings, cadence)
    raise typer.Exit(summary.exit_code())


@app.command()
def sweep(templates: TemplatesOption = None, now: NowOption = None, as_json: JsonOption = False) -> None:
    """Plan each cadence's next step whose wait is over, send what is due in its window, retry what
    waits, cancel what an answer stopped, and settle what a dead sender left (run it on a schedule:
    every 15 minutes; the send windows, not the schedule, decide the local hours).

    Exit codes: 0 done (retries may still wait), 1 messages failed or a campaign paused.
    """
    moment = parse_now(now)
    settings = settings_or_refuse()
    cadence = cadence_or_refuse(settings)
    _sending_settings(settings)
    from flows.followup_sweep import sweep as sweep_flow

    with err.status("Sweeping: settling claims, planning next steps, rendering, sending what is due…", spinner="dots"):
        summary = sweep_flow(settings, moment, templates_dir=templates)
    if as_json:
        sys.stdout.write(json.dumps(summary.to_json(), default=str) + "\n")
    else:
        out.print(f"recovered from dead senders: {summary.recovered_sent} sent (events show it), "
                  f"{summary.recovered_unknown} unknown; reconciled from events: {summary.reconciled}")  # fmt: skip
        _print_forwards(summary.forwards)
        _print_next_steps(summary.next_steps)
        out.print(f"rendered: {summary.rendered}, could not be rendered: {summary.render_failed}")
        if not summary.campaigns:
            out.print("nothing was due")
        for name, sent in summary.campaigns.items():
            out.print(f"{name}: {sent['sent']} sent, {sent['failed']} failed, {sent['suppressed']} suppressed, "
                      f"{sent['cancelled']} cancelled (an answer or the offer deadline), {sent['moved']} moved to "
                      f"their next window, {sent['unknown']} unknown, {sent['retry_wait']} waiting for a retry"
                      + (f"; PAUSED: {sent['pause_reason']}" if sent["paused"] else ""), markup=False)  # fmt: skip
        print_later(summary.later, summary.next_due)
        if summary.next_step_due is not None:
            out.print(f"next follow-up step due {summary.next_step_due:%Y-%m-%d %H:%M} UTC (a sweep then plans it)")
    print_reply_tracking(settings, cadence)
    raise typer.Exit(summary.exit_code())


def _print_forwards(forwards: dict[str, int]) -> None:
    if any(forwards.values()):
        out.print(f"replies forwarded to recruiters: {forwards['forwarded']}, waiting for a retry: "
                  f"{forwards['retry_wait']}, failed: {forwards['failed']}, unknown (a sweep died sending them; "
                  f"ask the recruiter): {forwards['unknown']}", markup=False)  # fmt: skip


def _print_next_steps(steps: dict) -> None:
    """What the sweep's planning did; the cadences that moved on or wait for a person by name."""
    days = ", ".join(f"{day}: {n}" for day, n in steps["by_day"].items())
    out.print(f"next steps planned: {steps['planned']}" + (f" ({days})" if days else "")
              + (f", {steps['postponed']} postponed (out of office)" if steps["postponed"] else ""))  # fmt: skip
    for moved in steps["moved_on"]:
        out.print(f"  {moved['candidate_id']}: {moved['reason']}; step {moved['step']} goes by {moved['channel']}",
                  markup=False)  # fmt: skip
    for held in steps["held"]:
        out.print(f"  {held['candidate_id']}: {held['reason']}", markup=False)
    if steps["held_until_replies_tracked"]:
        out.print(f"  email nudges held until replies are tracked: {steps['held_until_replies_tracked']} (the "
                  "next sweep after FOLLOWUP_REPLY_DOMAIN is set sends them)", markup=False)  # fmt: skip


@app.command()
def reconcile(
    resend_unknown: Annotated[
        bool,
        typer.Option("--resend-unknown", help="Send the unknown messages again (after checking SendGrid's activity)."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List messages whose fate is unknown, and settle those whose events have arrived.

    A message is unknown when its request went out and no answer came back (a timeout, a lost
    connection, a sender that died mid-request) and no processed, delivered, deferred or bounce
    event shows SendGrid took it. It is never resent unless you say so with --resend-unknown."""
    from followup.store import open_ledger, recovery

    settings = settings_or_refuse()
    engine = open_ledger(settings.ledger_url)
    settled = recovery.reconcile_unknown(engine)
    unknown = recovery.unknown_messages(engine)
    queued = recovery.resend_unknown(engine, [row["id"] for row in unknown]) if resend_unknown else 0
    if as_json:
        sys.stdout.write(json.dumps({"reconciled": settled, "unknown": unknown, "queued_again": queued}, default=str) + "\n")
        return
    out.print(f"{settled} unknown messages turned out sent (their events arrived).")
    for row in unknown:
        out.print(f"{row['message_key'][:12]}  {row['campaign']}  {row['candidate_id']}  {row['kind']}/{row['channel']}"
                  f"  claimed {row['claimed_at']:%Y-%m-%d %H:%M} UTC", markup=False)  # fmt: skip
    if resend_unknown:
        out.print(f"{queued} queued to send again; `followup sweep` sends them.")
    elif unknown:
        out.print(f"{len(unknown)} of unknown fate. Check SendGrid's activity feed; to send them again: "
                  "`followup reconcile --resend-unknown`.")  # fmt: skip
    else:
        out.print("No message is of unknown fate.")


@app.command()
def retry(
    failed: Annotated[bool, typer.Option("--failed", help="Queue every failed message again.")] = False,
    campaign: Annotated[Optional[str], typer.Option("--campaign", help="Only this campaign's.")] = None,
) -> None:
    """Queue failed messages again (after fixing what made them fail); `followup sweep` sends them.

    A message that failed to render is rendered again; one the provider refused is sent again.
    """
    from followup.store import control, open_ledger

    if not failed:
        refuse("say what to retry: `followup retry --failed [--campaign NAME]`")
    settings = settings_or_refuse()
    render, send = control.retry_failed(open_ledger(settings.ledger_url), campaign)
    out.print(f"{render} to render again and {send} to send again; `followup sweep` takes them from here.")


@app.command()
def campaigns(as_json: JsonOption = False) -> None:
    """List the campaigns in the ledger: state (active, paused, cancelled) and messages by status."""
    from followup.store import open_ledger
    from followup.store.reports import campaigns as list_campaigns

    settings = settings_or_refuse()
    cadence = cadence_or_refuse(settings)  # the note says whether it holds email nudges
    found = list_campaigns(open_ledger(settings.ledger_url))
    if as_json:
        sys.stdout.write(json.dumps(found) + "\n")
    elif not found:
        out.print("No campaigns yet: `followup run FILE` starts one.")
    else:
        for campaign in found:
            counts = ", ".join(f"{n} {status}" for status, n in sorted(campaign["messages"].items())) or "no messages"
            reason = f" ({campaign['reason']})" if campaign["reason"] else ""
            out.print(f"{campaign['name']}  {campaign['state']}{reason}: {counts}", markup=False)
    if found:
        print_reply_tracking(settings, cadence)


CampaignArgument = Annotated[str, typer.Argument(help="The campaign's name.")]


def _steer(act: Callable[..., object], target: str, done: Callable[[object], str]) -> None:
    """Apply a control to the ledger; an unknown name or a move the state forbids is refused."""
    from followup.store import control, open_ledger

    engine = open_ledger(settings_or_refuse().ledger_url)
    try:
        result = act(engine, target)
    except (control.UnknownName, ValueError) as exc:
        refuse(str(exc))
    # A function of the result, not a format string: a name may hold braces of its own.
    out.print(done(result), markup=False)


@app.command()
def pause(campaign: CampaignArgument) -> None:
    """Stop sending a campaign's messages until `followup resume`; messages in flight finish."""
    from followup.store import control

    _steer(control.pause, campaign, lambda _: f"{campaign} is paused.")


@app.command()
def resume(campaign: CampaignArgument) -> None:
    """Let a paused campaign send again (at the next `followup sweep` or run)."""
    from followup.store import control

    _steer(control.resume, campaign, lambda _: f"{campaign} is active again.")


@app.command()
def cancel(campaign: CampaignArgument) -> None:
    """Close a campaign for good: every message of it not yet sent is cancelled."""
    from followup.store import control

    _steer(control.cancel, campaign, lambda n: f"{campaign} is cancelled; {n} messages will not be sent.")


@app.command()
def stop(
    candidate: Annotated[str, typer.Argument(help="The candidate id, as in your ATS export.")],
    reason: Annotated[
        Optional[str], typer.Option("--reason", help="Why (kept with the stop and on the cancelled messages).")
    ] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Remove the stop: later runs plan this person again.")] = False,
) -> None:
    """Stop one person for good: everything still to be sent to them, in every campaign, is
    cancelled, and no later run, sweep or re-import plans them until `followup stop ID --undo`."""
    from followup.store import control
    from followup.store.stops import DEFAULT_REASON

    if undo:
        if reason is not None:
            refuse("--reason goes with a stop, not with --undo")
        _steer(control.undo_stop, candidate,
               lambda was: f"{candidate} is no longer stopped (the stop said: {was}). Messages it cancelled stay "
                           "cancelled; the next run of a batch with them plans them again.")  # fmt: skip
        return
    why = reason or DEFAULT_REASON
    _steer(partial(control.stop_candidate, reason=why), candidate,
           lambda n: f"{n} pending messages to {candidate} are cancelled. {candidate} is stopped ({why}): nothing "
                     f"is planned or sent to them until `followup stop {candidate} --undo`.")  # fmt: skip
