"""Commands about messages before they are sent: preview and the template check."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from followup.cadence.spec import KINDS_FOR_DECISION
from followup.cli.common import (
    EXIT_DONE,
    EXIT_FAILURE,
    TemplatesOption,
    app,
    err,
    json_option,
    now_option,
    out,
    parse_now,
    refuse,
    settings_or_refuse,
)

KINDS_HELP = "offer, offer_nudge, rejection, keep_in_touch or in_person_invite"


@app.command()
def preview(
    candidate: Annotated[str, typer.Option("--candidate", help="The candidate id, as in your ATS export.")],
    kind: Annotated[str, typer.Option("--kind", help=f"The message: {KINDS_HELP}.")],
    channel: Annotated[
        Optional[str],
        typer.Option("--channel", help="email, voicemail or in_person (default: the candidate's channel)."),
    ] = None,
    step: Annotated[int, typer.Option("--step", help="Follow-up step, for offer_nudge (1 or 2).")] = 0,
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign name; decides the A/B variant.")] = "preview",
    templates: TemplatesOption = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also write the HTML part to this file.")] = None,
    now: now_option("to render as of") = None,
    as_json: json_option("the message as JSON") = False,
) -> None:
    """Show exactly what a candidate would receive, without sending or storing anything."""
    from followup.cadence import message_key
    from followup.rendering import KINDS, CHANNELS, RenderError, assign_variant, candidate_context
    from followup.stages.rendering import RenderSetup, renderer_for
    from followup.store import open_ledger
    from followup.store.candidates import candidate_with_decision

    if kind not in KINDS:
        refuse(f"unknown kind {kind!r}; choose one of: {', '.join(KINDS)}")
    if channel is not None and channel not in CHANNELS:
        refuse(f"unknown channel {channel!r}; choose one of: {', '.join(CHANNELS)}")
    moment = parse_now(now)
    settings = settings_or_refuse()
    found = candidate_with_decision(open_ledger(settings.ledger_url), candidate)
    if found is None:
        refuse(f"no candidate {candidate!r} in the ledger at {settings.ledger_url}; import their batch first")
    person, decision = found
    expected = KINDS_FOR_DECISION.get(decision.get("decision"), ())
    if kind not in expected:
        refuse(
            f"{candidate} has the decision {decision.get('decision') or 'none'!r}; "
            f"the messages for it are: {', '.join(expected) or 'none until a decision is imported'}"
        )
    try:
        setup = RenderSetup.of(settings, templates)
    except ValueError as exc:  # a signing-key file emptied by hand
        refuse(str(exc))
    renderer = renderer_for(setup)
    variant = assign_variant(campaign, candidate, renderer.variants(kind))
    chosen = channel or person["channel"]
    # The key the campaign would give this message: its unsubscribe link is the real one.
    key = message_key(campaign, candidate, kind, step, chosen)
    context = candidate_context(person, decision, now=moment, step=step, message_key=key)
    try:
        message = renderer.render(kind, chosen, context, variant=variant)
    except RenderError as exc:
        err.print(f"[red]Cannot render:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILURE) from None
    if html is not None and message.html is not None:
        html.write_text(message.html, encoding="utf-8")
    if as_json:
        sys.stdout.write(json.dumps(message.to_dict()) + "\n")
        return
    # What is sent is shown as it is: the subject, headers and names are the candidate's and the templates'.
    heading = f"{message.kind} / {message.channel} / variant {message.variant}"
    out.print(f"[bold]{escape(heading)}[/bold]  ({escape(message.template)})")
    if message.subject:
        out.print(f"Subject: {message.subject}", markup=False)
    for name, value in message.headers.items():
        out.print(f"{name}: {value}", markup=False)
    if message.call_sheet_row:
        # What the recruiter's call sheet will say, besides the script itself.
        for name, value in message.call_sheet_row.items():
            if name != "script":
                out.print(f"Call sheet {name.replace('_', ' ')}: {value}", markup=False)
    out.print()
    out.print(message.script if message.script is not None else message.text, markup=False)
    for item in message.attachments:
        attachment = f"attachment: {item.filename} ({item.content_type}, {len(item.content)} bytes)"
        out.print(f"[dim]{escape(attachment)}[/dim]")
    if html is not None:
        err.print(f"HTML part written to {html}" if message.html is not None else "This message has no HTML part.",
                  markup=False)  # fmt: skip


templates_app = typer.Typer(help="Check message templates.", no_args_is_help=True)
app.add_typer(templates_app, name="templates")


@templates_app.command("check")
def templates_check(
    templates: TemplatesOption = None,
    as_json: json_option("the problems as JSON") = False,
) -> None:
    """Render every template against sample candidates and report problems.

    Checks undefined variables, voicemail scripts over 75 words (30 seconds spoken), subjects
    over 78 characters, a missing text part, calendar invites that do not parse, and templates
    that try to reach Python internals. Exit code 1 when anything is wrong.
    """
    from followup.rendering import check_templates

    problems = check_templates(templates)
    if as_json:
        sys.stdout.write(
            json.dumps([{"template": p.template, "line": p.line, "message": p.message} for p in problems]) + "\n"
        )
    else:
        for problem in problems:
            err.print(str(problem), markup=False)
        err.print(f"{len(problems)} problem(s)" if problems else "All templates render cleanly.")
    raise typer.Exit(EXIT_FAILURE if problems else EXIT_DONE)
