"""Rendering speed, in memory, on one core.

Measures the default offer email (subject, text and HTML parts) three ways in the same run:
a bare Jinja2 Environment calling Template.render on the same templates with the same
filters and finished contexts (the reference), the Renderer with the built-in templates,
and the Renderer with a user templates folder (sandboxed). Also render_chunk, which adds
building each context from a ledger row.

Rates are messages per CPU second of this process (per core), from the fastest of several
short interleaved rounds; wall-clock rates and the load average are reported beside them.
Prints one JSON document, then a one-line summary.

    python benchmarks/render_bench.py [--batch 2000] [--rounds 15]

Targets (issue F2): >= 20,000 offer emails/s per core, and >= 75% of the bare render.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jinja2

from followup.rendering import Renderer, builtin_templates_dir, candidate_context, render_chunk
from followup.rendering.environment import is_html_template
from followup.rendering.formatting import FILTERS

TARGET_PER_SECOND = 20_000
TARGET_SHARE_OF_BARE = 0.75
NOW = datetime(2024, 3, 11, 9, 0, tzinfo=timezone.utc)
DEFAULTS = {"company": "Northwind Analytics", "office": "120 Hudson St, New York", "phone": "+1 212 555 0100"}

FIRST = ["Priya", "Sam", "Jonas", "Alex", "Maria", "Kenji", "Aisha", "Tom", "Lucia", "Omar"]
LAST = ["Raman", "Lee", "Becker", "Kim", "Garcia", "Sato", "Bello", "Novak", "Rossi", "Haddad"]
ROLES = ["Senior Data Engineer", "Support Engineer", "Product Designer", "QA Analyst", "Account Executive"]
BANDS = [(95000, 115000), (120000, 140000), (145000, 165000), (60000, 72000), (80000, 90000)]
ZONES = [
    ("America/New_York", "en_US", "USD"),
    ("Europe/London", "en_GB", "GBP"),
    ("America/Chicago", "en_US", "USD"),
]


def ledger_rows(count: int) -> list[dict]:
    """Realistic joined message+candidate+decision rows: varied people, shared bands and dates."""
    rows = []
    for n in range(count):
        zone, locale, currency = ZONES[n % len(ZONES)]
        low, high = BANDS[n % len(BANDS)]
        rows.append(
            {
                "id": n,
                "message_key": f"key-{n:08d}",
                "campaign": "spring",
                "candidate_id": f"c{n:08d}",
                "kind": "offer",
                "step": 0,
                "channel": "email",
                "variant": "a",
                "scheduled_for": NOW,
                "email": f"person{n}@example.com",
                "first_name": FIRST[n % 10],
                "last_name": LAST[(n // 10) % 10],
                "phone": "+1 212 555 0187",
                "timezone": zone,
                "country": "US",
                "locale": locale,
                "role": ROLES[n % len(ROLES)],
                "decision": "offer",
                "offer_deadline": NOW + timedelta(days=7 + n % 5),
                "start_date": NOW + timedelta(days=35 + n % 3),
                "salary_min": low,
                "salary_max": high,
                "currency": currency,
                "location": "New York (hybrid)",
                "reasons": "how you approached the system-design exercise;clear explanations to the panel",
                "interests": "mentoring;owning a product area" if n % 2 else None,
                "recruiter_name": "Dana Whitfield",
                "recruiter_email": "dana@northwind.example",
                "recruiter_phone": "+1 212 555 0142",
                "hiring_manager": "Luis Ortega",
                "company": "Northwind Analytics",
            }
        )
    return rows


def bare_environment() -> jinja2.Environment:
    """The same templates, filters and escaping in a plain Environment: no Renderer around it."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(builtin_templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=is_html_template,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,
    )
    env.filters.update(FILTERS)
    return env


def fastest_rounds(works: dict, batch: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Messages per CPU second and per wall second for each work, from its fastest round.

    The works take turns in short rounds and each keeps its fastest: on a shared machine a
    long run mostly measures other processes, while the fastest short round approaches what
    one core does alone, and every work meets the same conditions.
    """
    best = {name: [float("inf"), float("inf")] for name in works}
    for _ in range(rounds):
        for name, work in works.items():
            wall, cpu = time.perf_counter(), time.process_time()
            work()
            best[name][0] = min(best[name][0], time.process_time() - cpu)
            best[name][1] = min(best[name][1], time.perf_counter() - wall)
    return {name: (batch / cpu, batch / wall) for name, (cpu, wall) in best.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2_000, help="messages per round")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    count = args.batch

    rows = ledger_rows(1_000)
    contexts = [candidate_context(row, row, now=NOW, message_key=row["message_key"]) for row in rows]
    stream = [contexts[n % len(contexts)] for n in range(count)]

    renderer = Renderer(company_defaults=DEFAULTS)
    with tempfile.TemporaryDirectory() as user_dir:
        sandboxed = Renderer(Path(user_dir), company_defaults=DEFAULTS)
        # The bare render gets the finished context (layouts, call-back number...) for free.
        complete = [
            renderer.complete("offer", "email", ctx, variant="a", template="offer", locale=ctx["locale"],
                              reader_locale=ctx["locale"])
            for ctx in contexts
        ]
        complete_stream = [complete[n % len(complete)] for n in range(count)]
        env = bare_environment()
        parts = [env.get_template(f"offer/email.{part}.j2") for part in ("subject", "txt", "html")]
        subject, text, html = parts

        def bare() -> None:
            for ctx in complete_stream:
                subject.render(ctx), text.render(ctx), html.render(ctx)

        def plain() -> None:
            for ctx in stream:
                renderer.render("offer", "email", ctx, variant="a")

        def sandbox() -> None:
            for ctx in stream:
                sandboxed.render("offer", "email", ctx, variant="a")

        chunk_rows = [rows[n % len(rows)] for n in range(count)]

        def chunk() -> None:
            rendered, failed = render_chunk(renderer, chunk_rows)
            assert not failed, failed[:1]

        works = {"bare": bare, "plain": plain, "sandbox": sandbox, "chunk": chunk}
        for work in works.values():  # warm the caches: compiled templates, babel, phone numbers
            work()
        rates = fastest_rounds(works, count, args.rounds)
        (bare_rate, bare_wall), (plain_rate, plain_wall) = rates["bare"], rates["plain"]
        (sandbox_rate, sandbox_wall), (chunk_rate, chunk_wall) = rates["sandbox"], rates["chunk"]

    result = {
        "benchmark": "render_offer_email_in_memory",
        "messages_per_round": count,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "jinja2": jinja2.__version__,
        "bare_jinja2_per_second": round(bare_rate),
        "renderer_per_second": round(plain_rate),
        "renderer_sandboxed_per_second": round(sandbox_rate),
        "render_chunk_per_second": round(chunk_rate),
        "wall_clock_per_second": {
            "bare_jinja2": round(bare_wall),
            "renderer": round(plain_wall),
            "renderer_sandboxed": round(sandbox_wall),
            "render_chunk": round(chunk_wall),
        },
        "load_average_1m": os.getloadavg()[0],
        "cpus": os.cpu_count(),
        "renderer_share_of_bare": round(plain_rate / bare_rate, 3),
        "sandboxed_share_of_bare": round(sandbox_rate / bare_rate, 3),
        "target_per_second": TARGET_PER_SECOND,
        "target_share_of_bare": TARGET_SHARE_OF_BARE,
    }
    ok = plain_rate >= TARGET_PER_SECOND and plain_rate / bare_rate >= TARGET_SHARE_OF_BARE
    result["meets_target"] = ok
    print(json.dumps(result, indent=2))
    print(
        f"{'PASS' if ok else 'FAIL'}: renderer {plain_rate:,.0f}/s "
        f"({plain_rate / bare_rate:.0%} of bare Jinja2 {bare_rate:,.0f}/s), sandboxed {sandbox_rate:,.0f}/s, "
        f"render_chunk {chunk_rate:,.0f}/s; target >= {TARGET_PER_SECOND:,}/s and >= {TARGET_SHARE_OF_BARE:.0%}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
