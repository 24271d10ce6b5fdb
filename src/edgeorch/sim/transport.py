"""The simulator's HTTP connections: thousands of agents' requests from one process.

The simulated agents call the control plane through the agent's own client code
(``agent/client.py``, an ``httpx.AsyncClient``); only what carries the bytes differs. httpx's
default transport (httpcore) costs the client about a millisecond of CPU per request (its pool
checks every idle connection with a ``poll()`` before each request, and its per-request
machinery is pure Python), which made the simulator, not the control plane, the bottleneck: at
2,000 nodes it used 37 % of a core for 200 heartbeats a second. :class:`SimTransport` speaks
the same HTTP/1.1 with keep-alive over asyncio protocols, parses responses with ``httptools``
(the C parser uvicorn uses), and keeps idle connections on a stack per server, so taking one is
O(1).

What it does not do, because the control plane does not need it: HTTP/2, proxies, request
bodies streamed in parts, compressed responses (it asks for none), redirects (httpx's client
handles those above the transport).

A request on a reused keep-alive connection that the server closed meanwhile (uvicorn closes
idle ones after 5 s) fails before any byte of the answer arrives; it is sent again once on a new
connection, as browsers and Go's client do.
"""

import asyncio
import json as jsonlib
import ssl
from collections import defaultdict
from typing import Any, cast
from urllib.parse import urlencode

import httptools
import httpx

from edgeorch.agent.tls import tls_context

_Key = tuple[str, str, int]
_Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body


class _Stale(Exception):
    """The connection was closed before any byte of the answer arrived."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, one request at a time."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[_Answer] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._started = False  # a byte of the current answer has arrived
        self._keep = True
        self.closed = False

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not an asyncio.Transport subclass, but is one).
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._started = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._started:
            self._fail(httpx.ReadError(f"the server closed the connection mid-answer ({exc})"))
        else:
            self._fail(_Stale())

    # -- httptools callbacks ---------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._keep = self._parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            status = self._parser.get_status_code()
            answer.set_result((status, self._headers, b"".join(self._body)))

    # -- use -------------------------------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        return self._keep and not self.closed

    def _fail(self, exc: Exception) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_exception(exc)

    async def exchange(self, raw: bytes, timeout: float | None) -> _Answer:
        """Send one request and wait for its whole answer."""
        if self.closed or self._transport is None:
            raise _Stale()
        answer: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        self._answer = answer
        self._headers, self._body, self._started = [], [], False
        self._transport.write(raw)
        # A timer on the future rather than asyncio.wait_for, which wraps every wait in a task
        # of its own (~8 % of the simulator's samples at 1,000 requests a second, 2026-12-08).
        loop = answer.get_loop()
        timer = None if timeout is None else loop.call_later(timeout, self._expire, timeout)
        try:
            return await answer
        finally:
            self._answer = None
            if timer is not None:
                timer.cancel()

    def _expire(self, timeout: float) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_exception(httpx.ReadTimeout(f"no answer within {timeout:g} s"))
            self.close()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class SimTransport(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 connections, any number per server, idle ones reused last-in first."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context
        self._idle: dict[_Key, list[_Connection]] = defaultdict(list)
        self._open: set[_Connection] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read the whole answer (no streaming)."""
        key = _key_of(request.url)
        body = await request.aread()
        timeouts = request.extensions.get("timeout", {})
        status, headers, content = await self.send(
            key, _serialize(request, body), timeouts.get("connect"), timeouts.get("read")
        )
        return httpx.Response(
            status,
            headers=headers,
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def send(
        self, key: _Key, raw: bytes, connect_timeout: float | None, read_timeout: float | None
    ) -> _Answer:
        """Send the serialized request ``raw`` to ``key`` (scheme, host, port) on an idle
        connection or a new one; the answer's status, headers and body."""
        idle = self._idle[key]
        while idle:
            connection = idle.pop()
            if not connection.reusable:
                self._open.discard(connection)
                continue
            try:
                answer = await connection.exchange(raw, read_timeout)
            except _Stale:
                self._open.discard(connection)
                continue  # closed by the server while idle: send it again on another
            return self._finish(key, connection, answer)
        connection = await self._connect(key, connect_timeout)
        try:
            answer = await connection.exchange(raw, read_timeout)
        except _Stale:
            self._open.discard(connection)
            message = "the server closed the connection without answering"
            raise httpx.RemoteProtocolError(message) from None
        return self._finish(key, connection, answer)

    def _finish(self, key: _Key, connection: _Connection, answer: _Answer) -> _Answer:
        if connection.reusable:
            self._idle[key].append(connection)
        else:
            self._open.discard(connection)
            connection.close()
        return answer

    async def _connect(self, key: _Key, timeout: float | None) -> _Connection:
        scheme, host, port = key
        context = None
        if scheme == "https":
            context = self._ssl or tls_context()
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(_Connection, host, port, ssl=context), timeout
            )
        except TimeoutError:
            message = f"no connection to {host}:{port} within {timeout} s"
            raise httpx.ConnectTimeout(message) from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        self._open.add(connection)
        return connection

    async def aclose(self) -> None:
        """Close every connection."""
        for connection in list(self._open):
            connection.close()
        self._open.clear()
        self._idle.clear()


def _key_of(url: httpx.URL) -> _Key:
    return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)


def _serialize(request: httpx.Request, body: bytes) -> bytes:
    # Answers are read whole and not decoded here: ask for no encoding.
    headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"accept-encoding"]
    return _raw_request(request.method.encode(), request.url.raw_path, headers, body)


def _raw_request(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> bytes:
    lines = [method, b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        lines += [name, b": ", value, b"\r\n"]
    lines += [b"\r\n", body]
    return b"".join(lines)


class SimClient:
    """The agent client's calls (``ControlPlane``: ``request`` with headers, a JSON body,
    query parameters, a timeout) written straight onto a :class:`SimTransport`.

    httpx's client builds, for every request, a merged URL, a cookie jar round trip (a
    ``urllib`` request per answer), auth and redirect machinery and an event-hook chain: a
    third of the simulator's samples at 1,000 heartbeats a second (py-spy, docs/benchmarks.md,
    2026-12-08). The bytes on the wire are the same HTTP/1.1 request; the answer is an
    ``httpx.Response``, so ``ControlPlane`` reads it as it reads httpx's."""

    def __init__(self, base_url: str, transport: SimTransport, *, timeout: float) -> None:
        url = httpx.URL(base_url)
        self._key = _key_of(url)
        self._prefix = url.raw_path.rstrip(b"/")
        host = httpx.Request("GET", url).headers["host"]  # as httpx writes it (IDNA, IPv6, port)
        self._host = (b"host", host.encode("ascii"))
        self._transport = transport
        self._timeout = timeout

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request to ``url``, a path under the base URL; read the whole answer."""
        target = self._prefix + url.encode()
        if params:
            target += b"?" + urlencode(params).encode()
        fields = [self._host, *((k.encode(), v.encode()) for k, v in headers.items())]
        body = b""
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
            fields.append((b"content-type", b"application/json"))
        if body or method in ("POST", "PUT", "PATCH"):
            fields.append((b"content-length", str(len(body)).encode()))
        raw = _raw_request(method.encode(), target, fields, body)
        read_timeout = self._timeout if timeout is None else timeout
        status, answer_headers, content = await self._transport.send(
            self._key, raw, self._timeout, read_timeout
        )
        return httpx.Response(status, headers=answer_headers, content=content)

    async def aclose(self) -> None:
        """The transport's owner closes it."""
