"""Every transport runs through one table of cases; then what only SendGrid and SMTP can get wrong."""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import ipaddress
import json
import logging
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, replace
from email import message_from_bytes, policy
from pathlib import Path
from typing import Callable

import pytest
from python_http_client.exceptions import BadRequestsError
from sendgrid import SendGridAPIClient

from followup.sandbox import Sandbox, SandboxConfig
from followup.sandbox.app import SandboxApp
from followup.sandbox.http import HttpProtocol
from followup.transports import Envelope, make_transport
from followup.transports.file import FileTransport, eml_path
from followup.transports.memory import MemoryTransport
from followup.transports.sendgrid import SendGridTransport, build_request_body
from followup.transports.smtp import SMTPTransport

KEY = "SG.test-key-never-logged"
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Offer call\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
ARGS = {
    "message_key": "spring:c-042:offer:0:email",
    "campaign": "spring",
    "candidate_id": "c-042",
    "kind": "offer",
    "step": "0",
    "channel": "email",
    "variant": "a",
}
BASE = Envelope(
    message_key=ARGS["message_key"],
    to_email="maria.lopez@example.com",
    to_name="María López",
    from_email="jobs@acme.example",
    from_name="Acme Recruiting",
    reply_to="recruiter@acme.example",
    subject="Your offer from Acme",
    text="Dear María,\nwe are glad to offer you the role.",
    html="<p>Dear María,</p><p>we are glad to offer you the role.</p>",
    custom_args=ARGS,
    categories=("offer",),
)


# --- what each transport delivered, read back the way a recipient (or SendGrid) would see it ---


@dataclass
class Delivered:
    to: str
    subject: str
    text: str
    html: str | None
    attachments: list[tuple[str, str, bytes]]
    headers: dict[str, str]
    custom_args: dict
    categories: list[str]


def from_mime(raw: bytes) -> Delivered:
    # SMTP carries CRLF line ends; a mailbox stores them as plain newlines, as the file transport writes.
    message = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
    html = message.get_body(("html",))
    smtpapi = json.loads(str(message["X-SMTPAPI"]))
    return Delivered(
        to=message["To"].addresses[0].addr_spec,
        subject=str(message["Subject"]),
        text=message.get_body(("plain",)).get_content().rstrip("\n"),
        html=html.get_content().rstrip("\n") if html else None,
        attachments=[
            (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in message.iter_attachments()
        ],
        headers={name: str(value) for name, value in message.items()},
        custom_args=smtpapi["unique_args"],
        categories=smtpapi["category"],
    )


def from_sendgrid_body(body: dict) -> Delivered:
    contents = {c["type"]: c["value"] for c in body["content"]}
    return Delivered(
        to=body["personalizations"][0]["to"][0]["email"],
        subject=body["subject"],
        text=contents["text/plain"],
        html=contents.get("text/html"),
        attachments=[(a["filename"], a["type"], base64.b64decode(a["content"])) for a in body.get("attachments", [])],
        headers=body.get("headers", {}),
        custom_args=body["custom_args"],
        categories=body.get("categories", []),
    )


def from_envelope(envelope: Envelope) -> Delivered:
    return Delivered(
        to=envelope.to_email,
        subject=envelope.subject,
        text=envelope.text,
        html=envelope.html,
        attachments=list(envelope.attachments),
        headers=dict(envelope.headers),
        custom_args=dict(envelope.custom_args),
        categories=list(envelope.categories),
    )


# --- a tiny SMTP server: STARTTLS and AUTH PLAIN when configured, scripted RCPT replies ---


class TinySMTPServer:
    def __init__(
        self,
        tls: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
        rcpt_reply: str = "250 OK",
        drop: str | None = None,  # "at DATA", "after the content" (hangs up), "silent after the content"
    ):
        self.tls, self.credentials, self.rcpt_reply, self.drop = tls, credentials, rcpt_reply, drop
        self.messages: list[bytes] = []
        self.sessions: list[dict] = []  # per connection: {"tls": bool, "user": str | None}
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(connection,), daemon=True).start()

    def _session(self, connection: socket.socket) -> None:
        session = {"tls": False, "user": None}
        self.sessions.append(session)
        stream = connection.makefile("rb")

        def say(line: str) -> None:
            connection.sendall(line.encode() + b"\r\n")

        say("220 tiny ESMTP")
        while line := stream.readline():
            verb, _, argument = line.decode().rstrip("\r\n").partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                offers = ["tiny"] + (["STARTTLS"] if self.tls and not session["tls"] else [])
                offers += ["AUTH PLAIN"] if self.credentials else []
                for offer in offers:
                    say(f"250-{offer}")
                say("250 8BITMIME")
            elif verb == "STARTTLS":
                say("220 go ahead")
                connection = self.tls.wrap_socket(connection, server_side=True)
                stream, session["tls"] = connection.makefile("rb"), True
            elif verb == "AUTH":
                _, _, encoded = argument.partition(" ")
                _, user, password = base64.b64decode(encoded).decode().split("\0")
                if (user, password) == self.credentials:
                    session["user"] = user
                    say("235 authenticated")
                else:
                    say("535 5.7.8 bad credentials")
            elif verb in ("MAIL", "RSET", "NOOP"):
                say("250 OK")
            elif verb == "RCPT":
                say(self.rcpt_reply)
            elif verb == "DATA":
                if self.drop == "at DATA":
                    break
                say("354 end with .")
                lines = []
                while (data_line := stream.readline()) != b".\r\n":
                    lines.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                self.messages.append(b"".join(lines))
                if self.drop == "after the content":
                    break
                if self.drop is None:  # silent: the next line read is the client hanging up
                    say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                break
            else:
                say("502 not implemented")
        connection.close()


@dataclass
class TLS:
    server: ssl.SSLContext
    client: ssl.SSLContext  # trusts only the certificate below
    certificate_file: Path


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> TLS:
    """A self-signed certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    certificate_file, key_file = folder / "cert.pem", folder / "key.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certificate_file, key_file)
    client = ssl.create_default_context(cafile=certificate_file)
    return TLS(server, client, certificate_file)


# --- one table of cases, run against every transport ---


@dataclass
class Harness:
    transport: object
    delivered: Callable[[], list[Delivered]]


@pytest.fixture(params=["memory", "file", "smtp", "sendgrid-pooled", "sendgrid-official"])
def harness(request, tmp_path, tls):
    kind = request.param
    if kind == "memory":
        transport = MemoryTransport()
        yield Harness(transport, lambda: [from_envelope(e) for e in transport.outbox])
    elif kind == "file":
        transport = FileTransport(tmp_path / "outbox")
        outbox = tmp_path / "outbox"
        yield Harness(transport, lambda: [from_mime(path.read_bytes()) for path in sorted(outbox.glob("*.eml"))])
    elif kind == "smtp":
        server = TinySMTPServer(tls=tls.server, credentials=("mailer", "s3cret"))
        transport = SMTPTransport("127.0.0.1", server.port, "mailer", "s3cret", timeout=5, ssl_context=tls.client)
        yield Harness(transport, lambda: [from_mime(raw) for raw in server.messages])
        server.close()
    else:
        with Sandbox(SandboxConfig(api_key=KEY, validate_share=1.0)) as sandbox:
            transport = SendGridTransport(KEY, host=sandbox.url, timeout=5, pooled=kind == "sendgrid-pooled")
            yield Harness(transport, lambda: [from_sendgrid_body(m["body"]) for m in sandbox.messages()])
    transport.close()


SENT_CASES = {
    "text and html": BASE,
    "an .ics attachment": replace(BASE, attachments=(("offer-call.ics", "text/calendar", ICS),)),
    "custom headers": replace(BASE, headers={"List-Unsubscribe": "<mailto:unsubscribe@acme.example?subject=c-042>"}),
    "custom_args, all strings": replace(BASE, categories=("offer", "spring")),
}


@pytest.mark.parametrize("case", SENT_CASES, ids=list(SENT_CASES))
def test_every_transport_delivers_the_envelope(harness, case):
    envelope = SENT_CASES[case]

    outcome = harness.transport.send(envelope)

    assert outcome.status == "sent", outcome.error
    assert outcome.provider_message_id
    [delivered] = harness.delivered()
    assert delivered.to == envelope.to_email
    assert delivered.subject == envelope.subject
    assert delivered.text == envelope.text
    assert delivered.html == envelope.html
    assert delivered.attachments == list(envelope.attachments)
    for name, value in envelope.headers.items():
        assert delivered.headers[name] == value
    assert delivered.custom_args == ARGS
    assert all(isinstance(value, str) for value in delivered.custom_args.values())
    assert delivered.categories == list(envelope.categories)


REFUSED_CASES = {
    "11 categories": (replace(BASE, categories=tuple(f"cat-{i}" for i in range(11))), "categories"),
    "10 KB of custom_args": (replace(BASE, custom_args={**ARGS, "padding": "x" * 10_000}), "custom_args"),
    "a numeric custom_arg": (replace(BASE, custom_args={**ARGS, "step": 0}), "custom_args"),
    "an override of To": (replace(BASE, headers={"To": "someone@else.example"}), "To"),
    # 23 MiB grows past 30 MiB in base64
    "over 30 MB": (replace(BASE, attachments=(("big.bin", "application/octet-stream", bytes(23 * 1024 * 1024)),)), "30 MB"),
}


@pytest.mark.parametrize("case", REFUSED_CASES, ids=list(REFUSED_CASES))
def test_every_transport_refuses_what_sendgrid_would_before_sending(harness, case):
    envelope, named = REFUSED_CASES[case]

    outcome = harness.transport.send(envelope)

    assert outcome.status == "failed"
    assert named in outcome.error
    assert harness.delivered() == []


# --- SendGrid, against the sandbox, on both paths ---


@pytest.fixture(params=[True, False], ids=["pooled", "official"])
def pooled(request) -> bool:
    return request.param


def sendgrid(sandbox: Sandbox, pooled: bool, timeout: float = 5) -> SendGridTransport:
    return SendGridTransport(sandbox.config.api_key, host=sandbox.url, timeout=timeout, pooled=pooled)


def test_a_202_is_sent_with_sendgrids_message_id(pooled):
    with Sandbox(SandboxConfig(api_key=KEY)) as sandbox:
        outcome = sendgrid(sandbox, pooled).send(BASE)

        assert outcome.status == "sent"
        assert outcome.provider_message_id == sandbox.messages()[0]["x_message_id"]


def test_both_paths_post_the_same_body_and_headers_the_official_helpers_built():
    with Sandbox(SandboxConfig(api_key=KEY)) as sandbox:
        for pooled in (True, False):
            assert sendgrid(sandbox, pooled).send(BASE).status == "sent"

        pooled_body, official_body = (m["body"] for m in sandbox.messages())
        assert pooled_body == official_body == build_request_body(BASE)


def test_the_pooled_path_reuses_one_connection_where_the_official_client_opens_one_per_message(pooled):
    with Sandbox(SandboxConfig(api_key=KEY)) as sandbox:
        transport = sendgrid(sandbox, pooled)
        for step in range(5):
            assert transport.send(replace(BASE, message_key=f"k{step}")).status == "sent"

        connections = sandbox.stats()["connections"] - 1  # stats() itself connects once
        assert connections == (1 if pooled else 5)


def test_a_key_that_cannot_go_in_a_header_fails_before_anything_is_sent(pooled):
    """A line break pasted into the key: the request is refused before a byte is written, so the
    message failed (it was not perhaps sent), and the sandbox saw nothing."""
    with Sandbox(SandboxConfig(api_key=KEY)) as sandbox:
        outcome = SendGridTransport(KEY + "\r\nX: y", host=sandbox.url, timeout=5, pooled=pooled).send(BASE)
        accepted = sandbox.stats()["accepted"]

    assert outcome.status == "failed" and "could not be built" in outcome.error
    assert accepted == 0


def test_a_wrong_key_fails_with_sendgrids_401_body(pooled):
    with Sandbox(SandboxConfig(api_key=KEY)) as sandbox:
        transport = SendGridTransport("SG.wrong", host=sandbox.url, timeout=5, pooled=pooled)

        outcome = transport.send(BASE)

    assert outcome.status == "failed"
    assert outcome.error.startswith("HTTP 401: ")
    assert json.loads(outcome.error.removeprefix("HTTP 401: "))["errors"][0]["message"]


def test_500_and_503_are_retried(pooled):
    with Sandbox(SandboxConfig(api_key=KEY, error_rate=1.0, seed=3)) as sandbox:
        transport = sendgrid(sandbox, pooled)
        outcomes = [transport.send(BASE) for _ in range(12)]

    assert {o.status for o in outcomes} == {"retry"}
    assert {o.error[:8] for o in outcomes} == {"HTTP 500", "HTTP 503"}


def test_429_is_retried_after_the_rate_limit_reset(pooled):
    with Sandbox(SandboxConfig(api_key=KEY, burst_429_every=1, burst_429_length=1)) as sandbox:
        outcome = sendgrid(sandbox, pooled).send(BASE)

    assert outcome.status == "retry"
    assert outcome.error.startswith("HTTP 429")
    assert 0 < outcome.retry_after <= 2.5


# How a connection can fail before any of the request goes out, and the words that say so.
NEVER_SENT = {
    "refused": (None, "refused"),  # a real one: nothing listens on the port
    "connect timeout": (lambda: TimeoutError("timed out"), "timed out"),
    "DNS": (lambda: socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "Name or service not known"),
}


@pytest.mark.parametrize("failure", NEVER_SENT, ids=list(NEVER_SENT))
def test_a_request_that_never_went_out_is_retried(pooled, failure, monkeypatch):
    make_error, words = NEVER_SENT[failure]
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]  # closed on leaving: nothing listens there any more
    if make_error is not None:

        def fail(*args, **kwargs):
            raise make_error()

        monkeypatch.setattr(socket, "create_connection", fail)
    transport = SendGridTransport(KEY, host=f"http://127.0.0.1:{port}", timeout=2, pooled=pooled)

    outcome = transport.send(BASE)

    assert outcome.status == "retry"
    assert words.lower() in outcome.error.lower()


def test_a_connection_that_breaks_while_the_request_is_written_is_retried(pooled):
    """The server reads the head, then resets the connection: it never had the whole request."""

    def reset_after_the_head(listener: socket.socket) -> None:
        connection, _ = listener.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(65536)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        connection.close()

    # Far more than the socket buffers hold, so the client is still writing when the reset comes.
    big = replace(BASE, attachments=(("portfolio.pdf", "application/pdf", bytes(8 * 1024 * 1024)),))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        threading.Thread(target=reset_after_the_head, args=(listener,), daemon=True).start()
        transport = SendGridTransport(KEY, host=f"http://127.0.0.1:{listener.getsockname()[1]}", pooled=pooled)
        outcome = transport.send(big)

    assert outcome.status == "retry"


def test_no_answer_within_the_timeout_leaves_the_message_unknown_not_retried(pooled):
    with Sandbox(SandboxConfig(api_key=KEY, latency_ms=1000)) as sandbox:
        outcome = sendgrid(sandbox, pooled, timeout=0.2).send(BASE)
        accepted = sandbox.message_keys()

    assert outcome.status == "unknown"
    assert "0.2s" in outcome.error
    assert [key for _, key in accepted] == [BASE.message_key]  # why it must not go out again


def test_a_request_the_server_read_and_then_hung_up_on_is_unknown_not_resent(pooled):
    """The server reads the whole request and closes without answering, as it does when it
    drops a keep-alive connection just as a request arrives: nothing tells whether it acted."""
    accepted = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nX-Message-Id: first\r\n\r\n"
    server = ScriptedHttpServer([(accepted, False), (b"", True)])
    transport = SendGridTransport(KEY, host=server.url, timeout=5, pooled=pooled)

    first = transport.send(BASE)
    second = transport.send(replace(BASE, message_key="spring:c-043:offer:0:email"))
    server.close()

    assert first.status == "sent"
    assert second.status == "unknown" and "may have accepted" in second.error
    # Once, on the kept-alive connection (the official client opens one per request).
    assert [number for number, _ in server.requests] == ([1, 1] if pooled else [1, 2])


def test_the_sandbox_validates_bodies_against_the_official_schema():
    with Sandbox(SandboxConfig(api_key=KEY, validate_share=1.0)) as sandbox:
        real = build_request_body(replace(BASE, attachments=(("offer-call.ics", "text/calendar", ICS),)))
        hand_made = {**real, "custom_args": {**ARGS, "step": 0}}
        client = SendGridAPIClient(api_key=KEY, host=sandbox.url)

        assert client.client.mail.send.post(request_body=real).status_code == 202
        with pytest.raises(BadRequestsError) as refused:
            client.client.mail.send.post(request_body=hand_made)

    assert refused.value.status_code == 400
    assert json.loads(refused.value.body)["errors"][0]["field"] == "custom_args.step"


def test_the_api_key_never_reaches_the_log_and_addresses_are_masked(caplog, pooled):
    caplog.set_level(logging.DEBUG)
    with Sandbox(SandboxConfig(api_key=KEY)) as sandbox:
        assert sendgrid(sandbox, pooled).send(BASE).status == "sent"
        refused = SendGridTransport("SG.wrong", host=sandbox.url, pooled=pooled).send(BASE)

    assert refused.status == "failed"
    assert KEY not in caplog.text and "SG.wrong" not in caplog.text
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert warnings and all(BASE.to_email not in message for message in warnings)
    assert any("m***@e***" in message for message in warnings)


@pytest.fixture
def https_sandbox(tls):
    """The sandbox's app behind TLS, as SendGrid's API is: (url, app)."""
    loop = asyncio.new_event_loop()
    app = SandboxApp(SandboxConfig(api_key=KEY))
    server = loop.run_until_complete(
        loop.create_server(lambda: HttpProtocol(app, set()), "127.0.0.1", 0, ssl=tls.server)
    )
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}", app
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    server.close()
    loop.close()


def test_https_verifies_the_certificate_and_keeps_connections_alive(https_sandbox, tls, monkeypatch, pooled):
    url, app = https_sandbox
    untrusted = SendGridTransport(KEY, host=url, timeout=5, pooled=pooled).send(BASE)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.certificate_file))  # read when a transport is made
    trusting = SendGridTransport(KEY, host=url, timeout=5, pooled=pooled)

    outcomes = [trusting.send(replace(BASE, message_key=f"k{step}")) for step in range(3)]

    assert untrusted.status == "retry" and "CERTIFICATE_VERIFY_FAILED" in untrusted.error
    assert [o.status for o in outcomes] == ["sent"] * 3
    assert app.connections == (1 if pooled else 3)  # a refused handshake never becomes a connection


def test_a_keep_alive_connection_the_server_closed_while_idle_is_replaced_not_failed():
    """Servers drop idle keep-alive connections; the next send must not pay for it with a retry."""
    answered = []
    hung_up = threading.Event()

    def answer_once_then_hang_up(listener: socket.socket) -> None:
        for _ in range(2):
            connection, _ = listener.accept()
            with connection:
                request = b""
                while b"\r\n\r\n" not in request or not request.endswith(b"}"):
                    request += connection.recv(65536)
                answer = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nX-Message-Id: id%d\r\n\r\n" % len(answered)
                connection.sendall(answer)
                answered.append(request)
            hung_up.set()

    with socket.create_server(("127.0.0.1", 0)) as listener:
        threading.Thread(target=answer_once_then_hang_up, args=(listener,), daemon=True).start()
        transport = SendGridTransport(KEY, host=f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=5)
        first = transport.send(BASE)
        assert hung_up.wait(60), "the server never closed the first connection"
        second = transport.send(BASE)

    assert (first.status, first.provider_message_id) == ("sent", "id0")
    assert (second.status, second.provider_message_id) == ("sent", "id1")


class ScriptedHttpServer:
    """Answers each request with the next of `answers` (raw bytes), closing the connection after
    an answer when told to; records (connection number, raw request) for each request."""

    def __init__(self, answers: list[tuple[bytes, bool]]) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[int, bytes]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        number = 0
        while self.answers:
            connection, _ = self.listener.accept()
            number += 1
            with connection:
                while self.answers:
                    request = self._read_request(connection)
                    if request is None:
                        break
                    self.requests.append((number, request))
                    answer, close = self.answers.pop(0)
                    connection.sendall(answer)
                    if close:
                        break

    @staticmethod
    def _read_request(connection: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
        length = int(head.split("content-length:", 1)[1].split("\r\n", 1)[0])
        while len(data) < len(head) + 4 + length:
            data += connection.recv(65536)
        return data

    def close(self) -> None:
        self.listener.close()


def pool_for(server: ScriptedHttpServer):
    from followup.transports.http_pool import KeepAlivePool

    return KeepAlivePool(server.url, timeout=5, maxsize=4)


def test_the_pool_sends_head_and_body_at_once_and_reads_headers_in_any_case():
    answer = b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nX-MESSAGE-ID: abc\r\n\r\n"
    server = ScriptedHttpServer([(answer, False)])
    status, headers, body = pool_for(server).post("/v3/mail/send", b'{"a": 1}', {"Authorization": "Bearer k"})
    server.close()

    assert (status, body) == (202, b"")
    assert headers.get("X-Message-Id") == headers["x-message-id"] == "abc" and "X-Message-ID" in headers
    [(_, request)] = server.requests
    head, sent_body = request.split(b"\r\n\r\n", 1)
    assert head.split(b"\r\n")[0] == b"POST /v3/mail/send HTTP/1.1"
    lines = set(head.split(b"\r\n"))
    assert {b"Host: " + server.url[7:].encode(), b"Authorization: Bearer k", b"Content-Length: 8"} <= lines
    assert sent_body == b'{"a": 1}'


def test_the_pool_reads_chunked_and_read_until_close_answers_and_skips_interim_ones():
    chunked = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += b"5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"
    until_close = b"HTTP/1.0 500 Internal Server Error\r\n\r\nall of it"
    server = ScriptedHttpServer([(chunked, False), (interim, False), (until_close, True), (interim, False)])
    pool = pool_for(server)

    answers = [pool.post("/", b"{}", {})[::2] for _ in range(4)]
    server.close()

    assert answers == [(400, b"hello world"), (202, b"ok"), (500, b"all of it"), (202, b"ok")]
    assert [number for number, _ in server.requests] == [1, 1, 1, 2]  # a body read to its close ends the connection


def test_the_pool_opens_a_new_connection_after_connection_close():
    closing = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    kept = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
    server = ScriptedHttpServer([(closing, True), (kept, False), (kept, False)])
    pool = pool_for(server)

    statuses = [pool.post("/", b"{}", {})[0] for _ in range(3)]
    server.close()

    assert statuses == [202, 202, 202]
    assert [number for number, _ in server.requests] == [1, 2, 2]


def test_the_pool_refuses_headers_that_would_split_the_request():
    server = ScriptedHttpServer([])
    with pytest.raises(ValueError):
        pool_for(server).post("/", b"{}", {"Authorization": "Bearer k\r\nX-Injected: 1"})
    server.close()


def test_a_server_that_hangs_up_mid_answer_leaves_the_message_unknown():
    server = ScriptedHttpServer([(b"HTTP/1.1 202 Accepted\r\nContent-Length: 10\r\n\r\nshort", True)])
    outcome = SendGridTransport(KEY, host=server.url, timeout=5).send(BASE)
    server.close()

    assert outcome.status == "unknown" and "connection" in outcome.error


# --- SMTP ---


def test_smtp_uses_starttls_when_offered_and_logs_in(tls):
    server = TinySMTPServer(tls=tls.server, credentials=("mailer", "s3cret"))
    transport = SMTPTransport("127.0.0.1", server.port, "mailer", "s3cret", timeout=5, ssl_context=tls.client)

    outcomes = [transport.send(replace(BASE, message_key=f"k{i}")) for i in range(3)]
    transport.close()
    server.close()

    assert [o.status for o in outcomes] == ["sent"] * 3
    assert server.sessions == [{"tls": True, "user": "mailer"}]  # one session, reused, encrypted
    assert len(server.messages) == 3


def test_smtp_sends_in_clear_only_when_the_server_offers_no_starttls_and_tls_is_not_required():
    server = TinySMTPServer()
    plain = SMTPTransport("127.0.0.1", server.port, timeout=5).send(BASE)
    strict = SMTPTransport("127.0.0.1", server.port, timeout=5, require_tls=True).send(BASE)
    server.close()

    assert plain.status == "sent"
    assert strict.status == "failed" and "STARTTLS" in strict.error
    assert len(server.messages) == 1


@pytest.mark.parametrize(
    ("reply", "status"),
    [("450 4.2.1 mailbox busy, try later", "retry"), ("550 5.1.1 <maria.lopez@example.com>: no such user", "failed")],
)
def test_smtp_4xx_replies_are_retried_and_5xx_failed(reply, status, caplog):
    server = TinySMTPServer(rcpt_reply=reply)
    outcome = SMTPTransport("127.0.0.1", server.port, timeout=5).send(BASE)
    server.close()

    assert outcome.status == status
    assert reply in outcome.error
    assert server.messages == []
    assert BASE.to_email not in caplog.text


def test_smtp_wrong_credentials_fail(tls):
    server = TinySMTPServer(tls=tls.server, credentials=("mailer", "s3cret"))
    outcome = SMTPTransport("127.0.0.1", server.port, "mailer", "wrong", timeout=5, ssl_context=tls.client).send(BASE)
    server.close()

    assert outcome.status == "failed"
    assert "535" in outcome.error


@pytest.mark.parametrize(
    ("drop", "status"),
    [("at DATA", "retry"), ("after the content", "unknown"), ("silent after the content", "unknown")],
)
def test_smtp_no_final_reply_after_the_content_is_unknown_and_a_drop_before_it_is_retried(drop, status):
    server = TinySMTPServer(drop=drop)
    outcome = SMTPTransport("127.0.0.1", server.port, timeout=0.5).send(BASE)
    server.close()

    assert outcome.status == status
    # A server queues a message on its final dot: what it read is what may have gone out.
    assert len(server.messages) == (1 if status == "unknown" else 0)


def test_smtp_refused_connection_is_retried():
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]

    outcome = SMTPTransport("127.0.0.1", port, timeout=2).send(BASE)

    assert outcome.status == "retry"


# --- files ---


def test_the_file_transport_writes_one_file_per_message_key_and_overwrites_on_resend(tmp_path):
    transport = FileTransport(tmp_path)

    first = transport.send(BASE)
    second = transport.send(replace(BASE, subject="Your offer from Acme (updated)"))
    other = transport.send(replace(BASE, message_key="spring:c-043:offer:0:email"))

    assert first.status == second.status == other.status == "sent"
    assert first.provider_message_id == second.provider_message_id != other.provider_message_id
    expected = {eml_path(tmp_path, BASE.message_key), eml_path(tmp_path, "spring:c-043:offer:0:email")}
    assert set(tmp_path.iterdir()) == expected  # no second file for the resend, no temporary left over
    assert from_mime(eml_path(tmp_path, BASE.message_key).read_bytes()).subject == "Your offer from Acme (updated)"


def test_file_names_cannot_escape_the_folder(tmp_path):
    assert eml_path(tmp_path, "../../etc/passwd").parent == tmp_path
    assert eml_path(tmp_path, "x" * 300).parent == tmp_path
    assert len(eml_path(tmp_path, "x" * 300).name) < 255


# --- the factory ---


def test_make_transport_builds_each_backend_and_names_the_choices_otherwise(tmp_path):
    assert make_transport("memory").name == "memory"
    assert make_transport("file", directory=tmp_path).name == "file"
    assert make_transport("smtp", host="127.0.0.1", port=2525).name == "smtp"
    assert make_transport("sendgrid", api_key=KEY, host="http://127.0.0.1:1").name == "sendgrid"
    with pytest.raises(ValueError, match="sendgrid, smtp, file, memory"):
        make_transport("pigeon")


def test_every_email_says_whether_sendgrid_tracks_its_opens_and_clicks_and_sendgrid_takes_both():
    with Sandbox(SandboxConfig(api_key=KEY, validate_share=1.0)) as sandbox:  # every body checked against the schema
        transport = SendGridTransport(KEY, host=sandbox.url, timeout=5)
        assert transport.send(BASE).status == "sent"
        assert transport.send(replace(BASE, message_key="b" * 64, track_engagement=False)).status == "sent"
        tracked, untracked = (m["body"]["tracking_settings"] for m in sandbox.messages())
    # Links are rewritten in the HTML only: the plain text keeps the addresses the candidate reads.
    assert tracked == {"click_tracking": {"enable": True, "enable_text": False}, "open_tracking": {"enable": True}}
    assert untracked == {"click_tracking": {"enable": False, "enable_text": False}, "open_tracking": {"enable": False}}


def test_base64_attachments_are_what_sendgrid_expects():
    body = build_request_body(replace(BASE, attachments=(("offer-call.ics", "text/calendar", ICS),)))

    [attachment] = body["attachments"]
    assert binascii.a2b_base64(attachment["content"]) == ICS
    assert (attachment["filename"], attachment["type"], attachment["disposition"]) == (
        "offer-call.ics",
        "text/calendar",
        "attachment",
    )
