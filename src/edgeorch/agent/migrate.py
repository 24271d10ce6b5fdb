"""The agents' side of a live (or snapshot) Wasm migration: a direct hand-off, source to target.

The server only sets it up: it creates the target instance, whose assignment item carries a
:class:`MigrationDirective` (role ``target``, the source's ingress, a per-migration secret). Then:

1. The target agent starts the module, *held* (instantiated, not routed, reported ``starting``),
   and calls the source's ingress: ``POST /_edgeorch/migrations/{id}/handoff``.
2. The source agent checks the call with the server (``GET /agent/nodes/{me}/migrations/{id}``
   answers its own directive and the same secret), then, for ``live``, **pre-copies** while it
   keeps serving: the whole linear memory once, then the 4 KiB chunks dirtied since, in rounds,
   until the estimated stop-and-copy (dirty bytes / measured rate + round trip) fits
   ``max_downtime`` (at most :data:`MAX_ROUNDS`; beyond that it fails rather than overrun).
3. **Switchover**: the source pauses the workload at its ingress (new requests wait, in-flight
   ones finish), sends the last dirty chunks and the globals as the final frame; the target
   applies them and starts serving; the source then forwards the workload to the target's
   ingress and lets the held requests go (they reach the target). The pause is the measured
   downtime. ``snapshot`` skips step 2: the whole state goes in the final frame.
4. Both agents report to the server (``switched`` with the numbers, or ``failed``); the migration
   controller then stops the source. Any failure before the final frame is applied leaves the
   source serving (it resumes at once) and the server rolls the target back.

Frames travel over the agents' ingresses (the same addresses clients use), authenticated by the
secret; their format (big-endian)::

    header  magic "EOMIGR01" | flags u16 (1 = final) | module sha256 (32 bytes)
            | global count u32 | memory count u32
    global  name length u16 | name | kind u8 (0 i32, 1 i64, 2 f32, 3 f64) | value 8 bytes
    memory  name length u16 | name | pages u32 | chunk count u32
            | per chunk: offset u64 | length u32 | raw bytes
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from edgeorch.agent.drivers import Driver, DriverError
from edgeorch.agent.drivers.wasm import PAGE, StateAccess, WasmDriver
from edgeorch.agent.drivers.wasm_snapshot import KINDS
from edgeorch.agent.localstate import Identity
from edgeorch.agent.protocol import AssignmentItem, MigrationDirective
from edgeorch.agent.supervisor import Supervisor
from edgeorch.agent.switch import RouteSwitch
from edgeorch.agent.tls import tls_context

if TYPE_CHECKING:
    # NumPy is imported when a migration runs, not at agent start (idle memory: it is ~13 MB).
    import numpy as np

log = logging.getLogger("edgeorch.agent.migrate")

MAGIC = b"EOMIGR01"
CHUNK = 4096
MAX_ROUNDS = 5
SECRET_HEADER = "x-edgeorch-migration-secret"
PREFIX = "/_edgeorch/migrations"
QUIESCE_TIMEOUT = 5.0
HANDOFF_TIMEOUT = 120.0
_HEADER = struct.Struct(">8sH32sII")


class FrameInvalid(ValueError):
    """Bytes that are not a migration frame."""


class HandoffFailed(Exception):
    """The hand-off cannot go on; the source keeps serving."""


# -- frames -----------------------------------------------------------------------------------


@dataclass
class Frame:
    """Part of an instance's state: globals and changed memory chunks."""

    digest: str
    final: bool
    globals: list[tuple[str, str, int | float]] = field(default_factory=list)
    memories: list[tuple[str, int, list[tuple[int, bytes]]]] = field(default_factory=list)

    @property
    def memory_bytes(self) -> int:
        """Bytes of memory the frame carries."""
        return sum(len(data) for _, _, chunks in self.memories for _, data in chunks)


def _name(name: str) -> bytes:
    raw = name.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw


def encode_frame(frame: Frame) -> bytes:
    """The wire bytes of ``frame``."""
    digest = bytes.fromhex(frame.digest.removeprefix("sha256:"))
    parts = [_HEADER.pack(MAGIC, int(frame.final), digest, len(frame.globals), len(frame.memories))]
    for name, kind, value in frame.globals:
        packed = (
            struct.pack(">q", int(value)) if kind in ("i32", "i64") else struct.pack(">d", value)
        )
        parts += [_name(name), struct.pack(">B", KINDS.index(kind)), packed]
    for name, pages, chunks in frame.memories:
        parts += [_name(name), struct.pack(">II", pages, len(chunks))]
        for offset, data in chunks:
            parts += [struct.pack(">QI", offset, len(data)), data]
    return b"".join(parts)


def decode_frame(data: bytes) -> Frame:
    """The frame in ``data``; :class:`FrameInvalid` if it is not one."""
    view = memoryview(data)
    pos = 0

    def take(n: int) -> memoryview:
        nonlocal pos
        if pos + n > len(view):
            raise FrameInvalid("migration frame is truncated")
        chunk = view[pos : pos + n]
        pos += n
        return chunk

    def name() -> str:
        (length,) = struct.unpack(">H", take(2))
        return bytes(take(length)).decode("utf-8", errors="replace")

    magic, flags, digest, n_globals, n_memories = _HEADER.unpack(take(_HEADER.size))
    if magic != MAGIC:
        raise FrameInvalid("not an edgeorch migration frame (bad magic)")
    frame = Frame(digest="sha256:" + digest.hex(), final=bool(flags & 1))
    for _ in range(n_globals):
        gname = name()
        (kind_index,) = struct.unpack(">B", take(1))
        if kind_index >= len(KINDS):
            raise FrameInvalid(f"global {gname!r} has unknown kind {kind_index}")
        kind = KINDS[kind_index]
        (value,) = struct.unpack(">q" if kind in ("i32", "i64") else ">d", take(8))
        frame.globals.append((gname, kind, value))
    for _ in range(n_memories):
        mname = name()
        pages, count = struct.unpack(">II", take(8))
        chunks = []
        for _ in range(count):
            offset, length = struct.unpack(">QI", take(12))
            chunks.append((offset, bytes(take(length))))
        frame.memories.append((mname, pages, chunks))
    if pos != len(view):
        raise FrameInvalid(f"{len(view) - pos} unexpected bytes after the frame")
    return frame


# -- capturing and applying state ---------------------------------------------------------------


class Baseline:
    """What the target already has of each memory (the source's copy of what it sent)."""

    def __init__(self) -> None:
        self.memories: dict[str, np.ndarray[Any, np.dtype[np.uint8]]] = {}

    def commit(self, frame: Frame) -> None:
        """Record that ``frame`` reached the target."""
        import numpy as np

        for name, pages, chunks in frame.memories:
            base = self.memories.get(name)
            size = pages * PAGE
            if base is None or len(base) < size:
                grown = np.zeros(size, dtype=np.uint8)
                if base is not None:
                    grown[: len(base)] = base
                base = self.memories[name] = grown
            for offset, data in chunks:
                base[offset : offset + len(data)] = np.frombuffer(data, dtype=np.uint8)


def capture(access: StateAccess, baseline: Baseline | None, *, final: bool) -> Frame:
    """The frame that brings the target from ``baseline`` to the state now (all of it without
    a baseline). Call inside ``exclusive_state``."""
    import numpy as np

    frame = Frame(digest=access.digest, final=final, globals=access.globals())
    for name, view in access.memories().items():
        live = np.frombuffer(view, dtype=np.uint8)
        pages = len(live) // PAGE
        base = None if baseline is None else baseline.memories.get(name)
        if base is None:
            frame.memories.append((name, pages, [(0, live.tobytes())]))
            continue
        frame.memories.append((name, pages, _dirty(live, base)))
    return frame


def _dirty(
    live: np.ndarray[Any, np.dtype[np.uint8]], base: np.ndarray[Any, np.dtype[np.uint8]]
) -> list[tuple[int, bytes]]:
    """Runs of CHUNK-sized blocks that differ, plus anything past the baseline's end."""
    import numpy as np

    common = min(len(live), len(base)) // CHUNK * CHUNK
    a = live[:common].view(np.uint64).reshape(-1, CHUNK // 8)
    b = base[:common].view(np.uint64).reshape(-1, CHUNK // 8)
    changed = np.flatnonzero((a != b).any(axis=1))
    chunks: list[tuple[int, bytes]] = []
    if len(changed):
        # Coalesce consecutive blocks into one chunk each.
        breaks = np.flatnonzero(np.diff(changed) != 1) + 1
        for run in np.split(changed, breaks):
            start, end = int(run[0]) * CHUNK, (int(run[-1]) + 1) * CHUNK
            chunks.append((start, live[start:end].tobytes()))
    if len(live) > common:
        chunks.append((common, live[common:].tobytes()))
    return chunks


def apply(access: StateAccess, frame: Frame) -> None:
    """Write ``frame`` into the held instance. Call inside ``exclusive_state``."""
    if frame.digest != access.digest:
        raise FrameInvalid(f"the state is of module {frame.digest}, not of {access.digest}")
    for name, pages, chunks in frame.memories:
        access.grow(name, pages)
        view = access.memories()[name]
        for offset, data in chunks:
            if offset + len(data) > len(view):
                raise FrameInvalid(f"chunk at {offset} (+{len(data)}) is outside memory {name!r}")
            view[offset : offset + len(data)] = data
    if frame.globals:
        access.set_globals(frame.globals)


# -- the agent's migration endpoints and flows ------------------------------------------------


class AgentMigrations:
    """The hand-off, for one agent: target flows, and the ingress endpoints both sides use."""

    def __init__(
        self,
        supervisor: Supervisor,
        switch: RouteSwitch,
        *,
        ingress_url: Callable[[], str],
        identity: Callable[[], Identity | None],
        kick: Callable[[], None],
        wasm: Driver | None = None,
        request_timeout: float = 10.0,
    ) -> None:
        # The wasm driver itself (not a metrics wrapper): the hand-off needs its state access.
        self._wasm = wasm if isinstance(wasm, WasmDriver) else None
        self._supervisor = supervisor
        self._switch = switch
        self._ingress_url = ingress_url
        self._identity = identity
        self._kick = kick
        self._timeout = request_timeout
        self._client = httpx.AsyncClient(timeout=request_timeout, verify=tls_context())
        self._incoming: dict[str, AssignmentItem] = {}  # migration id -> held target item
        self._outgoing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_apply_ms = 0.0  # the target's time to apply the last frame it was sent

    def routes(self) -> list[Route]:
        """The ingress endpoints of the hand-off."""
        return [
            Route(PREFIX + "/{mid}/handoff", self._handoff, methods=["POST"]),
            Route(PREFIX + "/{mid}/frames", self._frames, methods=["POST"]),
            Route(PREFIX + "/{mid}/abort", self._abort, methods=["POST"]),
        ]

    async def aclose(self) -> None:
        """Cancel running flows and close the connection pool."""
        for task in list(self._tasks):
            task.cancel()
        await self._client.aclose()

    def assignments(self, items: list[AssignmentItem]) -> None:
        """Start the target flow of every new migration target among ``items``."""
        for item in items:
            d = item.migration
            if d is None or d.role != "target" or d.id in self._incoming:
                continue
            self._incoming[d.id] = item
            self._spawn(self._target(item, d))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- server calls ----------------------------------------------------------------------

    def _api(self) -> tuple[str, Identity]:
        identity = self._identity()
        if identity is None:
            raise HandoffFailed("the agent has not joined yet")
        return identity.server.rstrip("/") + "/api/v1", identity

    async def _directive(self, mid: str) -> MigrationDirective:
        base, identity = self._api()
        url = f"{base}/agent/nodes/{identity.node_id}/migrations/{mid}"
        headers = {"authorization": f"Bearer {identity.credential}"}
        try:
            answer = await self._client.get(url, headers=headers)
        except httpx.TransportError as exc:
            raise HandoffFailed(f"the control plane is unreachable: {exc!r}") from exc
        if answer.status_code != 200:
            raise HandoffFailed(f"the control plane answered {answer.status_code}: {answer.text}")
        return MigrationDirective.model_validate(answer.json())

    async def report(self, mid: str, event: str, **fields: Any) -> None:
        """Tell the server; retried a few times (the server ignores repeats)."""
        try:
            base, identity = self._api()
        except HandoffFailed:
            return
        url = f"{base}/agent/nodes/{identity.node_id}/migrations/{mid}/report"
        headers = {"authorization": f"Bearer {identity.credential}"}
        body = {"event": event, **fields}
        for attempt in range(5):
            try:
                answer = await self._client.post(url, json=body, headers=headers)
                if answer.status_code < 500:
                    if answer.status_code >= 400:
                        log.warning("migration %s report refused: %s", mid, answer.text)
                    return
            except httpx.TransportError as exc:
                log.info("migration %s report failed (%r); retrying", mid, exc)
            await asyncio.sleep(0.2 * (attempt + 1))

    # -- target side -----------------------------------------------------------------------

    async def _target(self, item: AssignmentItem, d: MigrationDirective) -> None:
        try:
            await self._wait_started(item)
            if d.source_ingress is None:
                raise HandoffFailed("the source node has not reported its ingress address")
            url = f"{d.source_ingress.rstrip('/')}{PREFIX}/{d.id}/handoff"
            body = {"target_url": self._ingress_url(), "target_instance_id": item.instance_id}
            answer = await self._client.post(
                url, json=body, headers={SECRET_HEADER: d.secret}, timeout=HANDOFF_TIMEOUT
            )
        except (HandoffFailed, httpx.TransportError) as exc:
            await self.report(d.id, "failed", message=f"target: {exc}")
            return
        if answer.status_code != 200:
            await self.report(d.id, "failed", message=f"source answered {answer.status_code}: "
                              f"{answer.text.strip()}")  # fmt: skip
            return
        result = answer.json()
        await self.report(d.id, "switched", **result)

    async def _wait_started(self, item: AssignmentItem, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._supervisor.is_held(item.instance_id):
            failure = self._supervisor.failure(item.instance_id)
            if failure is not None:
                raise HandoffFailed(f"the target instance could not start: {failure}")
            if time.monotonic() > deadline:
                raise HandoffFailed(f"the target instance did not start within {timeout:g} s")
            await asyncio.sleep(0.02)

    async def _frames(self, request: Request) -> Response:
        mid = request.path_params["mid"]
        item = self._incoming.get(mid)
        if item is None or item.migration is None:
            return PlainTextResponse(f"no migration {mid} is coming to this node\n", 404)
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, ""), item.migration.secret):
            return PlainTextResponse("wrong migration secret\n", 403)
        running = self._supervisor.task_of(item.instance_id)
        driver = self._wasm
        if running is None or driver is None:
            return PlainTextResponse(f"target instance {item.instance_id} is not running\n", 409)
        data = await request.body()
        started = time.perf_counter()
        try:
            frame = await asyncio.to_thread(_decode_and_apply, driver, item.instance_id, data)
        except (FrameInvalid, DriverError) as exc:
            return PlainTextResponse(f"cannot apply the state: {exc}\n", 422)
        if frame.final:
            self._supervisor.release(item.instance_id)
            self._kick()  # report the new endpoint now
            log.info("migration %s: %s now serves", mid, item.instance_name)
        return JSONResponse(
            {"bytes": len(data), "apply_ms": (time.perf_counter() - started) * 1000.0}
        )

    async def _abort(self, request: Request) -> Response:
        mid = request.path_params["mid"]
        item = self._incoming.get(mid)
        if item is None or item.migration is None:
            return PlainTextResponse("unknown migration\n", 404)
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, ""), item.migration.secret):
            return PlainTextResponse("wrong migration secret\n", 403)
        self._supervisor.hold(item.instance_id, f"migration {mid} was aborted")
        return JSONResponse({"aborted": True})

    # -- source side -----------------------------------------------------------------------

    async def _handoff(self, request: Request) -> Response:
        mid = request.path_params["mid"]
        try:
            body = await request.json()
            target_url = str(body["target_url"]).rstrip("/")
        except (ValueError, KeyError, TypeError):
            return PlainTextResponse("body must be JSON with 'target_url'\n", 422)
        try:
            d = await self._directive(mid)
        except HandoffFailed as exc:
            return PlainTextResponse(f"{exc}\n", 502)
        secret = request.headers.get(SECRET_HEADER, "")
        if d.role != "source" or not hmac.compare_digest(secret, d.secret):
            return PlainTextResponse("this node is not the source, or the secret is wrong\n", 403)
        if d.phase not in ("snapshot", "transfer"):
            return PlainTextResponse(f"migration {mid} is in phase {d.phase}\n", 409)
        if mid in self._outgoing:
            return PlainTextResponse(f"migration {mid} is already being handed off\n", 409)
        running = self._supervisor.task_of(d.source_instance_id)
        if running is None or self._wasm is None or running[0].name != "wasm":
            return PlainTextResponse(
                f"source instance {d.source_instance_id} is not running\n", 409
            )
        self._outgoing.add(mid)
        try:
            result = await self._hand_off(d, self._wasm, running[1], target_url)
        except HandoffFailed as exc:
            log.warning("migration %s failed: %s", mid, exc)
            await self.report(mid, "failed", message=f"source: {exc}")
            return PlainTextResponse(f"{exc}\n", 409)
        finally:
            self._outgoing.discard(mid)
        await self.report(mid, "switched", **result)
        return JSONResponse(result)

    async def _send(self, url: str, d: MigrationDirective, data: bytes) -> tuple[int, float]:
        started = time.perf_counter()
        try:
            answer = await self._client.post(
                f"{url}{PREFIX}/{d.id}/frames",
                content=data,
                headers={SECRET_HEADER: d.secret},
                timeout=HANDOFF_TIMEOUT,
            )
        except httpx.TransportError as exc:
            raise HandoffFailed(f"the target is not answering: {exc!r}") from exc
        if answer.status_code != 200:
            raise HandoffFailed(f"the target refused the state ({answer.status_code}): "
                                f"{answer.text.strip()}")  # fmt: skip
        self.last_apply_ms = float(answer.json().get("apply_ms", 0.0))
        return len(data), time.perf_counter() - started

    async def _hand_off(
        self, d: MigrationDirective, driver: WasmDriver, item: AssignmentItem, url: str
    ) -> dict[str, Any]:
        src, name = d.source_instance_id, item.workload_name
        begun = time.perf_counter()
        baseline: Baseline | None = None
        rounds, sent, timings = 0, 0, {}
        if d.type == "live":
            baseline = Baseline()
            plan = await self._precopy(d, driver, src, url, baseline)
            rounds, sent = plan.rounds, plan.sent
            timings["precopy_ms"] = (time.perf_counter() - begun) * 1000.0
            timings["estimate_ms"] = plan.estimate_ms
        self._supervisor.hold(src, f"handing its state over (migration {d.id})")
        self._switch.pause(name)
        paused = time.perf_counter()
        try:
            if not await self._switch.quiesce(name, QUIESCE_TIMEOUT):
                raise HandoffFailed(f"requests still running after {QUIESCE_TIMEOUT:g} s")
            quiet = time.perf_counter()
            _, data = await asyncio.to_thread(_capture_encoded, driver, src, baseline, True)
            captured = time.perf_counter()
            size, _ = await self._send(url, d, data)
            timings["quiesce_ms"] = (quiet - paused) * 1000.0
            timings["final_capture_ms"] = (captured - quiet) * 1000.0
            timings["final_send_ms"] = (time.perf_counter() - captured) * 1000.0
            timings["final_apply_ms"] = self.last_apply_ms
        except (HandoffFailed, DriverError) as exc:
            self._supervisor.release(src)
            self._switch.resume(name)
            self._spawn(self._abort_target(url, d))
            raise HandoffFailed(str(exc)) from exc
        self._switch.forward(name, url)
        self._switch.resume(name)
        switched = time.perf_counter()
        downtime = (switched - paused) * 1000.0
        timings["pause_ms"] = downtime
        timings["total_ms"] = (switched - begun) * 1000.0
        log.info("migration %s: switched %s to %s after %.1f ms", d.id, name, url, downtime)
        return {
            "downtime_ms": downtime,
            "bytes_transferred": sent + size,
            "precopy_rounds": rounds,
            "timings_ms": timings,
            "message": f"switched after {downtime:.1f} ms ({rounds} pre-copy rounds)",
        }

    async def _precopy(
        self, d: MigrationDirective, driver: WasmDriver, src: str, url: str, baseline: Baseline
    ) -> _Precopy:
        frame, data = await asyncio.to_thread(_capture_encoded, driver, src, None, False)
        size, elapsed = await self._send(url, d, data)
        baseline.commit(frame)
        rate = size / max(elapsed, 1e-4)  # bytes per second, measured
        self._spawn(self.report(d.id, "transfer", bytes_transferred=size, precopy_rounds=1))
        plan = _Precopy(rounds=1, sent=size)
        overhead = 2.0  # ms: a small frame's round trip, refined below
        for _ in range(MAX_ROUNDS):
            frame = await asyncio.to_thread(_capture_from, driver, src, baseline, False)
            plan.estimate_ms = overhead + frame.memory_bytes / rate * 1000.0
            if plan.estimate_ms <= d.max_downtime_ms:
                return plan
            size, elapsed = await self._send(url, d, encode_frame(frame))
            baseline.commit(frame)
            plan.rounds, plan.sent = plan.rounds + 1, plan.sent + size
            if frame.memory_bytes < 64 * CHUNK:
                overhead = min(overhead, elapsed * 1000.0)
        raise HandoffFailed(
            f"the estimated pause of {plan.estimate_ms:.0f} ms still exceeds max_downtime "
            f"{d.max_downtime_ms:g} ms after {plan.rounds} pre-copy rounds: the instance "
            "dirties memory faster than it can be sent; raise max_downtime or use 'snapshot'"
        )

    async def _abort_target(self, url: str, d: MigrationDirective) -> None:
        with contextlib.suppress(httpx.TransportError):  # gone: the server rolls it back
            await self._client.post(
                f"{url}{PREFIX}/{d.id}/abort", headers={SECRET_HEADER: d.secret}
            )


@dataclass
class _Precopy:
    rounds: int
    sent: int
    estimate_ms: float = 0.0


def _capture_from(
    driver: WasmDriver, task_id: str, baseline: Baseline | None, final: bool
) -> Frame:
    with driver.exclusive_state(task_id) as access:
        return capture(access, baseline, final=final)


def _decode_and_apply(driver: WasmDriver, task_id: str, data: bytes) -> Frame:
    frame = decode_frame(data)
    with driver.exclusive_state(task_id) as access:
        apply(access, frame)
    return frame


def _capture_encoded(
    driver: WasmDriver, task_id: str, baseline: Baseline | None, final: bool
) -> tuple[Frame, bytes]:
    frame = _capture_from(driver, task_id, baseline, final)
    return frame, encode_frame(frame)
