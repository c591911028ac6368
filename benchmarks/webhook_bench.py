"""Event Webhook benchmark (issue F5): how many events a second `followup serve`'s receiver stores.

A server process runs the web app (make_app, as `followup serve` builds it, under uvicorn) on a
ledger seeded with messages, plus one extra route that only this script adds: POST /bench/floor,
which reads the body and answers 200, unsigned and storing nothing, the floor of what the app
and its server cost. A load generator in this process posts the same events to both, as SendGrid
does: signed JSON arrays of up to 768 KB over keep-alive connections from several clients on
loopback. Each round's events are new (their sg_event_ids carry the round), so nothing is
skipped as a duplicate; after each round the ledger is counted to check every event was stored
exactly once. The bodies are made and signed before the clock starts: that is SendGrid's work.

    python benchmarks/webhook_bench.py [--events 100000] [--clients 4] [--rounds 3] [--database-url URL]

Prints one JSON document, then a one-line summary. Target (issue F5): the receiver stores at
least 5,000 events/s.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

TARGET_PER_SECOND = 5_000
MAX_POST_BYTES = 768 * 1000  # SendGrid's largest POST
MESSAGES = 5_000
_KINDS = ("processed", "delivered", "open", "click", "open", "deferred")


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def seed(url: str) -> None:
    """MESSAGES sent offers, one candidate each, in bulk."""
    from followup.models import Batch, Candidate, Message
    from followup.store import open_ledger

    engine = open_ledger(url)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch).values(id="b1", source_name="round.csv", file_sha256="0" * 64, status="imported"))
        conn.execute(sa.insert(Candidate), [
            {"candidate_id": f"c-{n}", "email": f"person{n}@example.com", "first_name": "Ana", "last_name": "Lima",
             "channel": "email", "first_batch_id": "b1", "last_batch_id": "b1"} for n in range(MESSAGES)])  # fmt: skip
        conn.execute(sa.insert(Message), [
            {"message_key": f"k{n:06d}", "campaign": "spring", "candidate_id": f"c-{n}", "kind": "offer", "step": 0,
             "channel": "email", "status": "sent", "provider_message_id": f"x{n:06d}", "scheduled_for": now,
             "sent_at": now} for n in range(MESSAGES)])  # fmt: skip


def make_events(count: int, round_number: int, rng: random.Random) -> list[dict]:
    base = int(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp())
    events = []
    for n in range(count):
        m = rng.randrange(MESSAGES)
        kind = _KINDS[n % len(_KINDS)]
        event = {
            "email": f"person{m}@example.com", "timestamp": base + n, "event": kind,
            # base64url of 16 random bytes, as long as SendGrid's own ids
            "sg_event_id": f"r{round_number}-" + base64.urlsafe_b64encode(rng.randbytes(16)).decode().rstrip("="),
            "sg_message_id": f"x{m:06d}.recvd-5f8d9c7b-x7k2m-1-6542F0B1-3.0", "smtp-id": f"<x{m:06d}@geopod-ismtpd-3>",
            "category": ["candidate-followup", "offer"], "message_key": f"k{m:06d}", "campaign": "spring",
            "candidate_id": f"c-{m}", "kind": "offer", "step": "0", "channel": "email", "variant": "",
        }  # fmt: skip
        if kind in ("open", "click"):
            event.update(useragent="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15",
                         ip="203.0.113.7", sg_machine_open=n % 3 == 0)  # fmt: skip
        if kind == "click":
            event["url"] = "https://jobs.example.com/offer/accept"
        if kind == "delivered":
            event["response"] = "250 2.0.0 OK 1709370000 d1-20020a05600c"
        events.append(event)
    return events


def bodies_of(events: list[dict]) -> list[bytes]:
    """JSON arrays of at most MAX_POST_BYTES, as SendGrid batches them."""
    bodies, current, size = [], [], 2
    for event in events:
        text = json.dumps(event, separators=(",", ":"))
        if current and size + len(text) + 1 > MAX_POST_BYTES:
            bodies.append(("[" + ",".join(current) + "]").encode())
            current, size = [], 2
        current.append(text)
        size += len(text) + 1
    if current:
        bodies.append(("[" + ",".join(current) + "]").encode())
    return bodies


def sign(private, body: bytes) -> dict[str, str]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    stamp = str(int(time.time()))
    signature = private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp, "Content-Type": "application/json"}  # fmt: skip


def post_all(port: int, path: str, work: list[tuple[bytes, dict]], clients: int) -> float:
    """Seconds to post every body, `clients` keep-alive connections at once; every answer must be 200."""
    queue = list(work)

    def client(_: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        posted = 0
        while queue:
            try:
                body, headers = queue.pop()
            except IndexError:
                break
            conn.request("POST", path, body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"{path} answered {answer.status}")
            posted += 1
        conn.close()
        return posted

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return time.perf_counter() - started


def serve(url: str, public_key: str, port: int) -> None:
    """The server process: the app as `followup serve` builds it, plus the floor route."""
    import uvicorn
    from pydantic import SecretStr
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from followup.store import open_ledger
    from followup.tracking.signatures import load_public_key
    from followup.web.app import make_app

    app = make_app(open_ledger(url), SecretStr("webhook-bench-secret"), load_public_key(public_key))

    async def floor(request: Request) -> Response:
        await request.body()
        return Response(status_code=200)

    app.router.routes.append(Route("/bench/floor", floor, methods=["POST"]))
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, server: subprocess.Popen) -> None:
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError("the server process stopped")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="a PostgreSQL ledger (an empty database); default a fresh SQLite file")
    parser.add_argument("--serve", nargs=3, metavar=("URL", "KEY", "PORT"), help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.serve:
        serve(opts.serve[0], opts.serve[1], int(opts.serve[2]))
        return

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    workdir = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    url = opts.database_url or f"sqlite:///{workdir / 'ledger.db'}"
    seed(url)
    private = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()  # fmt: skip
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", url, public, str(port)])
    rng = random.Random(5)
    rounds = []
    try:
        wait_for(port, server)
        from followup.store import open_ledger

        engine = open_ledger(url)
        for number in range(opts.rounds):
            bodies = bodies_of(make_events(opts.events, number, rng))
            signed = [(body, sign(private, body)) for body in bodies]
            plain = [(body, {"Content-Type": "application/json"}) for body in bodies]
            started_load = load()[0]
            floor_s = post_all(port, "/bench/floor", plain, opts.clients)
            receiver_s = post_all(port, "/webhooks/sendgrid/events", signed, opts.clients)
            with engine.connect() as conn:
                stored = conn.execute(sa.text("SELECT count(*), count(DISTINCT sg_event_id) FROM events "
                                              "WHERE sg_event_id LIKE :round"), {"round": f"r{number}-%"}).one()  # fmt: skip
            rounds.append({
                "posts": len(bodies), "mean_post_kb": round(sum(map(len, bodies)) / len(bodies) / 1000, 1),
                "floor_s": round(floor_s, 3), "floor_events_per_s": round(opts.events / floor_s),
                "receiver_s": round(receiver_s, 3), "receiver_events_per_s": round(opts.events / receiver_s),
                "stored": stored[0], "stored_once": stored[0] == stored[1] == opts.events, "load_start": started_load,
            })  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
    rates = sorted(r["receiver_events_per_s"] for r in rounds)
    floors = sorted(r["floor_events_per_s"] for r in rounds)
    median, floor = rates[len(rates) // 2], floors[len(floors) // 2]
    result = {
        "benchmark": "event_webhook",
        "events_per_round": opts.events,
        "clients": opts.clients,
        "ledger": sa.make_url(url).get_backend_name(),
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()} Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "rounds": rounds,
        "median_events_per_s": median,
        "median_floor_events_per_s": floor,
        "target_events_per_s": TARGET_PER_SECOND,
        "met": median >= TARGET_PER_SECOND and all(r["stored_once"] for r in rounds),
    }
    print(json.dumps(result, indent=2))
    print(
        f"event webhook ({result['ledger']}): {opts.events:,} events in {rounds[0]['posts']} signed posts of "
        f"~{rounds[0]['mean_post_kb']:.0f} KB from {opts.clients} clients: {median:,} events/s stored (median of "
        f"{len(rounds)}), floor {floor:,} events/s unsigned and not stored; every event stored once: "
        f"{all(r['stored_once'] for r in rounds)}; load {rounds[0]['load_start']}-{load()[0]} "
        f"(target >= {TARGET_PER_SECOND:,}/s)"
    )


if __name__ == "__main__":
    main()
