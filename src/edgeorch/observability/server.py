"""Metrics wiring of the API app: the request-latency middleware and :func:`install`.

The middleware is plain ASGI (no ``BaseHTTPMiddleware``, which costs a task per request) and
labels each request with the route *template* the router matched (``/api/v1/workloads/{ref}``),
read from ``scope["route"]`` after the call, so raw ids never become label values. Requests no
route matched are labelled ``unmatched``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgeorch.observability.collector import FleetCollector, HeartbeatBook, ServerMetrics
from edgeorch.observability.metrics import HTTP_REQUEST_DURATION
from edgeorch.placement.live import LiveFleet
from edgeorch.store import Database

UNMATCHED = "unmatched"


class RequestMetrics:
    """Observes every HTTP request's duration by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception that escapes the app becomes a 500 further out

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            HTTP_REQUEST_DURATION.labels(
                scope["method"], route_template(scope), str(status)
            ).observe(time.perf_counter() - start)


def route_template(scope: Scope) -> str:
    """The full template of the route that served ``scope`` (after the call), or ``unmatched``.

    FastAPI puts the matched route in ``scope["route"]``, but an included router's route knows
    only its path below the router's prefix. The prefix is what precedes the route's own part
    in the request path (our prefixes are constants, so no raw value can leak through it).
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return UNMATCHED
    path: str = scope.get("path", "")
    params = scope.get("path_params") or {}
    try:
        own = template.format(**{k: str(v) for k, v in params.items()})
    except (KeyError, IndexError, ValueError):
        return template
    if own and path.endswith(own):
        return path[: len(path) - len(own)] + template
    return template


def install(
    app: FastAPI, database: Database, fleet: LiveFleet, clock: Callable[[], datetime]
) -> None:
    """Give ``app`` its heartbeat book, its metrics registry and the request middleware."""
    book = HeartbeatBook()
    app.state.heartbeat_book = book
    app.state.server_metrics = ServerMetrics(FleetCollector(database, fleet, book, clock))
    app.add_middleware(RequestMetrics)
