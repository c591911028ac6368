"""The servers you run: `followup serve`, the public web server that answers the unsubscribe links
of keep-in-touch mail, and `followup sandbox`, a local SendGrid-compatible server."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from followup.cli.common import EXIT_FAILURE, app, err, out, refuse, settings_or_refuse, signing_secret_or_refuse


@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; keep it local behind a reverse proxy, 0.0.0.0 for all.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free port).")] = 8025,
) -> None:
    """Answer the unsubscribe links of keep-in-touch mail and SendGrid's Signed Event Webhook.

    Every keep-in-touch email carries the link FOLLOWUP_UNSUBSCRIBE_URL/<token>, also as a
    one-click List-Unsubscribe header (RFC 8058). FOLLOWUP_UNSUBSCRIBE_URL must be the public
    URL that reaches /unsubscribe on this server, e.g. https://jobs.example.com/unsubscribe on a
    reverse proxy (TLS) that forwards to http://127.0.0.1:8025/unsubscribe.

    Opening a link shows a page with an Unsubscribe button and changes nothing (mail scanners
    open links too); the button, or a mail client's one-click POST, records the candidate's
    address as suppressed in the same ledger the senders use (FOLLOWUP_DATABASE_URL), so no
    further mail goes to it. GET /health answers "ok" while the ledger answers.

    POST /webhooks/sendgrid/events takes SendGrid's events (point the Event Webhook at
    https://<your host>/webhooks/sendgrid/events and turn on its signing): each POST is checked
    with SENDGRID_WEBHOOK_PUBLIC_KEY, the verification key SendGrid shows, and its events are
    stored once before the answer. Without the key every event POST is refused (403).

    POST /webhooks/sendgrid/inbound/<FOLLOWUP_INBOUND_TOKEN> takes the replies SendGrid's Inbound
    Parse receives at FOLLOWUP_REPLY_DOMAIN (point its MX record at mx.sendgrid.net and the
    Inbound Parse URL here): each reply is matched to the message it answers, read (accepted,
    declined, question, opt_out, out_of_office...), stored before the answer, and left in the
    ledger for the next sweep to forward to the recruiter. Without the token every post is refused.

    The links are signed with FOLLOWUP_SECRET_KEY, and this server checks them with it: on a
    SQLite ledger it is made on first use and kept in the data dir; with any other ledger it must
    be set, to the same value the senders have, or serve refuses to start.

    Prints the address it listens on once it accepts requests; stop it with Ctrl-C.
    """
    from followup.stages.replies import InboundSetup
    from followup.store import open_ledger
    from followup.tracking.signatures import BadPublicKey, load_public_key
    from followup.web import CannotListen
    from followup.web import serve as serve_blocking

    settings = settings_or_refuse()
    secret = signing_secret_or_refuse(settings)
    public_key = None
    if settings.sendgrid_webhook_public_key:
        try:
            public_key = load_public_key(settings.sendgrid_webhook_public_key)
        except BadPublicKey as exc:
            refuse(f"SENDGRID_WEBHOOK_PUBLIC_KEY: {exc}")
    engine = open_ledger(settings.ledger_url)
    inbound = InboundSetup.of(settings)

    def ready(url: str) -> None:
        # markup off: an IPv6 address in brackets is not a style tag
        out.print(f"Answering unsubscribe links at {url}/unsubscribe/<token> (Ctrl-C stops)", markup=False)
        if public_key is not None:
            out.print(f"Taking SendGrid's signed events at {url}/webhooks/sendgrid/events", markup=False)
        else:
            err.print("[yellow]SENDGRID_WEBHOOK_PUBLIC_KEY is not set:[/yellow] SendGrid's event POSTs are refused "
                      "until it is (set it to the verification key of the signed Event Webhook).")  # fmt: skip
        if inbound.token is not None:
            out.print(f"Taking Inbound Parse replies at {url}/webhooks/sendgrid/inbound/<FOLLOWUP_INBOUND_TOKEN>",
                      markup=False)  # fmt: skip
            if settings.reply_domain is None:
                err.print("[yellow]FOLLOWUP_REPLY_DOMAIN is not set:[/yellow] mail carries no reply addresses, so "
                          "only replies from a candidate's own address are matched.")  # fmt: skip
        elif settings.reply_domain is not None:
            err.print("[yellow]FOLLOWUP_INBOUND_TOKEN is not set:[/yellow] every Inbound Parse POST is refused, so "
                      f"the replies to {settings.reply_domain} are not recorded (SendGrid gives up after 3 days).")
        if settings.unsubscribe_url:
            err.print(f"Mail links point at {settings.unsubscribe_url}/<token>: that URL must reach this server.",
                      markup=False)  # fmt: skip
        else:
            err.print("[yellow]FOLLOWUP_UNSUBSCRIBE_URL is not set:[/yellow] keep-in-touch mail is not written "
                      "without it, so no link points here yet.")  # fmt: skip

    try:
        serve_blocking(engine, secret, host, port, on_ready=ready, webhook_public_key=public_key,
                       inbound_setup=inbound)  # fmt: skip
    except CannotListen as exc:
        err.print(f"[red]Failed:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILURE) from None
    err.print("Stopped.")


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
    seed: Annotated[
        int, typer.Option("--seed", help="The same seed gives the same key pair, event ids and world.")
    ] = 0,
    behaviour: Annotated[
        bool, typer.Option("--behaviour", help="Recipients open, click, bounce, unsubscribe, reply (a seeded model).")
    ] = False,
) -> None:
    """Run a local SendGrid-compatible server: point SENDGRID_API_HOST at it to send without sending.

    It answers POST /v3/mail/send as SendGrid does (key check, SendGrid's schema and limits,
    202 with X-Message-Id) and keeps what it accepted: GET /sandbox/messages (JSON) and
    /sandbox/outbox (a page to read them). Stop it with Ctrl-C.

    With FOLLOWUP_SANDBOX_WEBHOOK_URL set, it posts SendGrid's processed and delivered events for
    each message it accepts there, signed with its own key pair (GET /sandbox/public-key; set
    SENDGRID_WEBHOOK_PUBLIC_KEY to it for `followup serve`), batched every few seconds and
    retried while the receiver is down. Events carry the business time told by POST
    /sandbox/clock {"now": ISO 8601}, or the real time. With --behaviour, recipients act as that
    clock advances: Apple's machine opens on arrival, people's opens and clicks, hard bounces,
    unsubscribes and spam reports, at rates documented in followup/sandbox/behaviour/.

    With --behaviour and FOLLOWUP_SANDBOX_INBOUND_URL set, candidates also reply (accept, decline,
    ask, opt out, are out of office, ...) in five languages as that clock advances: each reply is
    posted there as SendGrid's Inbound Parse posts one (multipart/form-data, retried on 5xx).
    """
    from followup.sandbox import SandboxConfig, serve

    settings = settings_or_refuse()
    config = SandboxConfig(api_key=api_key, latency_ms=latency_ms, error_rate=error_rate,
                           validate_share=validate_share, seed=seed, webhook_url=settings.sandbox_webhook_url,
                           behaviour=behaviour, inbound_url=settings.sandbox_inbound_url)  # fmt: skip
    if config.webhook_url:
        from followup.sandbox.events import Signer

        err.print(f"Posting signed events to {config.webhook_url}; its public key (SENDGRID_WEBHOOK_PUBLIC_KEY):",
                  markup=False)  # fmt: skip
        err.print(Signer(seed).public_key, markup=False, soft_wrap=True)
    if config.inbound_url:
        from followup.sandbox.inbound import where

        # The URL's path holds the receiver's token: only its host is shown.
        if behaviour:
            err.print(f"Posting candidates' replies as Inbound Parse to {where(config.inbound_url)}", markup=False)
        else:
            err.print("[yellow]FOLLOWUP_SANDBOX_INBOUND_URL is set but --behaviour is not:[/yellow] "
                      "nobody replies without it.")  # fmt: skip
    serve(host, port, config)
