"""The simulator's HTTP transport against a real socket server."""

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from edgeorch.agent.client import ControlPlane, Unreachable
from edgeorch.agent.protocol import Heartbeat
from edgeorch.sim.transport import SimClient, SimTransport

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


def _echo_head_and_body() -> tuple[Handler, list[tuple[bytes, bytes]]]:
    seen: list[tuple[bytes, bytes]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                     if line.lower().startswith(b"content-length:")),
                    0,
                )  # fmt: skip
                body = await reader.readexactly(length) if length else b""
                seen.append((head, body))
                writer.write(_answer(b'{"state": "ready", "persisted": false}'))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return handler, seen


def test_the_sim_client_writes_the_agent_clients_requests_as_httpx_does() -> None:
    handler, seen = _echo_head_and_body()

    async def scenario() -> list[dict[str, object]]:
        server, url = await _serve(handler)
        transport = SimTransport()
        async with server, httpx.AsyncClient(base_url=url + "/api/v1", transport=transport) as hx:
            fast = SimClient(url + "/api/v1/", transport, timeout=5)
            answers = []
            for client in (hx, fast):
                response = await client.request(
                    "POST", "/agent/nodes/n1/heartbeat", headers={"authorization": "Bearer t"},
                    json={"utilization": {"cpu": 0.5}, "name": "zürich"},
                )  # fmt: skip
                answers.append(response.json())
                response = await client.request(
                    "GET", "/agent/nodes/n1/assignments", headers={"authorization": "Bearer t"},
                    params={"since": 3, "timeout": 55.0, "digest": "a b"}, timeout=60.0,
                )  # fmt: skip
                answers.append(response.json())
            return answers

    answers = asyncio.run(scenario())
    assert answers[:2] == answers[2:]
    (hx_post, hx_body), (hx_get, _), (post, body), (get, get_body) = seen
    assert body == hx_body and get_body == b""
    assert post.split(b"\r\n", 1)[0] == b"POST /api/v1/agent/nodes/n1/heartbeat HTTP/1.1"
    assert get.split(b"\r\n", 1)[0] == hx_get.split(b"\r\n", 1)[0]
    assert b"since=3&timeout=55.0&digest=a+b" in get.split(b"\r\n", 1)[0]

    def fields(head: bytes) -> dict[bytes, bytes]:
        lines = head.split(b"\r\n")[1:]
        return dict(line.lower().split(b": ", 1) for line in lines if line)

    wanted = (b"host", b"authorization", b"content-type", b"content-length")
    assert {k: v for k, v in fields(post).items() if k in wanted} == {
        k: v for k, v in fields(hx_post).items() if k in wanted
    }


def test_the_agent_client_over_the_sim_client_times_out_as_unreachable() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def scenario() -> None:
        server, url = await _serve(silent)
        async with server:
            plane = ControlPlane(
                url, client=SimClient(url + "/api/v1", SimTransport(), timeout=0.2)
            )
            with pytest.raises(Unreachable, match="ReadTimeout"):
                await plane.heartbeat("n1", "secret", Heartbeat())

    asyncio.run(scenario())
