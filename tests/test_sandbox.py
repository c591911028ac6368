"""The local SendGrid sandbox answers as SendGrid does: status codes, error shapes, headers, limits."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import socket
import time

import pytest
import urllib3

from followup.sandbox import Sandbox, SandboxConfig

KEY = "SG.sandbox"


def valid_body(**overrides) -> dict:
    body = {
        "personalizations": [{"to": [{"email": "maria@example.com", "name": "Maria"}]}],
        "from": {"email": "jobs@acme.example", "name": "Acme Recruiting"},
        "subject": "Your offer",
        "content": [{"type": "text/plain", "value": "Hello Maria"}],
        "custom_args": {"message_key": "c1:42:offer:0:email", "step": "0"},
        "categories": ["offer"],
    }
    body.update(overrides)
    return body


def post(url: str, body: dict | bytes, key: str | None = KEY, timeout: float = 10):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return urllib3.request("POST", f"{url}/v3/mail/send", body=data, headers=headers, retries=False, timeout=timeout)


def errors_of(response) -> list[dict]:
    document = json.loads(response.data)
    assert set(document) == {"errors"}
    for error in document["errors"]:
        assert set(error) == {"message", "field", "help"}
        assert isinstance(error["message"], str) and error["message"]
    return document["errors"]


@pytest.fixture
def sandbox():
    with Sandbox(SandboxConfig()) as running:
        yield running


def test_accepts_a_valid_message_with_202_an_empty_body_and_a_message_id(sandbox):
    response = post(sandbox.url, valid_body())

    assert response.status == 202
    assert response.data == b""
    message_id = response.headers["X-Message-Id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", message_id)
    [kept] = sandbox.messages()
    assert kept["x_message_id"] == message_id
    assert kept["body"] == valid_body()
    assert kept["received_at"].endswith("+00:00")


def test_each_accepted_message_gets_its_own_id(sandbox):
    ids = {post(sandbox.url, valid_body()).headers["X-Message-Id"] for _ in range(20)}
    assert len(ids) == 20
    assert {m["x_message_id"] for m in sandbox.messages()} == ids


@pytest.mark.parametrize("key", ["SG.wrong", None])
def test_a_wrong_or_missing_key_is_401_in_sendgrids_error_shape(sandbox, key):
    response = post(sandbox.url, valid_body(), key=key)

    assert response.status == 401
    [error] = errors_of(response)
    assert error["field"] is None and error["help"] is None
    assert sandbox.messages() == []


def test_a_body_that_is_not_json_is_400(sandbox):
    response = post(sandbox.url, b'{"personalizations": [')

    assert response.status == 400
    [error] = errors_of(response)
    assert error["field"] is None
    assert sandbox.messages() == []


def test_a_body_without_from_is_400_naming_the_field(sandbox):
    body = valid_body()
    del body["from"]

    response = post(sandbox.url, body)

    assert response.status == 400
    assert [error["field"] for error in errors_of(response)] == ["from"]


def test_numeric_custom_args_are_refused_against_the_official_schema(sandbox):
    response = post(sandbox.url, valid_body(custom_args={"message_key": "k", "step": 1}))

    assert response.status == 400
    assert [error["field"] for error in errors_of(response)] == ["custom_args.step"]


def test_an_invalid_address_is_refused(sandbox):
    response = post(sandbox.url, valid_body(personalizations=[{"to": [{"email": "not-an-address"}]}]))

    assert response.status == 400
    assert [error["field"] for error in errors_of(response)] == ["personalizations.0.to.0.email"]


LIMIT_CASES = {
    "11 categories": ({"categories": [f"c{i}" for i in range(11)]}, "categories"),
    "10 KB of custom_args": ({"custom_args": {"blob": "x" * 10_000}}, "custom_args"),
    "1001 personalizations": (
        {"personalizations": [{"to": [{"email": f"p{i}@example.com"}]} for i in range(1001)]},
        "personalizations",
    ),
    "send_at 73 hours ahead": ({"send_at": int(time.time()) + 73 * 3600}, "send_at"),
}


@pytest.mark.parametrize("validate_share", [1.0, 0.0], ids=["schema-checked", "schema-sampled-out"])
@pytest.mark.parametrize("case", LIMIT_CASES, ids=list(LIMIT_CASES))
def test_sendgrids_limits_are_refused_even_when_the_schema_check_is_sampled_out(case, validate_share):
    overrides, field = LIMIT_CASES[case]
    with Sandbox(SandboxConfig(validate_share=validate_share)) as sandbox:
        response = post(sandbox.url, valid_body(**overrides))

        assert response.status == 400
        assert field in {error["field"] for error in errors_of(response)}
        assert sandbox.messages() == []


def test_limits_leave_room_right_under_them(sandbox):
    body = valid_body(
        categories=[f"c{i}" for i in range(10)],
        send_at=int(time.time()) + 71 * 3600,
        custom_args={"blob": "x" * 9_000},
    )
    assert post(sandbox.url, body).status == 202


def test_a_body_over_30_mb_is_413_and_the_connection_stays_usable(sandbox):
    pool = urllib3.connection_from_url(sandbox.url, maxsize=1, retries=False)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    huge = b'{"blob": "' + b"x" * (30 * 1024 * 1024) + b'"}'

    refused = pool.urlopen("POST", "/v3/mail/send", body=huge, headers=headers)
    after = pool.urlopen("POST", "/v3/mail/send", body=json.dumps(valid_body()).encode(), headers=headers)

    assert refused.status == 413
    errors_of(refused)
    assert after.status == 202
    assert sandbox.stats()["connections"] == 2  # this pool's one connection, then stats() itself
    assert len(sandbox.messages()) == 1


def test_sandbox_mode_is_checked_answered_200_and_not_kept(sandbox):
    body = valid_body(mail_settings={"sandbox_mode": {"enable": True}})

    response = post(sandbox.url, body)
    del body["from"]
    invalid = post(sandbox.url, body)

    assert response.status == 200
    assert "X-Message-Id" not in response.headers
    assert invalid.status == 400  # sandbox mode still validates, as SendGrid's does
    assert sandbox.messages() == []


def test_sandbox_messages_lists_every_accepted_message_in_order(sandbox):
    for step in range(3):
        post(sandbox.url, valid_body(custom_args={"message_key": f"k{step}"}))
    post(sandbox.url, b"not json")

    response = urllib3.request("GET", f"{sandbox.url}/sandbox/messages")

    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert [m["body"]["custom_args"]["message_key"] for m in json.loads(response.data)] == ["k0", "k1", "k2"]


def test_message_keys_pair_each_accepted_message_id_with_its_key_without_the_bodies(sandbox):
    ids = [post(sandbox.url, valid_body(custom_args={"message_key": f"k{step}"})).headers["X-Message-Id"]
           for step in range(3)]  # fmt: skip
    post(sandbox.url, valid_body(custom_args={"step": "0"}))  # accepted, but carries no key
    post(sandbox.url, valid_body(custom_args={"message_key": "refused"}), key="SG.wrong")

    response = urllib3.request("GET", f"{sandbox.url}/sandbox/message-keys")
    pairs = sandbox.message_keys()

    assert response.headers["Content-Type"] == "application/json"
    assert pairs[:3] == [(message_id, f"k{step}") for step, message_id in enumerate(ids)]
    assert len(pairs) == 4 and pairs[3][1] is None
    assert [(m["x_message_id"], m["body"]["custom_args"].get("message_key")) for m in sandbox.messages()] == pairs


def test_the_html_outbox_escapes_what_senders_wrote(sandbox):
    hostile = valid_body(
        subject="<script>alert('offer')</script>",
        personalizations=[{"to": [{"email": "maria@example.com", "name": "<b>Maria</b>"}]}],
    )
    post(sandbox.url, hostile)

    response = urllib3.request("GET", f"{sandbox.url}/sandbox/outbox")
    page = response.data.decode("utf-8")

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<script>" not in page and "<b>Maria" not in page
    assert "&lt;script&gt;alert(&#x27;offer&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;Maria&lt;/b&gt; &lt;maria@example.com&gt;" in page


def test_429_bursts_come_with_rate_limit_headers():
    with Sandbox(SandboxConfig(burst_429_every=3, burst_429_length=2)) as sandbox:
        responses = [post(sandbox.url, valid_body()) for _ in range(8)]
        now = time.time()

        assert [r.status for r in responses] == [202, 202, 429, 429, 202, 429, 429, 202]
        limited = responses[2]
        errors_of(limited)
        assert limited.headers["X-RateLimit-Limit"] == "3"
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert now < int(limited.headers["X-RateLimit-Reset"]) <= now + 2.5
        assert len(sandbox.messages()) == 4


def test_the_error_rate_answers_500_and_503_reproducibly_from_the_seed():
    def statuses(seed: int) -> list[int]:
        with Sandbox(SandboxConfig(error_rate=0.5, seed=seed)) as sandbox:
            answers = [post(sandbox.url, valid_body()) for _ in range(40)]
            for answer in answers:
                if answer.status != 202:
                    errors_of(answer)
            assert len(sandbox.messages()) == sum(a.status == 202 for a in answers)
            return [a.status for a in answers]

    first = statuses(seed=7)
    assert set(first) == {202, 500, 503}
    assert 8 <= first.count(202) <= 32
    assert statuses(seed=7) == first


def test_latency_delays_each_answer_without_holding_back_the_others():
    with Sandbox(SandboxConfig(latency_ms=300)) as sandbox:
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda _: post(sandbox.url, valid_body()).status, range(20)))
        elapsed = time.perf_counter() - started

    assert answers == [202] * 20
    assert 0.3 <= elapsed < 1.5  # twenty answers held back together, not one after another


def test_keep_alive_and_pipelined_requests_are_answered_in_order(sandbox):
    data = json.dumps(valid_body()).encode()
    request = (
        f"POST /v3/mail/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode() + data
    missing_key = b"POST /v3/mail/send HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    host, port = sandbox.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request + missing_key + request)
        received = b""
        deadline = time.monotonic() + 60
        while received.count(b"HTTP/1.1 ") < 3 or not received.endswith(b"\r\n\r\n"):
            assert time.monotonic() < deadline, f"three answers never came; so far: {received!r}"
            chunk = connection.recv(65536)
            assert chunk, f"the sandbox hung up before its three answers; so far: {received!r}"
            received += chunk

    assert re.findall(rb"HTTP/1\.1 (\d{3})", received) == [b"202", b"401", b"202"]
    assert sandbox.stats()["connections"] == 2  # the socket above, then stats() itself


def test_unknown_paths_and_methods_are_refused(sandbox):
    assert urllib3.request("GET", f"{sandbox.url}/v3/nothing").status == 404
    wrong_method = urllib3.request("GET", f"{sandbox.url}/v3/mail/send")
    assert wrong_method.status == 405
    assert wrong_method.headers["Allow"] == "POST"


def test_stats_count_answers_by_status(sandbox):
    post(sandbox.url, valid_body())
    post(sandbox.url, valid_body(), key="SG.wrong")

    stats = sandbox.stats()

    assert stats["accepted"] == 1
    assert stats["mail_send_requests"] == 2
    assert stats["answers"] == {"202": 1, "401": 1}


def test_the_sandbox_runs_in_its_own_process_too():
    config = SandboxConfig(api_key="SG.other", burst_429_every=2, burst_429_length=1)
    with Sandbox(config, process=True) as sandbox:
        assert sandbox.pid is not None and sandbox.pid != os.getpid()
        assert post(sandbox.url, valid_body(), key="SG.other").status == 202
        assert post(sandbox.url, valid_body(), key="SG.other").status == 429
        assert len(sandbox.messages()) == 1
        url = sandbox.url

    with pytest.raises(urllib3.exceptions.HTTPError):
        post(url, valid_body(), timeout=1)  # stopped means gone


def test_a_port_already_in_use_is_reported_to_the_caller(sandbox):
    port = int(sandbox.url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        Sandbox(port=port).start()
