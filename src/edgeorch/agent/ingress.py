"""The agent's HTTP ingress: ``/w/<workload-name>/<path>`` reaches a running replica.

A Wasm task is served in-process through the driver's ``handle_http`` (in a worker thread, since
a guest call blocks); a process task is proxied to its port on 127.0.0.1 with httpx. Requests for
a workload with no running replica here answer 503 with the reason.
"""

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import uvicorn
from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from edgeorch.agent.drivers import HttpHandler
from edgeorch.agent.metrics import AgentMetrics
from edgeorch.agent.supervisor import Target
from edgeorch.agent.switch import RouteSwitch
from edgeorch.agent.tls import tls_context
from edgeorch.config import parse_listen
from edgeorch.telemetry.collector import RequestCollector

Router = Callable[[str], Target | None]
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
    }
)
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the agent owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _forward_headers(headers: httpx.Headers | dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}


class Ingress:
    """Serves ``/w/...`` on ``listen`` (``HOST:PORT``, port 0 picks one) for ``router``."""

    def __init__(
        self,
        listen: str,
        router: Router,
        *,
        proxy_timeout: float = 30.0,
        collector: RequestCollector | None = None,
        metrics: AgentMetrics | None = None,
    ) -> None:
        self._host, self._port = parse_listen(listen)
        self._router = router
        self._collector = collector
        self._metrics = metrics
        self._proxy = httpx.AsyncClient(timeout=proxy_timeout, verify=tls_context())
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.url = ""
        # Migrations (agent/migrate.py): pause/forward per workload, and their own endpoints.
        self.switch = RouteSwitch()
        self.extra_routes: list[Route] = []

    def app(self) -> Starlette:
        """The ASGI app (also usable without a socket in tests)."""
        routes = [
            Route("/w/{name}/{path:path}", self._serve, methods=_METHODS),
            Route("/w/{name}", self._serve, methods=_METHODS),
            Route("/healthz", self._health, methods=["GET"]),
            *self.extra_routes,
        ]
        if self._metrics is not None:
            routes.append(Route("/metrics", self._metrics_page, methods=["GET"]))
        return Starlette(routes=routes)

    async def start(self) -> str:
        """Bind and serve in the background; returns the base URL (with the real port)."""
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by accepted connections: without it a response written in two parts waits
        # for the client's delayed ACK, about 40 ms per POST (measured: bench/migration.py).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self._host, self._port))
        sock.listen(128)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self.url = f"http://{host}:{port}"
        # HTTP only: the routes serve no WebSocket, and ws="auto" would load the websockets
        # package (memory the agent keeps for nothing).
        config = uvicorn.Config(
            self.app(), log_level="warning", access_log=False, lifespan="off", ws="none"
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        await self._proxy.aclose()
        await self.switch.aclose()

    async def _health(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def _metrics_page(self, request: Request) -> Response:
        assert self._metrics is not None
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        body = await asyncio.to_thread(encoder, self._metrics.registry)
        return Response(body, media_type=content_type)

    async def _serve(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not await self.switch.enter(name):  # paused by a migration for too long
            return PlainTextResponse(
                f"workload {name!r} is being migrated and was held longer than "
                f"{self.switch.hold_timeout:g} s\n",
                status_code=503,
            )
        try:
            return await self._serve_here(request, name)
        finally:
            self.switch.leave(name)

    async def _serve_here(self, request: Request, name: str) -> Response:
        target = self._router(name)
        forward = self.switch.forward_to(name) if target is None else None
        if forward is not None:  # migrated away: relay to the target node's ingress
            path = "/" + request.path_params.get("path", "")
            if request.url.query:
                path += "?" + request.url.query
            return await self.switch.relay(forward, name, request, path)
        if target is None:
            if self._metrics is not None:
                self._metrics.ingress_unrouted.inc()
            return PlainTextResponse(
                f"workload {name!r} has no running replica on this node\n", status_code=503
            )
        path = "/" + request.path_params.get("path", "")
        if request.url.query:
            path += "?" + request.url.query
        if self._collector is None and self._metrics is None:
            return await self._forward(name, target, request, path)
        started = time.perf_counter()
        status = 500
        try:
            response = await self._forward(name, target, request, path)
            status = response.status_code
            return response
        finally:
            # Telemetry (edgeorch.telemetry): 5xx, or no answer at all, counts as an error.
            elapsed = time.perf_counter() - started
            if self._metrics is not None:
                self._metrics.observe_ingress(name, status, elapsed)
            if self._collector is not None:
                self._collector.observe(target.task_id, name, elapsed * 1000.0, error=status >= 500)

    async def _forward(self, name: str, target: Target, request: Request, path: str) -> Response:
        body = await request.body()
        if isinstance(target.driver, HttpHandler):
            status, headers, content = await asyncio.to_thread(
                target.driver.handle_http,
                target.task_id,
                request.method,
                path,
                dict(request.headers),
                body,
            )
            return Response(content, status_code=status, headers=_forward_headers(headers))
        return await self._proxy_to(name, target, request, path, body)

    async def _proxy_to(
        self, name: str, target: Target, request: Request, path: str, body: bytes
    ) -> Response:
        if target.port is None:
            return PlainTextResponse(
                f"workload {name!r} serves no port; set artifact.port\n", status_code=502
            )
        url = f"http://127.0.0.1:{target.port}{path}"
        try:
            answer = await self._proxy.request(
                request.method, url, headers=_forward_headers(dict(request.headers)), content=body
            )
        except httpx.TransportError as exc:
            return PlainTextResponse(
                f"workload {name!r} is not answering on port {target.port}: {exc!r}\n",
                status_code=502,
            )
        return Response(
            answer.content, status_code=answer.status_code, headers=_forward_headers(answer.headers)
        )
