"""The simulator's HTTP transport against a real socket server."""

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from edgeorch.sim.transport import SimTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    head = await reader.readuntil(b"\r\n\r\n")
    if not head:
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return head.split(b"\r\n", 1)[0], body


def _answer(body: bytes, *, close: bool = False) -> bytes:
    extra = b"connection: close\r\n" if close else b""
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + extra
        + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip


async def _serve(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def test_requests_share_a_keep_alive_connection_and_bodies_arrive_whole() -> None:
    connections: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while (request := await _read_request(reader)) is not None:
                line, body = request
                writer.write(_answer(b'{"line": "' + line + b'", "got": ' + body + b"}"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def scenario() -> list[dict[str, object]]:
        server, url = await _serve(handler)
        async with server, httpx.AsyncClient(base_url=url, transport=SimTransport()) as client:
            first = await client.post("/a?x=1", json={"n": 1})
            second = await client.post("/b", json={"n": 2})
            return [first.json(), second.json()]

    answers = asyncio.run(scenario())
    assert answers == [
        {"line": "POST /a?x=1 HTTP/1.1", "got": {"n": 1}},
        {"line": "POST /b HTTP/1.1", "got": {"n": 2}},
    ]
    assert len(connections) == 1


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_answer(b"{}"))  # keep-alive promised, then closed: as an idle timeout
        await writer.drain()
        writer.close()

    async def scenario() -> list[int]:
        server, url = await _serve(handler)
        async with server, httpx.AsyncClient(base_url=url, transport=SimTransport()) as client:
            codes = [(await client.get("/")).status_code]
            await asyncio.sleep(0.05)
            codes.append((await client.get("/")).status_code)
            return codes

    assert asyncio.run(scenario()) == [200, 200]


def test_timeouts_and_refusals_are_httpx_transport_errors() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def scenario() -> None:
        server, url = await _serve(silent)
        async with server, httpx.AsyncClient(base_url=url, transport=SimTransport()) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get("/", timeout=0.2)
        port = int(url.rsplit(":", 1)[1])
        async with httpx.AsyncClient(transport=SimTransport()) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/")  # the server is gone

    asyncio.run(scenario())
