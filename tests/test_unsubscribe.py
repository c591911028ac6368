"""The unsubscribe link of keep-in-touch mail, answered by `followup serve`: GET asks, POST records,
and the next send stage suppresses every message to that address."""

from __future__ import annotations

import base64
import http.client
import logging
import pickle
import signal
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from typer.testing import CliRunner

from followup.cli import app
from followup.config import Settings
from followup.models import Batch, Candidate, Decision, Message, Suppression
from followup.rendering import Renderer, candidate_context, unsubscribe_token
from followup.cadence import message_key
from followup.secret_key import signing_secret
from followup.stages.rendering import RenderSetup
from followup.store import open_ledger, owners, sending
from followup.web import serving
from followup.web.unsubscribe import MAX_BODY_BYTES

BUSINESS_NOW = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
# Mixed case on purpose: the address is recorded as the candidate typed it, and still matched.
EMAIL = "Tom.Novak@Example.co.uk"
ONE_CLICK = b"List-Unsubscribe=One-Click"
SECRET = SecretStr("unsubscribe-tests-secret-0123456789")
# A ledger several machines may share; never connected to: commands refuse before they open it.
SHARED_LEDGER = "postgresql://postgres@127.0.0.1:5432/test"

# No proxy: an *_proxy variable in the environment would otherwise route 127.0.0.1 through it.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, dict, str]:
    """(status, headers, text) of one request, errors included."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with _OPENER.open(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read().decode("utf-8")
    except urllib.error.HTTPError as answer:
        with answer:
            return answer.code, dict(answer.headers), answer.read().decode("utf-8")


def seed_keep_in_touch(engine, unsubscribe_base_url: str) -> tuple[str, str]:
    """A candidate, their decision and a rendered keep-in-touch email, as the render stage stores
    it; returns (message key, the unsubscribe URL from its List-Unsubscribe header)."""
    candidate = {"candidate_id": "c-2002", "email": EMAIL, "first_name": "Tom", "last_name": "Novak",
                 "channel": "email", "first_batch_id": "b1", "last_batch_id": "b1"}  # fmt: skip
    decision = {"candidate_id": "c-2002", "batch_id": "b1", "source_line": 2, "role": "Product Designer",
                "decision": "reject", "company": "Northwind Analytics", "recruiter_name": "Mara Vogel",
                "recruiter_email": "mara.vogel@northwind.example"}  # fmt: skip
    key = message_key("spring", "c-2002", "keep_in_touch", 0, "email")
    renderer = Renderer(None, company_defaults={"phone": "+44 20 7946 0000"}, unsubscribe_base_url=unsubscribe_base_url,
                        unsubscribe_secret=SECRET)  # fmt: skip
    mail = renderer.render(
        "keep_in_touch", "email", candidate_context(candidate, decision, now=BUSINESS_NOW, message_key=key)
    )
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch).values(id="b1", source_name="round.csv", file_sha256="0" * 64, status="imported"))
        conn.execute(sa.insert(Candidate).values(**candidate))
        decision_id = conn.execute(sa.insert(Decision).values(**decision).returning(Decision.id)).scalar_one()
        conn.execute(sa.insert(Message).values(
            message_key=key, campaign="spring", candidate_id="c-2002", decision_id=decision_id,
            kind="keep_in_touch", step=0, channel="email", status="rendered", subject=mail.subject,
            text_body=mail.text, html_body=mail.html, headers=mail.headers,
            scheduled_for=BUSINESS_NOW - timedelta(hours=1),
        ))  # fmt: skip
    return key, mail.headers["List-Unsubscribe"].strip("<>")


def suppressions(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.select(Suppression.__table__))]


def message_row(engine, key: str) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Message.__table__).where(Message.message_key == key)).one()._mapping)


def test_the_link_in_the_mail_asks_on_get_and_unsubscribes_on_one_click_post(ledger_url, caplog):
    caplog.set_level(logging.INFO, logger="followup")
    engine = open_ledger(ledger_url)
    with serving(engine, SECRET) as url:
        key, link = seed_keep_in_touch(engine, url + "/unsubscribe")

        status, headers, page = fetch(link)  # what a mail scanner or a person opening the link does
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert '<form method="post">' in page and "T***@E***" in page
        assert EMAIL not in page and EMAIL.lower() not in page
        assert suppressions(engine) == []

        status, _, page = fetch(link, "POST", ONE_CLICK)  # a mail client's RFC 8058 one-click
        assert status == 200 and "You are unsubscribed" in page
        recorded = suppressions(engine)
        assert [(r["email"], r["reason"], r["source"]) for r in recorded] == [(EMAIL, "unsubscribe", f"one-click:{key}")]

        status, _, page = fetch(link, "POST", ONE_CLICK)  # again: harmless, nothing added
        assert status == 200 and "You are unsubscribed" in page
        assert suppressions(engine) == recorded

    # The next send stage: the due keep-in-touch email becomes `suppressed`, so it is never claimed.
    assert sending.suppress_due(engine, BUSINESS_NOW) == 1
    row = message_row(engine, key)
    assert (row["status"], row["last_error"]) == ("suppressed", "suppressed: unsubscribe")
    assert sending.claim(engine, owners.Owner.current(), 10, business_now=BUSINESS_NOW,
                         real_now=datetime.now(timezone.utc)) == []  # fmt: skip
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "unsubscribed T***@E***" in logged and EMAIL not in logged and EMAIL.lower() not in logged


def test_the_pages_button_unsubscribes_too_and_an_earlier_sendgrid_suppression_counts(ledger_url):
    engine = open_ledger(ledger_url)
    with serving(engine, SECRET) as url:
        key, link = seed_keep_in_touch(engine, url + "/unsubscribe")
        status, _, _ = fetch(link, "POST", b"")  # the page's form has no fields
        assert status == 200
        assert [(r["email"], r["source"]) for r in suppressions(engine)] == [(EMAIL, f"page:{key}")]

        with engine.begin() as conn:
            conn.execute(sa.delete(Suppression))
            conn.execute(sa.insert(Suppression).values(email=EMAIL.lower(), reason="spamreport"))
        assert fetch(link, "POST", ONE_CLICK)[0] == 200
        assert [(r["email"], r["reason"]) for r in suppressions(engine)] == [(EMAIL.lower(), "spamreport")]


def test_a_mangled_or_unknown_link_is_a_plain_404_and_records_nothing(ledger_url):
    engine = open_ledger(ledger_url)
    with serving(engine, SECRET) as url:
        key, link = seed_keep_in_touch(engine, url + "/unsubscribe")
        token = link.rsplit("/", 1)[1]
        for bad in (
            token[: len(token) // 2],  # cut short by a mail client's line wrap
            token + "%3E",  # the closing > of the header pasted along
            "_w",  # decodes, but not to UTF-8
            "!!!",
            unsubscribe_token("0" * 64, SECRET),  # well-formed, for a message that does not exist
        ):
            for method, body in (("GET", None), ("POST", ONE_CLICK)):
                status, headers, page = fetch(f"{url}/unsubscribe/{bad}", method, body)
                assert status == 404, (bad, method)
                assert headers["Content-Type"] == "text/html; charset=utf-8" and "not valid" in page
                assert "Traceback" not in page
        assert suppressions(engine) == []
        assert message_row(engine, key)["status"] == "rendered"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def test_a_forged_link_is_answered_like_an_unknown_one_and_records_nothing(ledger_url):
    """Knowing a campaign and a candidate id gives the message key; without the secret that is
    not enough to unsubscribe anyone."""
    engine = open_ledger(ledger_url)
    with serving(engine, SECRET) as url:
        key, link = seed_keep_in_touch(engine, url + "/unsubscribe")
        assert key == message_key("spring", "c-2002", "keep_in_touch", 0, "email")
        methods = (("GET", None), ("POST", ONE_CLICK))
        unknown = {method: fetch(f"{url}/unsubscribe/{unsubscribe_token('0' * 64, SECRET)}", method, body)
                   for method, body in methods}  # fmt: skip
        assert unknown["GET"][0] == unknown["POST"][0] == 404
        raw, token = key.encode("utf-8"), link.rsplit("/", 1)[1]
        signed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        for forged in (
            b64(raw),  # the key alone, as links were before they were signed
            unsubscribe_token(key, SecretStr("a secret of someone else's")),
            b64(raw + bytes(16)),  # a signature of zeros
            b64(signed[:-1] + bytes([signed[-1] ^ 1])),  # the real one, one bit off
        ):
            for method, body in methods:
                status, headers, page = fetch(f"{url}/unsubscribe/{forged}", method, body)
                expected_status, expected_headers, expected_page = unknown[method]
                assert (status, headers["Content-Type"], page) == (
                    expected_status, expected_headers["Content-Type"], expected_page), (forged, method)  # fmt: skip
        assert suppressions(engine) == []
        assert message_row(engine, key)["status"] == "rendered"


def test_a_signed_link_to_a_message_that_carried_none_is_refused(ledger_url):
    """Only keep-in-touch mail carries an unsubscribe link: a token for an offer is no link of ours."""
    engine = open_ledger(ledger_url)
    with serving(engine, SECRET) as url:
        seed_keep_in_touch(engine, url + "/unsubscribe")
        offer = message_key("spring", "c-2002", "offer", 0, "email")
        with engine.begin() as conn:
            decision_id = conn.execute(sa.select(Decision.id)).scalar_one()
            conn.execute(sa.insert(Message).values(
                message_key=offer, campaign="spring", candidate_id="c-2002", decision_id=decision_id, kind="offer",
                step=0, channel="email", status="sent", subject="Your offer", text_body="Welcome aboard",
                scheduled_for=BUSINESS_NOW,
            ))  # fmt: skip
        for method, body in (("GET", None), ("POST", ONE_CLICK)):
            status, _, page = fetch(f"{url}/unsubscribe/{unsubscribe_token(offer, SECRET)}", method, body)
            assert status == 404 and "not valid" in page, method
        assert suppressions(engine) == []


def test_the_access_log_shows_only_the_start_of_a_token(ledger_url, caplog):
    caplog.set_level(logging.DEBUG, logger="followup")
    engine = open_ledger(ledger_url)
    with serving(engine, SECRET) as url:
        _, link = seed_keep_in_touch(engine, url + "/unsubscribe")
        token = link.rsplit("/", 1)[1]
        assert fetch(link)[0] == 200 and fetch(link, "POST", ONE_CLICK)[0] == 200
        assert fetch(link + "/", "PUT", b"")[0] == 405
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f'"GET /unsubscribe/{token[:8]}… HTTP/1.1" 200' in logged
    assert f'"POST /unsubscribe/{token[:8]}… HTTP/1.1" 200' in logged
    assert f'"PUT /unsubscribe/{token[:8]}… HTTP/1.1" 405' in logged
    assert token not in logged and token[:9] not in logged


def test_a_sqlite_ledger_keeps_its_secret_owner_only_and_signs_with_the_same_one_each_run(tmp_path, monkeypatch):
    monkeypatch.delenv("FOLLOWUP_SECRET_KEY", raising=False)
    monkeypatch.delenv("FOLLOWUP_DATABASE_URL", raising=False)
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path / "data"))
    first = signing_secret(Settings())
    key_file = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.get_secret_value() == key_file.read_text(encoding="ascii").strip()
    assert len(first.get_secret_value()) >= 32
    assert signing_secret(Settings()) == first  # the next run reads the same file
    assert [p.name for p in key_file.parent.iterdir()] == ["secret_key"]  # no temporary left behind

    setup = RenderSetup.of(Settings(unsubscribe_url="https://jobs.example.com/unsubscribe"))
    assert setup.unsubscribe_secret == first
    assert first.get_secret_value() not in repr(setup)
    copy = pickle.loads(pickle.dumps(setup))  # as a spawned render worker gets it
    assert copy == setup and hash(copy) == hash(setup)

    # A configured secret wins, and a shared ledger never makes one of its own.
    configured = SecretStr("configured-secret-0123456789abcdef")
    monkeypatch.setenv("FOLLOWUP_SECRET_KEY", configured.get_secret_value())
    assert signing_secret(Settings()) == configured
    monkeypatch.delenv("FOLLOWUP_SECRET_KEY")
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path / "shared"))
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", SHARED_LEDGER)
    assert signing_secret(Settings()) is None and not (tmp_path / "shared").exists()


def test_processes_on_one_sqlite_ledger_with_their_own_data_dirs_sign_with_one_key(tmp_path, monkeypatch):
    """A sender and `followup serve` may keep their files apart and share a ledger file: a key kept
    in each data dir would sign links the other refuses."""
    monkeypatch.delenv("FOLLOWUP_SECRET_KEY", raising=False)
    ledger = f"sqlite:///{tmp_path / 'ledger' / 'followup.db'}"
    sender = signing_secret(Settings(data_dir=tmp_path / "sender", database_url=ledger))
    server = signing_secret(Settings(data_dir=tmp_path / "server", database_url=ledger))
    assert sender == server
    assert (tmp_path / "ledger" / "secret_key").is_file() and not (tmp_path / "sender").exists()


def test_without_a_secret_key_a_shared_ledger_makes_serve_run_and_sweep_refuse(tmp_path, monkeypatch):
    import flows.campaign
    import flows.followup_sweep
    import followup.store

    def went_on(*args, **kwargs):
        raise AssertionError("refused too late: the command went on to the ledger or the flow")

    monkeypatch.setattr(followup.store, "open_ledger", went_on)
    monkeypatch.setattr(flows.campaign, "run_campaign", went_on)
    monkeypatch.setattr(flows.followup_sweep, "sweep", went_on)
    batch = tmp_path / "round.csv"
    batch.write_text("candidate_id,email,first_name,last_name,role,decision\nC-1,a@example.com,A,B,Analyst,offer\n",
                     encoding="utf-8")  # fmt: skip
    # Everything else a sending command needs is set: the missing secret is the one reason.
    env = {"FOLLOWUP_DATA_DIR": str(tmp_path / "data"), "FOLLOWUP_DATABASE_URL": SHARED_LEDGER,
           "FOLLOWUP_SECRET_KEY": None, "FOLLOWUP_TRANSPORT": "memory",
           "FOLLOWUP_FROM_EMAIL": "jobs@example.com"}  # fmt: skip
    for args in (["serve", "--port", "0"], ["run", str(batch)], ["sweep"]):
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 2, (args, result.output, result.exception)
        assert "FOLLOWUP_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr, args
    assert not (tmp_path / "data").exists()  # nothing half-done, no key of this machine's own


def test_the_server_answers_nothing_else(ledger_url):
    engine = open_ledger(ledger_url)
    with serving(engine, SECRET) as url:
        _, link = seed_keep_in_touch(engine, url + "/unsubscribe")
        assert fetch(url + "/health")[::2] == (200, "ok\n")
        assert fetch(url + "/")[0] == 404
        assert fetch(url + "/unsubscribe")[0] == 404
        assert fetch(url + "/admin/unsubscribe/x")[0] == 404
        status, headers, _ = fetch(link, "PUT", ONE_CLICK)
        assert (status, headers["Allow"]) == (405, "GET, HEAD, POST")
        assert fetch(link, "DELETE")[0] == 405
        assert fetch(url + "/health", "POST", b"")[0] == 405
        assert fetch(link, "POST", ONE_CLICK + b"&" + b"x" * 10_000)[0] == 413
        assert suppressions(engine) == []


def test_every_answer_carries_the_same_headers_and_names_no_server_software(ledger_url):
    engine = open_ledger(ledger_url)
    with serving(engine, SECRET) as url:
        _, link = seed_keep_in_touch(engine, url + "/unsubscribe")
        for target, method, body, expected in (
            (link, "GET", None, 200), (link, "HEAD", None, 200), (link, "POST", ONE_CLICK, 200),
            (url + "/health", "GET", None, 200), (url + "/health", "PUT", b"", 405),
            (url + "/unsubscribe/!!!", "GET", None, 404), (url + "/nowhere", "GET", None, 404),
            (link, "POST", b"x" * (MAX_BODY_BYTES + 1), 413),
        ):  # fmt: skip
            status, headers, _ = fetch(target, method, body)
            headers = {name.lower(): value for name, value in headers.items()}
            assert status == expected, (target, method)
            assert headers["cache-control"] == "no-store" and headers["referrer-policy"] == "no-referrer"
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["content-security-policy"] == (
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
            )
            assert headers["x-frame-options"] == "DENY"  # no other site frames the button
            assert headers["server"] == "followup"
        assert fetch(url + "/health", "PUT", b"")[1]["Allow"] == "GET, HEAD"


def test_a_chunked_one_click_body_is_read_and_limited_as_it_arrives(ledger_url):
    engine = open_ledger(ledger_url)
    with serving(engine, SECRET) as url:
        key, link = seed_keep_in_touch(engine, url + "/unsubscribe")
        parts = urlsplit(link)
        for chunks, expected in (([b"x" * 1000] * 5, 413), ([ONE_CLICK[:10], ONE_CLICK[10:]], 200)):
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            conn.request("POST", parts.path, body=iter(chunks), encode_chunked=True,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
            assert conn.getresponse().status == expected
            conn.close()
        assert [r["source"] for r in suppressions(engine)] == [f"one-click:{key}"]


def test_serve_help_says_which_url_must_reach_it():
    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for needed in ("unsubscribe", "keep-in-touch", "FOLLOWUP_UNSUBSCRIBE_URL", "https://jobs.example.com/unsubscribe",
                   "FOLLOWUP_DATABASE_URL", "FOLLOWUP_SECRET_KEY", "--host", "--port"):  # fmt: skip
        assert needed in result.stdout, needed


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals to a child process")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_followup_serve_runs_until_ctrl_c_or_sigterm_and_stops_without_a_traceback(tmp_path, stop, child_env):
    env = child_env(FOLLOWUP_DATA_DIR=str(tmp_path / "data"),
                    FOLLOWUP_UNSUBSCRIBE_URL="https://jobs.example.com/unsubscribe")  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-m", "followup.cli", "serve", "--port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        ready = child.stdout.readline()
        assert ready.startswith("Answering unsubscribe links at http://127.0.0.1:"), ready + child.stderr.read()
        base = ready.split(" at ", 1)[1].split("/unsubscribe/", 1)[0]
        assert fetch(base + "/health")[::2] == (200, "ok\n")
        child.send_signal(stop)
        _, stderr = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, stderr
    assert "Traceback" not in stderr and "Stopped." in stderr
    assert "https://jobs.example.com/unsubscribe/<token>" in stderr
