"""What more than one benchmark script needs: the machine and its load, the sandbox's sender,
CPU clocks, the send stage as the flows run it, and the plain serial loop over the official
SendGrid client that the send targets are measured against.

Not a benchmark itself: run_all.py skips it.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)  # a Thursday morning in Europe
API_KEY = "SG.bench"
FROM_EMAIL, FROM_NAME = "jobs@acme.example", "Acme Recruiting"


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> str:
    return f"{platform.node()} {os.cpu_count()} cores {platform.machine()} Python {platform.python_version()}"


def followup_command() -> str:
    """`bin/followup`, as a user runs it from a clone (it checks the checkout's .venv, then runs
    its entry point); else the entry point beside the interpreter running the benchmark."""
    script = Path(__file__).resolve().parent.parent / "bin" / "followup"
    if script.is_file():
        return str(script)
    return shutil.which("followup") or str(Path(sys.executable).with_name("followup"))


def process_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a live process, from /proc."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def rendered_offers() -> list:
    """Real offer emails from the built-in templates, one per sample offer candidate."""
    from followup.rendering import Renderer, sample_contexts

    renderer = Renderer()
    return [renderer.render("offer", "email", c) for c in sample_contexts() if c.get("decision") == "offer"]


def time_send_stage(settings, sandbox, business_now: datetime, campaign: str) -> dict:
    """The send stage as the campaign flow runs it (recover what dead senders left, then send),
    on a ledger already rendered, with its CPU and the sandbox's."""
    from followup.sending.setup import SendSetup
    from followup.stages.sending import recover, send_stage
    from followup.store import close_ledgers

    close_ledgers()  # the senders open their own connections; the seeding one is not needed
    own, children, server = cpu_s(resource.RUSAGE_SELF), cpu_s(resource.RUSAGE_CHILDREN), process_cpu_s(sandbox.pid)
    started = time.perf_counter()
    setup = SendSetup.of(settings)
    recover(setup)
    report = send_stage(setup, business_now=business_now, campaign=campaign)
    seconds = time.perf_counter() - started
    # Sender processes are counted once they have been waited for, which send_stage does.
    senders_cpu = cpu_s(resource.RUSAGE_SELF) - own + cpu_s(resource.RUSAGE_CHILDREN) - children
    sandbox_cpu = process_cpu_s(sandbox.pid) - server
    return {
        "seconds": round(seconds, 2),
        "messages_per_s": round(report.sent / seconds, 1),
        "report": {"sent": report.sent, "failed": report.failed, "retry_wait": report.retry_wait,
                   "unknown": report.unknown, "suppressed": report.suppressed, "cancelled": report.cancelled,
                   "moved": report.moved, "requests": report.requests, "paused": report.paused,
                   "errors": dict(report.errors)},  # fmt: skip
        "cpu_s": {"senders": round(senders_cpu, 2), "sandbox": round(sandbox_cpu, 2)},
        "cpu_us_per_message": {
            "senders": round(1e6 * senders_cpu / max(report.sent, 1)),
            "sandbox": round(1e6 * sandbox_cpu / max(report.sent, 1)),
        },
        "cores_busy": round((senders_cpu + sandbox_cpu) / seconds, 2),
    }


def serial_official_client(sandbox, count: int) -> dict:
    """The plain loop the send targets are measured against: the official client, one message
    after another, pre-rendered offer emails."""
    from sendgrid import SendGridAPIClient
    from sendgrid.helpers.mail import CustomArg, Mail

    offer = rendered_offers()[0]
    client = SendGridAPIClient(api_key=API_KEY, host=sandbox.url)
    started = time.perf_counter()
    for n in range(count):
        mail = Mail(from_email=(FROM_EMAIL, FROM_NAME), to_emails=f"serial.{n}@example.com", subject=offer.subject,
                    plain_text_content=offer.text, html_content=offer.html)  # fmt: skip
        mail.custom_arg = CustomArg("message_key", f"serial:{n}")
        response = client.send(mail)
        if response.status_code != 202:
            raise RuntimeError(f"the sandbox answered {response.status_code} to the serial loop")
    seconds = time.perf_counter() - started
    return {"messages": count, "seconds": round(seconds, 2), "messages_per_s": round(count / seconds, 1)}
