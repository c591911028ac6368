"""A minimal HTTP/1.1 keep-alive server on asyncio.Protocol, just enough for SendGrid's clients.

Why not uvicorn + starlette: without httptools (not installed here) uvicorn parses with h11 in
pure Python and starlette adds request objects and routing per call. Measured here with 256
keep-alive connections, a bare starlette route on uvicorn cost ~470 us of server CPU per
request; this protocol, doing only what the sandbox needs (Content-Length bodies, keep-alive,
in-order answers per connection), costs ~120-190 us including SendGrid's checks. Latency is a
loop timer, so a slow answer holds back only its own connection.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus

from followup.sandbox.app import MAX_BODY_BYTES, Response, SandboxApp

MAX_HEAD_BYTES = 64 * 1024

_REASONS = {status.value: status.phrase for status in HTTPStatus}


class HttpProtocol(asyncio.Protocol):
    """One client connection. Requests are answered in order; a delayed answer pauses parsing."""

    def __init__(self, app: SandboxApp, connections: set[HttpProtocol]) -> None:
        self._app = app
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        # A parsed request head whose body is still arriving: (method, target, headers, keep_alive, length).
        # Kept so the head is parsed once, not again for every chunk of its body.
        self._pending: tuple[str, str, dict[str, str], bool, int] | None = None
        self._busy = False  # an answer is being held back (latency); later requests wait in the buffer
        self._discard = 0  # bytes of an oversized body still to skip

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._connections.add(self)
        self._app.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._transport = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        if self._discard:
            # Skipping an oversized body instead of closing early lets the client finish sending
            # and read the 413, rather than see a reset connection.
            skipped = min(self._discard, len(data))
            self._discard -= skipped
            data = data[skipped:]
        self._buffer += data
        self._process()

    def _open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def _process(self) -> None:
        while self._open() and not self._busy and not self._discard:
            if self._pending is None and not self._read_head():
                return
            method, target, headers, keep_alive, length = self._pending  # type: ignore[misc]
            if length > MAX_BODY_BYTES:
                body = None  # skipped as it arrived; the app answers 413 in SendGrid's words
            elif len(self._buffer) < length:
                return
            else:
                body = bytes(self._buffer[:length])
                del self._buffer[:length]
            self._pending = None
            self._dispatch(method, target, headers, body, keep_alive)

    def _read_head(self) -> bool:
        buffer = self._buffer
        head_end = buffer.find(b"\r\n\r\n")
        if head_end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                self._fail(431)
            return False
        try:
            request_line, *header_lines = buffer[:head_end].decode("latin-1").split("\r\n")
            method, target, version = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
        except ValueError:
            self._fail(400)
            return False
        if "transfer-encoding" in headers or length < 0:
            self._fail(411)  # SendGrid's clients send Content-Length; chunked bodies are not supported
            return False
        del buffer[: head_end + 4]
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        if length > MAX_BODY_BYTES:
            skipped = min(len(buffer), length)
            del buffer[:skipped]
            self._discard = length - skipped
        self._pending = (method, target, headers, keep_alive, length)
        return True

    def _dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None, keep_alive: bool
    ) -> None:
        response = self._app.handle(method, target, headers, body)
        if response.delay > 0:
            self._busy = True
            asyncio.get_running_loop().call_later(response.delay, self._respond_late, response, keep_alive)
        else:
            self._respond(response, keep_alive)

    def _respond_late(self, response: Response, keep_alive: bool) -> None:
        self._respond(response, keep_alive)
        self._busy = False
        self._process()  # requests that arrived while this answer was held back

    def _respond(self, response: Response, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        reason = _REASONS.get(response.status, "")
        head = [f"HTTP/1.1 {response.status} {reason}", f"Content-Length: {len(response.body)}"]
        head += [f"{name}: {value}" for name, value in response.headers]
        if not keep_alive:
            head.append("Connection: close")
        transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
        if not keep_alive:
            transport.close()

    def _fail(self, status: int) -> None:
        self._respond(Response(status), keep_alive=False)
