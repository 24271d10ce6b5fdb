"""The ingress's route switch for migrations: pause a workload, count its requests, forward it.

During a live hand-off (``agent/migrate.py``) the source agent *pauses* a workload: new requests
wait (up to ``hold_timeout``) instead of failing, and ``quiesce`` waits until the requests already
inside have finished, so the state copied next is the state every answered request saw. After
the switchover the workload is *forwarded*: requests that find no local replica are relayed to
the target agent's ingress, so clients that still use the old endpoint keep being served; the
API shows the new endpoint once the target reports it. Forwards expire after ``forward_ttl``.

All methods run on the agent's event loop.
"""

import asyncio
import time
from collections.abc import Callable

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from edgeorch.agent.tls import tls_context

HOP_HEADER = "x-edgeorch-forwarded"
MAX_HOPS = 4
DEFAULT_HOLD_TIMEOUT = 10.0
DEFAULT_FORWARD_TTL = 600.0
_DROP = frozenset({"host", "content-length", "connection", "transfer-encoding", "keep-alive"})


class RouteSwitch:
    """Per-workload pause, in-flight count and forward address."""

    def __init__(
        self,
        *,
        hold_timeout: float = DEFAULT_HOLD_TIMEOUT,
        forward_ttl: float = DEFAULT_FORWARD_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hold_timeout = hold_timeout
        self._ttl = forward_ttl
        self._clock = clock
        self._paused: dict[str, asyncio.Event] = {}
        self._inflight: dict[str, int] = {}
        self._idle: dict[str, asyncio.Event] = {}
        self._forwards: dict[str, tuple[str, float]] = {}
        self._client: httpx.AsyncClient | None = None

    # -- pause -----------------------------------------------------------------------------

    def pause(self, name: str) -> None:
        """Hold new requests for ``name`` until :meth:`resume`."""
        self._paused.setdefault(name, asyncio.Event())

    def resume(self, name: str) -> None:
        """Let held and new requests for ``name`` through."""
        gate = self._paused.pop(name, None)
        if gate is not None:
            gate.set()

    async def quiesce(self, name: str, timeout: float) -> bool:
        """Wait until no request for ``name`` is being served here; False after ``timeout``."""
        if not self._inflight.get(name):
            return True
        idle = self._idle.setdefault(name, asyncio.Event())
        try:
            await asyncio.wait_for(idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def enter(self, name: str) -> bool:
        """Admit one request (waiting while ``name`` is paused); False if it waited too long."""
        gate = self._paused.get(name)
        if gate is not None:
            try:
                await asyncio.wait_for(gate.wait(), self.hold_timeout)
            except TimeoutError:
                return False
        self._inflight[name] = self._inflight.get(name, 0) + 1
        return True

    def leave(self, name: str) -> None:
        """One admitted request is done."""
        left = self._inflight.get(name, 1) - 1
        if left > 0:
            self._inflight[name] = left
            return
        self._inflight.pop(name, None)
        idle = self._idle.pop(name, None)
        if idle is not None:
            idle.set()

    # -- forward ---------------------------------------------------------------------------

    def forward(self, name: str, ingress_url: str) -> None:
        """Relay requests for ``name`` that find no local replica to ``ingress_url``."""
        self._forwards[name] = (ingress_url.rstrip("/"), self._clock() + self._ttl)

    def unforward(self, name: str) -> None:
        """Stop relaying ``name``."""
        self._forwards.pop(name, None)

    def forward_to(self, name: str) -> str | None:
        """Where ``name`` is relayed to, if it is and the forward has not expired."""
        entry = self._forwards.get(name)
        if entry is None:
            return None
        if self._clock() > entry[1]:
            del self._forwards[name]
            return None
        return entry[0]

    async def relay(self, base: str, name: str, request: Request, path: str) -> Response:
        """Send ``request`` to ``base``'s ingress and answer what it answers."""
        hops = int(request.headers.get(HOP_HEADER, "0") or 0)
        if hops >= MAX_HOPS:
            return PlainTextResponse(
                f"workload {name!r} was forwarded {hops} times without reaching a replica\n",
                status_code=508,
            )
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=30.0, verify=tls_context())
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
        headers[HOP_HEADER] = str(hops + 1)
        try:
            answer = await self._client.request(
                request.method,
                f"{base}/w/{name}{path}",
                headers=headers,
                content=await request.body(),
            )
        except httpx.TransportError as exc:
            return PlainTextResponse(
                f"workload {name!r} moved to {base}, which is not answering: {exc!r}\n",
                status_code=502,
            )
        out = {k: v for k, v in answer.headers.items() if k.lower() not in _DROP}
        out.pop("content-encoding", None)
        return Response(answer.content, status_code=answer.status_code, headers=out)

    async def aclose(self) -> None:
        """Close the relay's connection pool."""
        if self._client is not None:
            await self._client.aclose()
