"""The FastAPI application: routes under ``/api/v1``, problem+json errors, body size limit."""

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI

from edgeorch import __version__
from edgeorch.agent.presence import Presence
from edgeorch.api import problems
from edgeorch.api.auth import TokenCache
from edgeorch.api.limits import BodySizeLimit
from edgeorch.api.looplag import LoopLag
from edgeorch.api.routes import (
    agent,
    alerts,
    analytics,
    apply,
    artifacts,
    dashboard,
    events,
    health,
    instances,
    metrics,
    migrations,
    nodes,
    placement,
    stream,
    tenants,
    tokens,
    workloads,
)
from edgeorch.config import ServerSettings, freeze_survivors
from edgeorch.controllers import ControllerManager, ControllerSettings
from edgeorch.controllers.manager import NodeLifecycle
from edgeorch.controllers.process import ControllerProcess, shareable
from edgeorch.observability import server as observability
from edgeorch.placement.live import LiveFleet
from edgeorch.store import Database
from edgeorch.telemetry.recorder import TelemetryRecorder, TelemetrySettings

API_PREFIX = "/api/v1"


def create_app(
    database: Database,
    settings: ServerSettings | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    controllers: ControllerSettings | None = None,
    freeze_garbage: bool = False,
) -> FastAPI:
    """Build the API over an already migrated ``database``; the clock defaults to the store's,
    so expiry checks and stored timestamps agree. With ``controllers`` the controller manager
    runs for the app's lifetime (``edgeorch server`` passes them; API tests do not). With
    ``freeze_garbage`` the process's garbage collection is run by the app's event loop for
    its lifetime (``config.freeze_survivors``; servers only, not tests sharing a process)."""
    settings = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lag: LoopLag = app.state.loop_lag
        lag.start()
        undo_gc = freeze_survivors(asyncio.get_running_loop()) if freeze_garbage else None
        tokens: TokenCache = app.state.token_cache
        tokens.start(database)
        running = _start_controllers(app, database, controllers)
        try:
            yield
        finally:
            for part in running:
                part.stop()
            if undo_gc is not None:
                undo_gc()
            await lag.stop()
            tokens.stop(database)
            beats = getattr(app.state, "heartbeats", None)
            if beats is not None:
                beats.close()  # commits the queued heartbeat writes (api/heartbeats.py)
            hub = getattr(app.state, "agent_hub", None)
            if hub is not None:
                hub.close()
            stream_hub = getattr(app.state, "stream_hub", None)
            if stream_hub is not None:
                stream_hub.close()

    app = FastAPI(
        **_without_native_telemetry(),
        lifespan=lifespan,
        title="edgeorch",
        version=__version__,
        description="Edge computing orchestration: nodes, workloads, placement, events.",
        docs_url="/api/docs",
        redoc_url="/api/redoc",
        openapi_url="/api/openapi.json",
    )
    app.state.database = database
    app.state.settings = settings
    app.state.clock = clock or database.clock
    app.state.token_cache = TokenCache()
    app.state.fleet = LiveFleet(database)
    app.state.loop_lag = LoopLag(app.state.clock)
    app.state.telemetry = TelemetryRecorder(TelemetrySettings.from_env())
    problems.install(app)
    # The agents' calls first: they are most of the requests (a heartbeat per node every few
    # seconds), and the router tries its routes in order.
    app.router.routes.extend(agent.lane_routes(API_PREFIX))
    api = APIRouter(prefix=API_PREFIX)
    for module in (
        agent,
        nodes,
        workloads,
        instances,
        events,
        tokens,
        tenants,
        apply,
        placement,
        artifacts,
        migrations,
        dashboard,
        stream,
        analytics,
        alerts,
    ):
        api.include_router(module.router)
    api.include_router(migrations.agent_router)
    app.include_router(api)
    app.include_router(health.router)
    app.include_router(dashboard.pages)
    app.include_router(metrics.router)
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_body_bytes,
        overrides={f"{API_PREFIX}/artifacts": artifacts.max_artifact_bytes()},
    )
    # Outermost, so it also times requests the body limit refuses.
    observability.install(app, database, app.state.fleet, app.state.clock)
    return app


def _without_native_telemetry() -> dict[str, Any]:
    """FastAPI's built-in OpenTelemetry off, where this FastAPI has it (0.16x): its check
    whether to trace looks up several environment variables on every request, 10 % of the
    server's CPU at 10,000 agents (py-spy, 2026-11-22). edgeorch's own metrics are
    Prometheus' (``/metrics``, docs/metrics.md)."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    off = {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}
    return {"telemetry": off}


def _start_controllers(
    app: FastAPI, database: Database, settings: ControllerSettings | None
) -> list[ControllerManager | ControllerProcess | NodeLifecycle]:
    """Start what ``settings`` asks for: nothing (None); every controller in threads of this
    process; or the node lifecycle here and the others in a child process
    (``settings.own_process``, when another process can open the store)."""
    app.state.controllers = None
    if settings is None:
        return []

    presence = _AppPresence(app)
    stalled = app.state.loop_lag.stalled_since
    if not (settings.own_process and shareable(database)):
        manager = ControllerManager(
            database, app.state.fleet, presence, settings, app.state.clock, stalled
        )
        manager.start()
        app.state.controllers = manager
        return [manager]
    lifecycle = NodeLifecycle(database, presence, settings, app.state.clock, stalled)
    child = ControllerProcess(database, settings)
    app.state.server_metrics.include_process(child.metrics_dir)
    child.start()
    lifecycle.start()
    app.state.controllers = child
    return [lifecycle, child]


class _AppPresence:
    """The app's heartbeat presence as the node lifecycle reads it (``controllers/nodes.py``
    ``LastSeen``, plus ``lookup`` for a whole pass). The agent routes create the presence on
    the first agent call (``routes/agent.py``)."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def _presence(self) -> Presence | None:
        presence: Presence | None = getattr(self._app.state, "agent_presence", None)
        return presence

    def __call__(self, node_id: str) -> datetime | None:
        presence = self._presence()
        return None if presence is None else presence.last_seen(node_id)

    def lookup(self) -> Callable[[str], datetime | None]:
        presence = self._presence()
        return _never_seen if presence is None else presence.lookup()


def _never_seen(node_id: str) -> None:
    return None
