"""Commands that send and steer sending: the sandbox, run, sweep, reconcile, retry, pause,
resume, cancel and stop."""

from __future__ import annotations

from typing import Annotated

import typer

from followup.cli.common import app


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
