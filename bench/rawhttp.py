"""A lean asyncio HTTP/1.1 keep-alive client for the single-event phases of bench/ingest.py.

Why it exists: the benchmark shares a 2-core machine with the server and PostgreSQL, and the
single-event phases send thousands of small requests a second. A general client (httpx2, one
per thread) costs 0.6-0.8 ms of CPU per request, CPU the server then lacks; pgbench's client
is C. This one does the least a benchmark needs: requests are pre-built bytes written in one
call on a kept-alive connection, and responses are parsed just enough (status line, headers,
a Content-Length or chunked body, ``Connection: close``). Anything else fails loudly rather
than being guessed at. One connection per simulated client; a connection carries one request
at a time (no pipelining).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar, cast

T = TypeVar("T")

MAX_HEAD = 64 * 1024  # a status line and headers longer than this is not our server


class HttpError(Exception):
    """A request that got no usable answer. The error samples print the class name: the
    subclasses are named like httpx2's, so reports before and after compare."""


class ConnectError(HttpError):
    pass


class ReadTimeout(HttpError):
    pass


class RemoteProtocolError(HttpError):
    pass


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    keep_alive: bool  # False: the server closes after this answer (`Connection: close`)


def request_prefix(host: str, path: str, token: str) -> bytes:
    """A POST's head up to the Content-Length value: `post(prefix, body)` completes it."""
    return (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: "
    ).encode("latin-1")


def post(prefix: bytes, body: bytes) -> bytes:
    return b"".join((prefix, str(len(body)).encode(), b"\r\n\r\n", body))


def parse_response(buffer: bytes | bytearray) -> tuple[Response, int] | None:
    """(the response, bytes it used) from the start of `buffer`; None while incomplete.

    Raises RemoteProtocolError on anything this client does not handle: a body delimited
    only by the connection's close, a transfer coding other than chunked, interim (1xx)
    answers, a malformed head."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise RemoteProtocolError("response head too long")
        return None
    lines = bytes(buffer[:end]).split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise RemoteProtocolError(f"bad status line {lines[0][:100]!r}")
    status = int(parts[1])
    keep_alive = parts[0] != b"HTTP/1.0"
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise RemoteProtocolError(f"bad header line {line[:100]!r}")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            if not value.isdigit():
                raise RemoteProtocolError(f"bad Content-Length {value[:100]!r}")
            length = int(value)
        elif name == b"transfer-encoding":
            if value != b"chunked":
                raise RemoteProtocolError(f"unsupported Transfer-Encoding {value[:100]!r}")
            chunked = True
        elif name == b"connection":
            tokens = {token.strip() for token in value.split(b",")}
            if b"close" in tokens:
                keep_alive = False
            elif b"keep-alive" in tokens:
                keep_alive = True
    if 100 <= status < 200:
        raise RemoteProtocolError(f"unexpected interim response {status}")
    start = end + 4
    if status in (204, 304):
        return Response(status, b"", keep_alive), start
    if chunked:
        return _chunked(buffer, start, status, keep_alive)
    if length is None:
        raise RemoteProtocolError("response without Content-Length or chunked body")
    if len(buffer) < start + length:
        return None
    return Response(status, bytes(buffer[start : start + length]), keep_alive), start + length


def _chunked(
    buffer: bytes | bytearray, pos: int, status: int, keep_alive: bool
) -> tuple[Response, int] | None:
    body = bytearray()
    while True:
        line_end = buffer.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size_text = bytes(buffer[pos:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise RemoteProtocolError(f"bad chunk size {size_text[:100]!r}") from None
        pos = line_end + 2
        if size == 0:
            # Optional trailer fields, then an empty line.
            if buffer[pos : pos + 2] == b"\r\n":
                return Response(status, bytes(body), keep_alive), pos + 2
            trailers_end = buffer.find(b"\r\n\r\n", pos)
            if trailers_end < 0:
                return None
            return Response(status, bytes(body), keep_alive), trailers_end + 4
        if len(buffer) < pos + size + 2:
            return None
        if buffer[pos + size : pos + size + 2] != b"\r\n":
            raise RemoteProtocolError("chunk not followed by CRLF")
        body += buffer[pos : pos + size]
        pos += size + 2


class _Protocol(asyncio.Protocol):
    """One connection's bytes: buffers what arrives and resolves the waiting request's
    future once a whole response is there."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Response] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def send(self, data: bytes, waiter: asyncio.Future[Response]) -> None:
        assert self.transport is not None, "not connected"
        assert self._waiter is None, "one request at a time"
        if self.closed:  # lost between connecting and sending
            raise RemoteProtocolError("connection closed before the request was sent")
        self._waiter = waiter
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is None:
            self.fail(RemoteProtocolError(f"unsolicited data {bytes(self._buffer[:100])!r}"))
            return
        try:
            parsed = parse_response(self._buffer)
        except HttpError as error:
            self.fail(error)
            return
        if parsed is None:
            return
        response, used = parsed
        del self._buffer[:used]
        waiter, self._waiter = self._waiter, None
        if not waiter.done():
            waiter.set_result(response)

    def eof_received(self) -> bool:
        self.fail(RemoteProtocolError("Server disconnected without sending a response."))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fail(RemoteProtocolError(f"connection lost: {exc or 'closed by the server'}"))

    def fail(self, error: HttpError) -> None:
        """End the connection; a request waiting on it gets `error`."""
        self.closed = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        if self.transport is not None:
            self.transport.abort()


class Connection:
    """A keep-alive connection to host:port, opened on first use and again after the
    server closed it or a request failed on it. `timeout` bounds the connect and each
    request's wait for its whole answer."""

    def __init__(self, host: str, port: int, *, timeout: float) -> None:
        self._host, self._port, self._timeout = host, port, timeout
        self._protocol: _Protocol | None = None

    async def request(self, data: bytes) -> Response:
        loop = asyncio.get_running_loop()
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = self._protocol = await self._connect(loop)
        waiter: asyncio.Future[Response] = loop.create_future()
        timer = loop.call_later(self._timeout, protocol.fail, ReadTimeout("timed out"))
        try:
            protocol.send(data, waiter)
            response = await waiter
        except BaseException:
            protocol.fail(RemoteProtocolError("request abandoned"))  # no half-read answer
            raise
        finally:
            timer.cancel()
        if not response.keep_alive:
            protocol.fail(RemoteProtocolError("closed after Connection: close"))
        return response

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(_Protocol, self._host, self._port), self._timeout
            )
        except TimeoutError:
            raise ConnectError("connect timed out") from None
        except OSError as error:
            raise ConnectError(str(error)) from None
        return protocol

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None


# Event loop timers are millisecond-grained: asyncio's own rounds its waits up, uvloop's to
# the nearest millisecond, so uvloop wakes a third of its sleepers up to ~0.6 ms early.
# Adding half a millisecond to each wait means nothing starts before its time (as with
# time.sleep) at one wake-up per wait, a little late instead (~0.65 ms median).
TIMER_SLACK = 0.0005


async def sleep_until(moment: float) -> None:
    """Sleep until time.perf_counter() reaches `moment`, never returning before it."""
    while (delay := moment - time.perf_counter()) > 0:
        await asyncio.sleep(delay + TIMER_SLACK)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on a fresh event loop in this thread: uvloop's when installed (its loop
    costs less CPU per request than asyncio's own)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
