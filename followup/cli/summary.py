"""How a campaign's outcome is printed, by `followup run` and by `followup demo` alike."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from followup.cadence.spec import CadenceSpec
from followup.cli.common import err, out
from followup.config import Settings

if TYPE_CHECKING:  # the stage imports pandas: not for every command's start
    from followup.stages.summaries import CampaignSummary


def print_campaign(summary: CampaignSummary, as_json: bool) -> None:
    """A campaign's outcome: the JSON document alone with --json, else the counts and what needs a person."""
    if as_json:
        sys.stdout.write(json.dumps(summary.to_json(), default=str) + "\n")
    if summary.status == "refused":
        err.print(f"[bold red]Refused:[/bold red] {escape(str(summary.reason))}")
        if summary.batch.quarantine_file:
            err.print(f"The rows and their problems: {summary.batch.quarantine_file}", markup=False)
        return
    if as_json:
        return
    batch = summary.batch
    out.print(f"[bold]Campaign {escape(summary.campaign)}[/bold]"
              f"{' (dry run: nothing sent, nothing stored)' if summary.status == 'dry_run' else ''}")  # fmt: skip
    out.print(f"batch {batch.batch_id}: {batch.rows} rows, {batch.valid} valid, {batch.quarantined} quarantined"
              + (f" ({batch.quarantine_file})" if batch.quarantine_file else ""), markup=False)  # fmt: skip
    if batch.data_docs:
        out.print(f"data docs: {batch.data_docs}", markup=False)
    out.print(f"messages: {summary.planned} planned now, {summary.already_planned} from earlier runs; "
              f"{summary.rendered} rendered, {summary.render_failed} could not be rendered")  # fmt: skip
    if summary.stopped:
        out.print(f"{summary.stopped} candidates not planned: they are stopped "
                  "(`followup stop ID --undo` lets one in again)")  # fmt: skip
    _print_changed(summary.changed)
    if summary.rerendered:
        out.print(f"{summary.rerendered} messages not yet sent will be rendered again: the batch changed their details")
    if summary.status == "dry_run":
        out.print(_counts_table("Would be sent", "kind / channel", summary.would_send))
        for sample in summary.samples:
            heading = (f"--- {sample['candidate_id']}: {sample['kind']} / {sample['channel']} "
                       f"/ variant {sample['variant']} ---")  # fmt: skip
            out.print(f"\n[dim]{escape(heading)}[/dim]")
            if sample["subject"]:
                out.print(f"Subject: {sample['subject']}", markup=False)
            out.print(sample["text_body"] or "", markup=False)
    else:
        out.print(_counts_table("Outcome", "status", summary.counts))
    _print_reasons(summary.reasons)
    if summary.status != "dry_run":
        print_later(summary.later, summary.next_due)
    for sheet in summary.call_sheets:
        out.print(f"call sheet: {sheet}", markup=False)
    if summary.status == "paused":
        err.print(f"[bold red]Paused:[/bold red] {escape(str(summary.reason))}\n"
                  f"Fix the cause, then `followup resume {escape(summary.campaign)}` and `followup sweep`.")  # fmt: skip
    elif summary.status != "dry_run" and summary.counts.get("rendered"):
        err.print(f"{summary.counts['rendered']} messages are ready and not yet sent (they wait for their send "
                  "window, or the daily cap was reached); `followup sweep` sends them when due.")  # fmt: skip
    if summary.counts.get("retry_wait"):
        err.print(f"{summary.counts['retry_wait']} messages wait for a retry; `followup sweep` sends them when due.")


def print_later(later: dict[str, int], next_due: datetime | None) -> None:
    """What waits for a later send window, by day, and when the next window opens."""
    if not later:
        return
    days = ", ".join(f"{day}: {n}" for day, n in later.items())
    out.print(f"planned for later (by UTC day their window opens): {days}; next due {next_due:%Y-%m-%d %H:%M} UTC",
              markup=False)  # fmt: skip


def print_reply_tracking(settings: Settings, cadence: CadenceSpec) -> None:
    """Said on every run, sweep and campaign list while replies could go unseen: until Inbound
    Parse is set up (FOLLOWUP_REPLY_DOMAIN), the cadence cannot see an email reply, so a nudge would
    follow an "I accept" unless someone records it or the cadence file holds the nudges; once it
    is set, a missing FOLLOWUP_INBOUND_TOKEN makes the receiver refuse every reply."""
    record = ("Record each answer with `followup outcomes import FILE` (accepted, declined, question, opt_out...), "
              "or take someone out with `followup stop CANDIDATE`.")  # fmt: skip
    if settings.tracks_replies:
        if settings.inbound_token is None:
            err.print("[bold yellow]Warning:[/bold yellow] FOLLOWUP_REPLY_DOMAIN is set but FOLLOWUP_INBOUND_TOKEN is "
                      "not: `followup serve` refuses every Inbound Parse post, so candidates' replies go back to "
                      "SendGrid's retries and are lost after 3 days, and the cadence goes on after them. Set "
                      "FOLLOWUP_INBOUND_TOKEN and put it in the Inbound Parse URL "
                      "(/webhooks/sendgrid/inbound/<token>). " + record)  # fmt: skip
        return
    if cadence.hold_email_nudges_until_replies_tracked:
        err.print("[yellow]Note:[/yellow] email replies are not tracked: they reach the recruiter's inbox only. "
                  "Email nudges are held until FOLLOWUP_REPLY_DOMAIN is set (the cadence file's "
                  "hold_email_nudges_until_replies_tracked); first messages, calls and meetings still go. " + record)
        return
    err.print("[yellow]Note:[/yellow] email replies are not tracked: they reach the recruiter's inbox only, and "
              "the cadence goes on after a candidate answers by email. " + record)


def _print_changed(changed: list[dict]) -> None:
    """Said loudly: a re-import changed a decision that some candidates have already heard."""
    heard = [c for c in changed if c["sent"]]
    if changed:
        out.print(f"{len(changed)} decisions changed since they were planned: what was pending for the old decision "
                  "is cancelled and the new one planned", markup=False)  # fmt: skip
    if heard:
        names = ", ".join(f"{c['candidate_id']} ({c['old']} -> {c['new']})" for c in heard[:20])
        more = f" and {len(heard) - 20} more" if len(heard) > 20 else ""
        err.print(f"[bold yellow]Warning:[/bold yellow] {len(heard)} candidates already got a message for the old "
                  f"decision: {escape(names)}{more}. Tell them yourself what changed.")  # fmt: skip


def _counts_table(title: str, what: str, counts: dict[str, int]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(what)
    table.add_column("messages", justify="right")
    for key, n in sorted(counts.items()):
        table.add_row(key, str(n))
    return table


def _print_reasons(reasons: list[tuple[str, str, int]]) -> None:
    for status, reason, n in reasons:
        out.print(f"  {n} {status}: {reason[:200]}", markup=False)
