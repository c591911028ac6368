"""`followup`: the command line, and the composition root.

This is the one core module that reaches up into flows/; it imports them inside the commands
that run them, so `followup --help` stays fast and never starts Prefect.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from followup import logs
from followup.config import Settings, load_settings
from followup.intake import ImportSummary

app = typer.Typer(
    name="followup",
    help=(
        "The follow-up engine for recruiting ops: import a candidate batch exported from your "
        "applicant tracking system, validate it, and (as the project grows) message every "
        "candidate on the right channel at the right time, follow up, and report what works.\n\n"
        "Settings come from FOLLOWUP_* environment variables (see README); the ledger defaults "
        "to a SQLite file under ./data."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_DONE, EXIT_FAILURE, EXIT_REFUSED = 0, 1, 2


class State:
    settings_file: Path | None = None


def _quiet_services() -> None:
    """Telemetry off and Prefect's INFO chatter off the user's terminal, unless they asked otherwise."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "WARNING")


def _settings() -> Settings:
    try:
        return load_settings(State.settings_file)
    except Exception as exc:  # pydantic's message names the variable and the bad value
        err.print(f"[red]Settings are invalid:[/red] {exc}")
        raise typer.Exit(EXIT_REFUSED) from None


@app.callback()
def main_options(
    settings_file: Annotated[
        Optional[Path],
        typer.Option("--settings", help="A settings file of FOLLOWUP_* lines; the environment wins over it."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging on stderr.")] = False,
) -> None:
    State.settings_file = settings_file
    logs.configure(verbose)
    _quiet_services()


def _run_import(path: Path, mapping: Path | None, settings: Settings) -> ImportSummary:
    from flows.import_batch import import_batch

    with err.status(f"Importing {path.name}: reading, validating, storing…", spinner="dots"):
        return import_batch(path, mapping, settings)


def _print_summary(summary: ImportSummary, title: str) -> None:
    if summary.refused:
        err.print(f"[bold red]Refused:[/bold red] {summary.reason}")
        if summary.quarantine_file:
            err.print(f"The rows and their problems: {summary.quarantine_file}")
        return
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_row("batch", summary.batch_id)
    table.add_row("status", summary.status.replace("_", " "))
    table.add_row("rows read", str(summary.rows))
    table.add_row("valid", str(summary.valid))
    table.add_row("quarantined", str(summary.quarantined))
    if summary.status == "imported":
        table.add_row("new candidates", str(summary.new_candidates))
        table.add_row("updated candidates", f"{summary.updated_candidates} ({summary.changes} field changes)")
    table.add_row("quarantine file", summary.quarantine_file or "(none: every row passed)")
    table.add_row("data docs", summary.data_docs or "(none)")
    out.print(table)


def _finish(summary: ImportSummary, as_json: bool, title: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary.to_json()) + "\n")
        if summary.refused:
            err.print(f"Refused: {summary.reason}")
    else:
        _print_summary(summary, title)
    raise typer.Exit(EXIT_REFUSED if summary.refused else EXIT_DONE)


@app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="The batch: a CSV (any common encoding and delimiter) or XLSX export from your ATS.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    mapping: Annotated[
        Optional[Path],
        typer.Option(
            "--mapping",
            help='Your header names for our columns: JSON {"Their Header": "candidate_id", ...} or a two-column CSV.',
            # Checked before Prefect starts: a typo in the path is refused at once.
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON summary on stdout.")] = False,
) -> None:
    """Import and validate a candidate batch; bad rows go to data/quarantine/<batch>.csv with reasons.

    Exit codes: 0 imported (or already imported), 2 refused (the message says why; nothing stored
    but the record of the refusal), 1 failure.
    """
    settings = _settings()
    _finish(_run_import(file, mapping, settings), as_json, f"Imported {file.name}")


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON summary on stdout.")] = False,
) -> None:
    """Run a whole round on embedded defaults: a sample ATS export, imported and validated.

    The demo keeps its own ledger and files under <data dir>/demo/ and starts from a clean slate
    each time, so it never touches your real ledger.
    """
    from followup.samples import ensure_sample

    from followup.store import close_ledgers

    settings = _settings()
    demo_dir = settings.data_dir / "demo"
    close_ledgers()  # a pooled connection would keep the old demo ledger alive past its deletion
    shutil.rmtree(demo_dir, ignore_errors=True)
    demo_settings = settings.model_copy(update={"data_dir": demo_dir, "database_url": None})
    sample = ensure_sample(settings.data_dir)
    if not as_json:
        err.print(f"Demo batch: {sample}")
    summary = _run_import(sample, None, demo_settings)
    if not as_json and not summary.refused:
        err.print(f"Demo ledger: {demo_settings.ledger_url}")
    _finish(summary, as_json, "Demo round: import and validation")


KINDS_HELP = "offer, offer_nudge, rejection, keep_in_touch or in_person_invite"
# An offer's reasons are strengths and a rejection's are feedback: never cross them.
KINDS_FOR_DECISION = {
    "offer": ("offer", "offer_nudge", "in_person_invite"),
    "reject": ("rejection", "keep_in_touch"),
}
TemplatesOption = Annotated[
    Optional[Path],
    typer.Option(
        "--templates",
        help="Your templates folder; its files override ours by path and render in a sandbox.",
        exists=True,
        file_okay=False,
    ),
]


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
    now: Annotated[Optional[str], typer.Option("--now", help="Business time (ISO 8601) to render as of.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the message as JSON on stdout.")] = False,
) -> None:
    """Show exactly what a candidate would receive, without sending or storing anything."""
    from followup.rendering import KINDS, CHANNELS, RenderError, Renderer, assign_variant, candidate_context
    from followup.store import open_ledger
    from followup.store.candidates import candidate_with_decision

    if kind not in KINDS:
        _refuse(f"unknown kind {kind!r}; choose one of: {', '.join(KINDS)}")
    if channel is not None and channel not in CHANNELS:
        _refuse(f"unknown channel {channel!r}; choose one of: {', '.join(CHANNELS)}")
    moment = _parse_now(now)
    settings = _settings()
    found = candidate_with_decision(open_ledger(settings.ledger_url), candidate)
    if found is None:
        _refuse(f"no candidate {candidate!r} in the ledger at {settings.ledger_url}; import their batch first")
    person, decision = found
    expected = KINDS_FOR_DECISION.get(decision.get("decision"), ())
    if kind not in expected:
        _refuse(
            f"{candidate} has the decision {decision.get('decision') or 'none'!r}; "
            f"the messages for it are: {', '.join(expected) or 'none until a decision is imported'}"
        )
    renderer = Renderer(templates)
    variant = assign_variant(campaign, candidate, renderer.variants(kind))
    context = candidate_context(person, decision, now=moment, step=step)
    try:
        message = renderer.render(kind, channel or person["channel"], context, variant=variant)
    except RenderError as exc:
        err.print(f"[red]Cannot render:[/red] {exc}")
        raise typer.Exit(EXIT_FAILURE) from None
    if html is not None and message.html is not None:
        html.write_text(message.html, encoding="utf-8")
    if as_json:
        sys.stdout.write(json.dumps(message.to_dict()) + "\n")
        return
    out.print(f"[bold]{message.kind} / {message.channel} / variant {message.variant}[/bold]  ({message.template})")
    if message.subject:
        out.print(f"Subject: {message.subject}")
    for name, value in message.headers.items():
        out.print(f"{name}: {value}")
    out.print()
    out.print(message.script if message.script is not None else message.text, markup=False)
    for item in message.attachments:
        out.print(f"[dim]attachment: {item.filename} ({item.content_type}, {len(item.content)} bytes)[/dim]")
    if html is not None:
        err.print(f"HTML part written to {html}" if message.html is not None else "This message has no HTML part.")


templates_app = typer.Typer(help="Check message templates.", no_args_is_help=True)
app.add_typer(templates_app, name="templates")


@templates_app.command("check")
def templates_check(
    templates: TemplatesOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the problems as JSON on stdout.")] = False,
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


@app.command()
def sandbox(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (keep it local).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 3030,
    api_key: Annotated[
        str, typer.Option("--api-key", help="The key it accepts as 'Authorization: Bearer <key>'.")
    ] = "SG.sandbox",
    latency_ms: Annotated[float, typer.Option("--latency-ms", help="Added to every answer, like a real network.")] = 0.0,
    error_rate: Annotated[float, typer.Option("--error-rate", min=0.0, max=1.0, help="Share answered 500/503.")] = 0.0,
    validate_share: Annotated[
        float,
        typer.Option("--validate-share", min=0.0, max=1.0, help="Share of bodies checked against SendGrid's schema."),
    ] = 1.0,
) -> None:
    """Run a local SendGrid-compatible server: point SENDGRID_API_HOST at it to send without sending.

    It answers POST /v3/mail/send as SendGrid does (key check, SendGrid's schema and limits,
    202 with X-Message-Id) and keeps what it accepted: GET /sandbox/messages (JSON) and
    /sandbox/outbox (a page to read them). Stop it with Ctrl-C.
    """
    from followup.sandbox import SandboxConfig, serve

    serve(host, port, SandboxConfig(api_key=api_key, latency_ms=latency_ms, error_rate=error_rate,
                                    validate_share=validate_share))  # fmt: skip


def _refuse(message: str) -> None:
    err.print(f"[red]Refused:[/red] {message}")
    raise typer.Exit(EXIT_REFUSED)


def _parse_now(value: str | None):
    from datetime import datetime, timezone

    if value is None:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        _refuse(f"--now {value!r} is not an ISO 8601 time (e.g. 2026-11-26T09:00:00Z)")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)


if __name__ == "__main__":
    main()
