"""The sandbox's candidates reply as SendGrid's Inbound Parse would post them: over real sockets to
a receiver here that parses the multipart with the stdlib's own MIME parser, as the business clock
advances, retried on 5xx and dropped on 4xx, the same for the same seed, in five languages; and
the project's own reader of replies (followup.tracking.intent) recovers what the model meant."""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from email import policy
from email.parser import BytesParser, HeaderParser
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from followup.sandbox import Sandbox, SandboxConfig
from followup.sandbox.behaviour import offline, replies
from followup.sandbox.behaviour.phrasebook import AUTO_PREFIXES, QUOTE_HEADERS
from followup.sandbox.behaviour.replies import Features, ReplyParams, reply_probability
from followup.sandbox.inbound import ReplyPoster, form

KEY = "SG.sandbox"
TUESDAY = datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc)
TLDS = ("com", "de", "fr", "mx", "br", "org", "at", "pt", "es", "ch")
KINDS = ("offer", "offer_nudge", "keep_in_touch", "in_person_invite", "rejection")
# Replies are rare (about 1 email in 10): a world where most candidates answer keeps runs short.
TALKATIVE = ReplyParams(first_email=0.6, out_of_office=0.15, auto_reply=0.08)


def body(n: int, message_id: bool = True, kind: str | None = None) -> dict:
    """A /v3/mail/send body as the SendGrid transport builds it (custom_args all strings)."""
    email = f"cand{n}@mail.example.{TLDS[n % len(TLDS)]}"
    message = {"personalizations": [{"to": [{"email": email, "name": "Ana Lima"}]}],
               "from": {"email": "jobs@acme.example", "name": "Acme Jobs"},
               "reply_to": {"email": f"reply+{n}@in.acme.example", "name": "Marta Ruiz"},
               "subject": "Your offer from Acme",
               "content": [{"type": "text/plain",
                            "value": "Hello Ana,\n\nWe are happy to offer you the role.\n\nMarta"}],
               "custom_args": {"message_key": f"k{n}", "campaign": "spring", "candidate_id": f"c{n}",
                               "kind": kind or KINDS[n % len(KINDS)], "step": "0", "channel": "email",
                               "variant": "a"}}  # fmt: skip
    if message_id:
        message["headers"] = {"Message-ID": f"<k{n}@acme.example>"}
    return message


def send(sandbox_url: str, message: dict) -> None:
    host, port = sandbox_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("POST", "/v3/mail/send", body=json.dumps(message),
                       headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})  # fmt: skip
    answer = connection.getresponse()
    answer.read()
    connection.close()
    assert answer.status == 202


def parse_form(content_type: str, raw: bytes) -> dict[str, str]:
    """multipart/form-data read by the stdlib's MIME parser: an independent check of the encoding."""
    message = BytesParser(policy=policy.HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    assert message.is_multipart()
    return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True).decode("utf-8")
            for part in message.iter_parts()}  # fmt: skip


@pytest.fixture
def receiver():
    """An Inbound Parse receiver on loopback: answers `answers` in turn (then 200), keeps every POST."""

    class Receiver(BaseHTTPRequestHandler):
        answers: list[int] = []
        posts: list[dict] = []
        lock = threading.Lock()

        def do_POST(self):  # noqa: N802  (http.server's name)
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            with self.lock:
                status = self.answers.pop(0) if self.answers else 200
                self.posts.append({**parse_form(self.headers["Content-Type"], raw), "_status": status,
                                   "_path": self.path})  # fmt: skip
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/sendgrid/inbound/token-0123", Receiver
    server.shutdown()
    server.server_close()


def run(url: str, seed: int, messages: list[dict], until: datetime, features=None) -> tuple[dict, Sandbox]:
    config = SandboxConfig(event_interval_s=0.02, seed=seed, behaviour=True, inbound_url=url)
    with Sandbox(config, features=features) as sandbox:
        sandbox.set_clock(TUESDAY)
        for message in messages:
            send(sandbox.url, message)
        sandbox.set_clock(until)
        return sandbox.wait_for_events(timeout=20), sandbox


def delivered_at(seed: int, n: int) -> datetime:
    """When the sandbox delivers message n: its clock plus the seeded delay of its delivered event."""
    message = body(n)
    email = message["personalizations"][0]["to"][0]["email"]
    return TUESDAY + timedelta(seconds=random.Random(f"{seed}:k{n}:{email}").randint(1, 8))


def expected(seed: int, n: int, params: ReplyParams = replies.DEFAULT) -> list[replies.Reply]:
    message = body(n)
    email = message["personalizations"][0]["to"][0]["email"]
    at = delivered_at(seed, n)
    return replies.replies(seed, f"k{n}", email, at, replies.features_from(message["custom_args"], at), params)


def by_message_id(posts: list[dict]) -> dict[str, dict]:
    return {HeaderParser().parsestr(p["headers"])["Message-ID"]: {k: v for k, v in p.items() if k != "_status"}
            for p in posts}  # fmt: skip


def test_a_seeded_run_repeats_exactly_whatever_the_order_and_another_seed_differs(receiver):
    url, handler = receiver
    messages = [body(n) for n in range(150)]
    run(url, 5, messages, TUESDAY + timedelta(days=40))
    first = by_message_id(handler.posts)
    handler.posts.clear()
    run(url, 5, messages[::-1], TUESDAY + timedelta(days=40))  # the same world, messages in another order
    assert by_message_id(handler.posts) == first and len(first) >= 5
    assert len(first) == sum(len(expected(5, n)) for n in range(150))
    handler.posts.clear()
    run(url, 6, messages, TUESDAY + timedelta(days=40))
    other = by_message_id(handler.posts)
    assert not set(other) & set(first)
    words = [sorted(p.get("text") or p["html"] for p in posts.values()) for posts in (first, other)]
    assert words[0] != words[1]


def test_replies_arrive_only_once_the_business_clock_passes_their_time(receiver):
    url, handler = receiver
    due = sorted(reply.at for n in range(150) for reply in expected(2, n))
    assert len(due) >= 5
    config = SandboxConfig(event_interval_s=0.02, seed=2, behaviour=True, inbound_url=url)
    with Sandbox(config) as sandbox:
        sandbox.set_clock(TUESDAY)
        for n in range(150):
            send(sandbox.url, body(n))
        for now in (TUESDAY, due[len(due) // 2], due[-1] - timedelta(seconds=1), due[-1]):
            sandbox.set_clock(now)
            stats = sandbox.wait_for_events(timeout=20)
            dates = [parsedate_to_datetime(HeaderParser().parsestr(p["headers"])["Date"]) for p in handler.posts]
            assert stats["replies_posted"] == len(handler.posts) == sum(at <= now for at in due)
            assert all(date <= now for date in dates)  # stamped with the business clock, never ahead of it
    assert stats["replies_posted"] == len(due) and stats["replies_waiting"] == 0


def first_replying(seed: int) -> int:
    """A message whose candidate replies in the default world."""
    return next(n for n in range(10_000) if expected(seed, n))


def test_a_503_is_retried_with_backoff_and_the_reply_delivered_once(receiver):
    url, handler = receiver
    n = first_replying(9)
    handler.answers = [503, 503]
    stats, _ = run(url, 9, [body(n)], TUESDAY + timedelta(days=40))
    statuses = [p["_status"] for p in handler.posts]
    assert statuses[:3] == [503, 503, 200] and statuses.count(200) == len(expected(9, n))
    assert stats["replies_posted"] == len(expected(9, n)) and stats["replies_dropped"] == 0
    assert len({HeaderParser().parsestr(p["headers"])["Message-ID"] for p in handler.posts}) == len(expected(9, n))


def free_port() -> int:
    with socket.socket() as probe:  # a free port with nobody listening yet
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802  (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_receiver_that_is_down_gets_the_reply_once_it_is_up():
    port = free_port()
    n = first_replying(9)
    config = SandboxConfig(event_interval_s=0.02, seed=9, behaviour=True, inbound_url=f"http://127.0.0.1:{port}/in")
    with Sandbox(config) as sandbox:
        sandbox.set_clock(TUESDAY)
        send(sandbox.url, body(n))
        sandbox.set_clock(TUESDAY + timedelta(days=40))
        time.sleep(0.3)
        assert sandbox.stats()["replies_waiting"] == len(expected(9, n))  # refused connections: kept
        server = ThreadingHTTPServer(("127.0.0.1", port), _Ok)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            stats = sandbox.wait_for_events(timeout=90)  # the backoff has grown meanwhile: at most a minute
        finally:
            server.shutdown()
            server.server_close()
    assert stats["replies_posted"] == len(expected(9, n)) and stats["replies_dropped"] == 0


def test_a_reply_failing_for_longer_than_the_retry_window_is_dropped():
    # SendGrid gives up after 3 days of failures; here after a tenth of a second.
    due = iter([[[("text", "Thanks!")]]])
    poster = ReplyPoster(f"http://127.0.0.1:{free_port()}/in", 0.02, source=lambda: next(due, []), give_up_after_s=0.1)
    deadline = time.monotonic() + 10
    while poster.dropped < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    poster.stop()
    assert (poster.dropped, poster.posted, poster.waiting) == (1, 0, 0) and poster.failures >= 2


@pytest.mark.parametrize("status", [403, 404])
def test_a_refusal_is_dropped_not_retried(receiver, status):
    url, handler = receiver
    n = first_replying(9)
    handler.answers = [status] * 10
    stats, _ = run(url, 9, [body(n)], TUESDAY + timedelta(days=40))
    assert [p["_status"] for p in handler.posts] == [status] * len(expected(9, n))
    assert stats["replies_dropped"] == len(expected(9, n)) and stats["replies_posted"] == 0
    assert stats["replies_waiting"] == 0


def test_the_post_is_inbound_parse_shaped_and_threads_onto_the_original(receiver):
    url, handler = receiver
    n = first_replying(9)
    bare = next(m for m in range(n + 1, 10_000) if expected(9, m))
    run(url, 9, [body(n), body(bare, message_id=False)], TUESDAY + timedelta(days=40))
    posts = handler.posts
    assert all(p["_path"] == "/webhooks/sendgrid/inbound/token-0123" for p in posts)  # the token's path, kept
    email = body(n)["personalizations"][0]["to"][0]["email"]
    for post in (p for p in posts if f"<{email}>" in p["from"]):
        headers = HeaderParser().parsestr(post["headers"])
        assert post["from"] == f"Ana Lima <{email}>" and post["to"] == f"reply+{n}@in.acme.example"
        assert headers["In-Reply-To"] == headers["References"] == f"<k{n}@acme.example>"
        assert headers["Message-ID"].endswith(f"@{email.split('@')[1]}>")
        assert json.loads(post["envelope"]) == {"to": [post["to"]], "from": email}
        assert set(json.loads(post["charsets"])) >= {"to", "from", "subject"}
        assert (post["SPF"], post["attachments"], post["cc"]) == ("pass", "0", "")
        assert {"dkim", "spam_score", "sender_ip", "subject"} <= set(post)
        assert "text" in post or "html" in post
    for post in posts:  # an original without a Message-ID has nothing to thread onto
        if f"cand{bare}@" in post["from"]:
            assert "In-Reply-To" not in HeaderParser().parsestr(post["headers"])


def test_the_features_hook_tells_the_zone_and_a_function_cannot_cross_to_a_child_process(receiver):
    url, handler = receiver
    n = first_replying(9)
    asked = []

    def features(message_key: str, message: dict) -> dict:
        asked.append((message_key, message["custom_args"]["kind"]))
        return {"time_zone": "America/Sao_Paulo", "decided_at": TUESDAY - timedelta(days=7)}

    run(url, 9, [body(n)], TUESDAY + timedelta(days=40), features=features)
    assert asked == [(f"k{n}", body(n)["custom_args"]["kind"])]
    dates = [HeaderParser().parsestr(p["headers"])["Date"] for p in handler.posts]
    assert dates and all(date.endswith("-0300") for date in dates)
    with pytest.raises(ValueError):
        Sandbox(SandboxConfig(), process=True, features=features)


def generated(count: int, seed: int = 1) -> list[tuple[replies.Reply, dict]]:
    """`count` replies and their Inbound Parse fields, written by the sandbox's own functions."""
    found, n = [], 0
    while len(found) < count:
        message = body(n)
        email = message["personalizations"][0]["to"][0]["email"]
        features = replies.features_from(message["custom_args"], TUESDAY)
        for index, reply in enumerate(replies.replies(seed, f"k{n}", email, TUESDAY, features, TALKATIVE)):
            found.append((reply, dict(form(seed, f"k{n}", email, index, reply, message, TUESDAY, features.zone))))
        n += 1
    return found[:count]


def test_every_language_and_intent_occurs_with_its_own_quote_header_and_auto_reply_marks():
    written = generated(600)
    assert {reply.language for reply, _ in written} == set(replies.LANGUAGES)
    assert {reply.intent for reply, _ in written} == set(replies.INTENTS)
    for reply, fields in written:
        body_text = fields.get("text") or fields["html"]
        if reply.intent in (replies.OUT_OF_OFFICE, replies.AUTO_REPLY):
            continue
        assert fields["subject"] == "Re: Your offer from Acme"
        assert QUOTE_HEADERS[reply.language].split("{name}")[1] in body_text  # " wrote:", " schrieb", ...
        assert "We are happy to offer you the role." in body_text
    away = [(reply, fields) for reply, fields in written if reply.intent == replies.OUT_OF_OFFICE]
    prefixes = tuple(AUTO_PREFIXES.values())
    marked = [f for _, f in away if "auto-replied" in f["headers"] or f["subject"].startswith(prefixes)]
    dated = [r for r, f in away if str(r.returns_on.day) in f["text"]]
    assert len(marked) > 0.8 * len(away) and len(dated) > 0.7 * len(away)
    shapes = Counter(("text" in f, "html" in f) for _, f in written)
    assert shapes[(False, True)] and shapes[(True, True)] and shapes[(True, False)]  # some HTML-only


def test_reply_probability_effects_go_the_documented_direction():
    tuesday = Features(weekday=1, local_hour=14)
    p = reply_probability
    assert p(Features(step=1, weekday=1, local_hour=14)) < p(tuesday)
    assert p(Features(step=3, weekday=1, local_hour=14)) < p(Features(step=2, weekday=1, local_hour=14))
    assert p(Features(weekday=5, local_hour=14)) < p(Features(weekday=4, local_hour=14)) < p(tuesday)
    assert p(Features(weekday=1, local_hour=9)) > p(tuesday) > p(Features(weekday=1, local_hour=3))
    assert p(Features(weekday=1, local_hour=14, delay_days=5)) < p(Features(weekday=1, local_hour=14, delay_days=0))
    assert p(Features(weekday=1, local_hour=14, delay_days=0)) == p(tuesday)  # unknown delay is neutral
    assert p(Features(variant="b", weekday=1, local_hour=14)) > p(Features(variant="a", weekday=1, local_hour=14))
    # The null pair: an A/A test of "a" against "c" must find no difference.
    assert p(Features(variant="c", weekday=1, local_hour=14)) == p(Features(variant="a", weekday=1, local_hour=14))
    assert p(Features(channel="in_person", weekday=1, local_hour=14)) > p(tuesday)
    assert p(Features(channel="voicemail")) == 0.0
    # The world acts the function out: people reply at the rate it states.
    features = Features(kind="offer", weekday=1, local_hour=9)
    worlds = [replies.replies(3, f"k{n}", f"p{n}@example.com", TUESDAY, features) for n in range(20_000)]
    people = sum(any(r.intent not in (replies.OUT_OF_OFFICE, replies.AUTO_REPLY) for r in w) for w in worlds)
    assert abs(people / len(worlds) - p(features) * (1 - replies.DEFAULT.auto_reply)) < 0.01
    # Offers: acceptors answer sooner than decliners (median 2 against 6 business days).
    delays = {intent: sorted((r.at - TUESDAY).total_seconds() for w in worlds for r in w if r.intent == intent)
              for intent in (replies.ACCEPTED, replies.DECLINED)}  # fmt: skip
    assert delays[replies.ACCEPTED][len(delays[replies.ACCEPTED]) // 2] < delays[replies.DECLINED][
        len(delays[replies.DECLINED]) // 2]


def test_voicemail_and_meeting_outcomes_are_seeded_at_their_documented_rates():
    features = Features(kind="keep_in_touch", weekday=1)
    calls = [offline.voicemail_outcome(4, f"k{n}", TUESDAY, features) for n in range(20_000)]
    called = sum(outcome == offline.CALLED_BACK for outcome, _ in calls) / len(calls)
    assert abs(called - offline.call_back_probability(features)) < 0.01
    assert all(at > TUESDAY for outcome, at in calls if outcome == offline.CALLED_BACK)
    warm = offline.call_back_probability(Features(kind="offer", weekday=1))
    assert warm > offline.call_back_probability(features) > offline.call_back_probability(Features(weekday=4))
    meetings = [offline.meeting_outcome(4, f"k{n}", TUESDAY) for n in range(20_000)]
    assert abs(sum(o == offline.ATTENDED for o, _ in meetings) / len(meetings) - offline.DEFAULT.attend) < 0.01
    assert offline.meeting_outcome(4, "k1", TUESDAY) == meetings[1] != offline.meeting_outcome(5, "k1", TUESDAY)


def test_the_projects_reply_reader_recovers_the_intended_intent():
    from followup.tracking.intent import read_reply

    wrong = []
    written = generated(300)
    for reply, fields in written:
        reading = read_reply(text=fields.get("text"), html=fields.get("html"), subject=fields["subject"],
                             headers=fields["headers"], sender=fields["from"], received_at=reply.at)  # fmt: skip
        if reading.outcome != reply.intent:
            wrong.append((reply.intent, reply.language, reading.outcome, reading.new_text))
    assert len(wrong) <= 0.10 * len(written), wrong
