"""Probes of running instances on the agent: health checks, and how much CPU each one uses.

The server only decides (rollouts, drains, the autoscaler); it learns what it decides on from
the heartbeat's :class:`~edgeorch.agent.protocol.InstanceReport` (``healthy``,
``health_message``, ``cpu_cores``), which the supervisor fills from here.

**Health** (:class:`Prober`): every running instance whose template has a ``health_check`` is
probed every ``interval_seconds`` once ``initial_delay_seconds`` have passed since it started:

- ``http``: ``GET http_path`` on ``127.0.0.1:<port>`` (process), or through the driver's
  in-process handler (wasm); a 2xx/3xx answer within ``timeout_seconds`` passes;
- ``tcp``: a TCP connection to the port passes (a wasm instance has no port: the handler is
  called as for ``http``).

An instance is ``healthy`` after one pass and unhealthy after ``failure_threshold`` consecutive
failures; before either it is unknown (``None``). A restarted task starts over.

**CPU** (:class:`CpuMeter`): cores used between two heartbeats. Process tasks: user + system
time of the process and its live descendants (psutil), plus what its reaped children used, per
wall second. Wasm tasks: the time the ingress spent inside the guest's handler per wall second,
capped at one core (one instance serves one request at a time, so waiting for it counts too:
under load that is queueing, which is what an autoscaler should react to).
"""

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx
import psutil

from edgeorch.agent.drivers import HttpHandler
from edgeorch.agent.tls import tls_context
from edgeorch.schemas.workload import HealthCheck
from edgeorch.telemetry.collector import RequestCollector

log = logging.getLogger(__name__)
MIN_TICK = 0.05  # seconds between two looks at which probes are due


@dataclass(frozen=True)
class ProbeTarget:
    """One running instance to probe: what to call, with which check; ``key`` changes when the
    task is restarted with another spec (then its health starts over)."""

    instance_id: str
    key: str
    check: HealthCheck
    port: int | None = None
    handler: HttpHandler | None = None
    started: float = 0.0  # time.monotonic() when the task started


@dataclass
class _State:
    key: str
    healthy: bool | None = None
    failures: int = 0
    message: str = "not probed yet"
    due: float = 0.0
    running: bool = False


@dataclass(frozen=True)
class ProbeResult:
    """The health of one instance as the heartbeat reports it."""

    healthy: bool | None
    message: str


class Prober:
    """Runs the health checks of ``targets()`` on their intervals (see the module docstring)."""

    def __init__(
        self,
        targets: Callable[[], list[ProbeTarget]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._targets = targets
        self._clock = clock
        self._states: dict[str, _State] = {}
        self._client = httpx.AsyncClient(follow_redirects=False, verify=tls_context())

    def result(self, instance_id: str, key: str) -> ProbeResult:
        """The latest verdict for ``instance_id`` (unknown when its task is not the probed one)."""
        state = self._states.get(instance_id)
        if state is None or state.key != key:
            return ProbeResult(None, "not probed yet")
        return ProbeResult(state.healthy, state.message)

    async def run(self, stop: asyncio.Event) -> None:
        """Probe until ``stop`` is set."""
        try:
            while not stop.is_set():
                await self.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), MIN_TICK * 2)
        finally:
            await self._client.aclose()

    async def tick(self) -> None:
        """Start every probe that is due (each runs on its own; a slow one blocks no other)."""
        now = self._clock()
        targets = self._targets()
        live = {t.instance_id for t in targets}
        for gone in set(self._states) - live:
            del self._states[gone]
        for target in targets:
            state = self._states.get(target.instance_id)
            if state is None or state.key != target.key:
                due = target.started + target.check.initial_delay_seconds
                state = self._states[target.instance_id] = _State(target.key, due=due)
            if state.running or now < state.due:
                continue
            state.running = True
            state.due = now + target.check.interval_seconds
            asyncio.get_running_loop().create_task(self._probe_once(target, state))

    async def _probe_once(self, target: ProbeTarget, state: _State) -> None:
        try:
            passed, why = await probe(target, self._client)
        except Exception as exc:  # a probe must never take the agent down
            passed, why = False, f"probe error: {exc!r}"
        finally:
            state.running = False
        if passed:
            state.healthy, state.failures, state.message = True, 0, why
            return
        state.failures += 1
        threshold = target.check.failure_threshold
        state.message = f"{why} ({state.failures} consecutive failure(s), threshold {threshold})"
        if state.failures >= threshold:
            if state.healthy is not False:
                log.warning("instance %s is unhealthy: %s", target.instance_id, state.message)
            state.healthy = False


async def probe(target: ProbeTarget, client: httpx.AsyncClient) -> tuple[bool, str]:
    """One probe of ``target``: (passed, a sentence saying what happened)."""
    check = target.check
    if target.handler is not None:
        return await _probe_handler(target.handler, target.instance_id, check)
    if target.port is None:
        return False, "the instance has no port to probe"
    if check.type == "tcp":
        return await _probe_tcp(target.port, check.timeout_seconds)
    url = f"http://127.0.0.1:{target.port}{check.http_path}"
    try:
        answer = await client.get(url, timeout=check.timeout_seconds)
    except httpx.TimeoutException:
        return False, f"GET {check.http_path} timed out after {check.timeout_seconds:g} s"
    except httpx.HTTPError as exc:
        return False, f"GET {check.http_path} failed: {type(exc).__name__}: {exc}"
    return _verdict(check, answer.status_code)


async def _probe_tcp(port: int, timeout: float) -> tuple[bool, str]:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    except (OSError, TimeoutError) as exc:
        return False, f"TCP connect to port {port} failed: {exc!r}"
    writer.close()
    return True, f"TCP port {port} accepts connections"


async def _probe_handler(
    handler: HttpHandler, task_id: str, check: HealthCheck
) -> tuple[bool, str]:
    call = asyncio.to_thread(handler.handle_http, task_id, "GET", check.http_path, {}, b"")
    try:
        status, _, _ = await asyncio.wait_for(call, check.timeout_seconds)
    except TimeoutError:
        return False, f"GET {check.http_path} timed out after {check.timeout_seconds:g} s"
    return _verdict(check, status)


def _verdict(check: HealthCheck, status: int) -> tuple[bool, str]:
    if 200 <= status < 400:
        return True, f"GET {check.http_path} answered {status}"
    return False, f"GET {check.http_path} answered {status}"


@dataclass
class _Sample:
    cpu_seconds: float
    at: float


@dataclass
class CpuMeter:
    """Cores each instance used since the previous reading (see the module docstring)."""

    clock: Callable[[], float] = time.monotonic
    _last: dict[str, _Sample] = field(default_factory=dict)
    _guest: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_guest_time(self, instance_id: str, seconds: float) -> None:
        """Time the ingress spent in a wasm instance's handler (any thread)."""
        with self._lock:
            self._guest[instance_id] = self._guest.get(instance_id, 0.0) + max(seconds, 0.0)

    def process_cores(self, instance_id: str, pid: int | None) -> float | None:
        """Cores the process tree of ``pid`` used since the last call (None: first reading)."""
        total = _tree_cpu_seconds(pid) if pid is not None else None
        if total is None:
            self._last.pop(instance_id, None)
            return None
        return self._rate(instance_id, total, cap=None)

    def guest_cores(self, instance_id: str) -> float | None:
        """Cores a wasm instance's guest used since the last call, at most one."""
        with self._lock:
            total = self._guest.get(instance_id, 0.0)
        return self._rate(instance_id, total, cap=1.0)

    def forget(self, keep: Iterable[str]) -> None:
        """Drop what is known of instances not in ``keep``."""
        wanted = set(keep)
        with self._lock:
            for table in (self._last, self._guest):
                for instance_id in set(table) - wanted:
                    del table[instance_id]

    def _rate(self, instance_id: str, total: float, cap: float | None) -> float | None:
        now = self.clock()
        previous = self._last.get(instance_id)
        self._last[instance_id] = _Sample(total, now)
        if previous is None or now <= previous.at or total < previous.cpu_seconds:
            return None
        cores = (total - previous.cpu_seconds) / (now - previous.at)
        return round(min(cores, cap) if cap is not None else cores, 4)


def _tree_cpu_seconds(pid: int) -> float | None:
    try:
        root = psutil.Process(pid)
        times = root.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in root.children(recursive=True):
            try:
                t = child.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            total += t.user + t.system
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return total


class MeteredCollector(RequestCollector):
    """The ingress's request collector, also counting the time spent in each instance for
    :class:`CpuMeter` (used for wasm instances, whose requests are served in-process)."""

    def __init__(self, cpu: CpuMeter) -> None:
        super().__init__()
        self._cpu = cpu

    def observe(self, instance_id: str, workload: str, latency_ms: float, *, error: bool) -> None:
        """Count the request and its time."""
        super().observe(instance_id, workload, latency_ms, error=error)
        self._cpu.add_guest_time(instance_id, latency_ms / 1000.0)
