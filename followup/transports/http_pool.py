"""Keep-alive HTTP/1.1 connections to one host, shared by many sending threads.

A small client on plain sockets rather than http.client or urllib3: with hundreds of sending
threads on 2 cores the senders are bound by the interpreter lock, so the Python work per
request decides the rate. Measured here, client CPU per request against the sandbox:
http.client ~235 µs (header objects, email.parser reading the answer, head and body in two
sends, so two segments for the server to read), this client ~35 µs. Earlier, whole sends at
50 ms latency: urllib3's pool ~670-940 messages/s, http.client's ~1,050-1,450/s.

It speaks what a JSON API needs and no more: a request with a Content-Length body, in one
send; answers with a Content-Length, chunked or read-until-close body; keep-alive unless the
server says otherwise; TLS with the default certificate checks.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import urllib.error
from collections import deque
from urllib.parse import urlsplit

_RECV_BYTES = 65_536
_MAX_HEAD_BYTES = 64 * 1024
_NO_BODY = frozenset({204, 304})
_HEAD_CACHE_SIZE = 32  # distinct (path, headers) pairs kept as ready request heads


class ResponseHeaders(dict):
    """An answer's headers by lower-case name; get() and [] take any case, as HTTP names do."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())


class _Connection:
    __slots__ = ("sock", "buffer")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()  # received, not yet read

    def fill(self) -> None:
        data = self.sock.recv(_RECV_BYTES)
        if not data:
            raise http.client.RemoteDisconnected("the server closed the connection before answering in full")
        self.buffer += data

    def read_until(self, marker: bytes, limit: int) -> bytes:
        """The bytes before `marker`, consumed with it."""
        start = 0
        while (end := self.buffer.find(marker, start)) < 0:
            if len(self.buffer) > limit:
                raise http.client.LineTooLong(f"an answer line or head longer than {limit} bytes")
            start = max(0, len(self.buffer) - len(marker) + 1)
            self.fill()
        data = bytes(self.buffer[:end])
        del self.buffer[: end + len(marker)]
        return data

    def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_to_close(self) -> bytes:
        while data := self.sock.recv(_RECV_BYTES):
            self.buffer += data
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def close(self) -> None:
        self.sock.close()


class KeepAlivePool:
    def __init__(self, base_url: str, timeout: float, maxsize: int) -> None:
        """`timeout` bounds connecting and each wait for the answer; at most `maxsize` idle
        connections are kept (more senders than that still send, then close their extra ones)."""
        url = urlsplit(base_url)
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._host_header = url.netloc.rpartition("@")[2]
        self._tls = ssl.create_default_context() if url.scheme == "https" else None
        self._timeout = timeout
        self._maxsize = maxsize
        self._idle: deque[_Connection] = deque()  # append/pop are atomic: no lock
        self._heads: dict[tuple, bytes] = {}

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, ResponseHeaders, bytes]:
        """(status, headers, body) of the answer.

        Raises urllib.error.URLError, as urllib does, when the request did not go out in full: no
        connection could be made, or it broke while the request was being written. The server
        cannot have acted on a request it did not receive whole, so that is safe to send again.
        Once the request is written, anything short of a whole answer raises TimeoutError,
        OSError or http.client.HTTPException, and the server may have acted on it: the caller
        must not send it again blindly."""
        request = self._head(path, headers) + b"%d\r\n\r\n" % len(body) + body
        connection = self._take()
        try:
            try:
                connection.sock.sendall(request)
            except OSError as exc:
                raise urllib.error.URLError(exc) from exc
            status, answer_headers, payload, reusable = _read_answer(connection)
        except BaseException:
            connection.close()
            raise
        if reusable and len(self._idle) < self._maxsize:
            self._idle.append(connection)
        else:
            connection.close()
        return status, answer_headers, payload

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    def _head(self, path: str, headers: dict[str, str]) -> bytes:
        """The request up to the Content-Length value, built and checked once per path and headers."""
        key = (path, *headers.items())
        head = self._heads.get(key)
        if head is None:
            lines = [f"POST {path} HTTP/1.1", f"Host: {self._host_header}", "Accept-Encoding: identity"]
            for name, value in headers.items():
                text = f"{name}: {value}"
                if any(c in text for c in "\r\n\0") or name.lower() in ("content-length", "host"):
                    raise ValueError(f"header {name!r} cannot be sent as given")
                lines.append(text)
            head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
            if len(self._heads) >= _HEAD_CACHE_SIZE:
                self._heads.clear()
            self._heads[key] = head
        return head

    def _take(self) -> _Connection:
        while self._idle:
            try:
                connection = self._idle.pop()
            except IndexError:  # another thread took the last one
                break
            if not _dropped(connection):
                return connection
            connection.close()
        try:
            sock = socket.create_connection((self._host, self._port), timeout=self._timeout)
        except OSError as exc:
            raise urllib.error.URLError(exc) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self._host)
        except OSError as exc:  # the TLS handshake (an untrusted certificate among others)
            sock.close()
            raise urllib.error.URLError(exc) from exc
        return _Connection(sock)


def _read_answer(connection: _Connection) -> tuple[int, ResponseHeaders, bytes, bool]:
    """(status, headers, body, whether the connection can carry another request)."""
    while True:
        head = connection.read_until(b"\r\n\r\n", _MAX_HEAD_BYTES).decode("latin-1")
        status_line, *lines = head.split("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise http.client.BadStatusLine(status_line)
        status = int(code)
        headers = ResponseHeaders()
        for line in lines:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        if status >= 200:
            break
        # 1xx: an interim answer (100 Continue and the like); the real one follows.
    connection_header = headers.get("connection", "").lower()
    reusable = connection_header != "close" if version == "HTTP/1.1" else connection_header == "keep-alive"
    if status in _NO_BODY:
        return status, headers, b"", reusable
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, headers, _read_chunked(connection), reusable
    length = headers.get("content-length")
    if length is not None:
        try:
            size = int(length)
        except ValueError:
            raise http.client.HTTPException(f"an invalid Content-Length: {length!r}") from None
        return status, headers, connection.read_exactly(size), reusable
    return status, headers, connection.read_to_close(), False


def _read_chunked(connection: _Connection) -> bytes:
    parts = []
    while True:
        size_line = connection.read_until(b"\r\n", _MAX_HEAD_BYTES)
        try:
            size = int(size_line.split(b";", 1)[0], 16)
        except ValueError:
            raise http.client.HTTPException(f"an invalid chunk size: {size_line[:40]!r}") from None
        if size == 0:
            while connection.read_until(b"\r\n", _MAX_HEAD_BYTES):  # trailers, up to the empty line
                pass
            return b"".join(parts)
        parts.append(connection.read_exactly(size + 2)[:-2])


def _dropped(connection: _Connection) -> bool:
    """An idle keep-alive connection that is readable has been closed by the server (or sent
    something unasked), so it is replaced before a request is written on it. This check is the
    only safe moment: a request written on a connection the server closes meanwhile gets no
    answer, and nothing on this side tells whether the server read it first, so its message
    is of unknown fate rather than sent again on a fresh connection."""
    if connection.sock.fileno() < 0 or connection.buffer:
        return True
    poller = select.poll()  # not select.select: descriptors past 1024 are normal with big pools
    poller.register(connection.sock, select.POLLIN)
    return bool(poller.poll(0))
