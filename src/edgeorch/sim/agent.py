"""One simulated agent: the real join/heartbeat/watch protocol, with a simulated driver.

It speaks through the same :class:`~edgeorch.agent.client.ControlPlane` and protocol models as
``edgeorch agent`` (only the connection pool is shared with the other simulated agents), so the
control plane cannot tell it from a real node. What it reports is modelled: instances go
``starting`` → ``running`` after the driver's start delay, utilization is an idle baseline plus
the resources of its instances, and endpoints are fake URLs under the reserved ``.invalid``
top-level domain (RFC 2606) so nothing ever tries to resolve them.

Fault states (set by the runner): ``silent`` stops heartbeats and watches while the node keeps
"running" its instances (a hang or a network partition); killing is cancelling :meth:`run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from edgeorch import __version__
from edgeorch.agent.client import ControlPlane, ControlPlaneError, Refused, Unreachable
from edgeorch.agent.drivers import TaskNotFound, TaskSpec, TaskState
from edgeorch.agent.protocol import (
    AssignmentItem,
    Heartbeat,
    InstanceReport,
    JoinRequest,
    JoinResponse,
    Measured,
    NodeFacts,
)
from edgeorch.domain.enums import InstanceState
from edgeorch.schemas.node import Utilization
from edgeorch.sim.driver import SimDriver
from edgeorch.sim.fleet import SimNode
from edgeorch.telemetry.model import RequestStats
from edgeorch.telemetry.simulated import modelled_stats

MAX_BACKOFF = 10.0
JoinTokenSource = Callable[[str], Awaitable[str]]
EventSink = Callable[[str, str], None]


@dataclass
class Credential:
    """A simulated node's identity, as the real agent keeps it in its local state."""

    node_id: str
    credential: str


@dataclass
class AgentStats:
    """Counters shared by every simulated agent of one run (one event loop: no locks)."""

    joined: int = 0
    join_failures: int = 0
    heartbeats: int = 0
    heartbeat_failures: int = 0
    heartbeat_latencies: list[float] = field(default_factory=list)
    assignment_changes: int = 0
    instances_started: int = 0
    instances_stopped: int = 0


class JoinRefused(Exception):
    """The control plane refused to let a simulated node join."""


DEFAULT_LOAD = 0.3  # share of its requested CPU a simulated instance uses
SIM_HEALTH_ENV = "EDGEORCH_SIM_HEALTH"  # "fail": the instance fails its health check


class SimAgent:
    """One simulated node's agent loop; see the module docstring."""

    def __init__(
        self,
        node: SimNode,
        client: ControlPlane,
        *,
        join_token: JoinTokenSource,
        stats: AgentStats,
        heartbeat_interval: float = 5.0,
        watch_timeout: float = 55.0,
        watch: bool = True,
        credential: Credential | None = None,
        on_credential: Callable[[str, Credential], None] | None = None,
        events: EventSink | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        join_slots: asyncio.Semaphore | None = None,
    ) -> None:
        self.node = node
        self.client = client
        self.credential = credential
        self.silent = False
        self._join_token = join_token
        self._join_slots = join_slots
        self._stats = stats
        self._interval = heartbeat_interval
        self._watch_timeout = watch_timeout
        self._watching = watch
        self._on_credential = on_credential
        self._events = events or (lambda kind, message: None)
        self._rng = rng or random.Random(node.name)
        self._clock = clock
        self._now = now
        self.driver = SimDriver(clock=clock, rng=self._rng)
        self._desired: dict[str, AssignmentItem] = {}
        self._started_at: dict[str, datetime] = {}
        self._revision = 0
        self._digest = ""
        self._kick = asyncio.Event()
        # An idle machine is not at zero: OS, agent and caches use a little of everything.
        self._idle = (self._rng.uniform(0.02, 0.08), self._rng.uniform(0.08, 0.15))
        self._storage = self._rng.uniform(0.05, 0.30)
        # Request statistics (edgeorch.telemetry.simulated): a multiplier of every service
        # time, for scenarios and tests that slow a node's workloads down.
        self.slowdown = 1.0
        self._requests_rng = np.random.default_rng(self._rng.getrandbits(64))
        self._last_beat: float | None = None
        # Health and CPU model (docs/operations.md): a running instance passes its health check
        # unless its artifact's env has EDGEORCH_SIM_HEALTH=fail; it uses `load[workload name]`
        # (default DEFAULT_LOAD) of its requested CPU. Scenarios and tests change `load`.
        self.load: dict[str, float] = {}

    @property
    def name(self) -> str:
        """The node's name."""
        return self.node.name

    @property
    def ingress(self) -> str:
        """The fake ingress URL of this node."""
        return f"http://{self.name}.sim.edgeorch.invalid"

    async def run(self, first_beat_delay: float = 0.0) -> None:
        """Join (unless a credential is held), then heartbeat and watch until cancelled."""
        if self.credential is None:
            await self.join()
        loops = [self._heartbeats(first_beat_delay)]
        if self._watching:  # benchmarks may measure the heartbeat path alone
            loops.append(self._watch())
        await asyncio.gather(*loops)

    # -- join ----------------------------------------------------------------------------------

    def join_request(self) -> JoinRequest:
        """What the real agent would send, with the modelled machine as its measurement."""
        spec = self.node.node.spec
        facts = NodeFacts(
            edge_type=spec.edge_type,
            region=spec.region,
            zone=spec.zone,
            latitude=spec.location.latitude,
            longitude=spec.location.longitude,
            country=spec.country,
            cost_per_hour=spec.cost_per_hour,
        )
        measured = Measured(arch=spec.arch, capacity=spec.capacity, capabilities=spec.capabilities)
        return JoinRequest(
            name=self.name,
            labels=self.node.node.metadata.labels,
            facts=facts,
            measured=measured,
            agent={
                "version": __version__,
                "driver.sim": "1",
                "sim.access_rtt_ms": f"{self.node.access_rtt_ms:g}",
            },
        )

    async def join(self) -> Credential:
        """Join with a fresh join token, retrying while the control plane is unreachable.

        With ``join_slots``, minting the token and joining hold one slot: thousands of nodes
        starting at once join a few dozen at a time instead of queueing thousands of requests
        on the server (and on the client's connection pool, until they time out and retry)."""
        async with self._join_slots or contextlib.nullcontext():
            answer = await self._join_with_retries()
        self.credential = Credential(answer.node_id, answer.credential)
        self._stats.joined += 1
        if self._on_credential is not None:
            self._on_credential(self.name, self.credential)
        return self.credential

    async def _join_with_retries(self) -> JoinResponse:
        backoff = 0.5
        while True:
            try:
                token = await self._join_token(self.name)
                return await self.client.join(token, self.join_request())
            except Refused as exc:
                self._stats.join_failures += 1
                self._events("join-failed", f"{self.name}: {exc}")
                raise JoinRefused(f"{self.name} may not join: {exc}") from exc
            except Unreachable:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    # -- heartbeats ----------------------------------------------------------------------------

    def utilization(self) -> Utilization:
        """Idle baseline plus the requested resources of the instances, capped at 1."""
        capacity = self.node.node.spec.capacity
        cpu, memory_mb = self.driver.usage()
        return Utilization(
            cpu=min(self._idle[0] + cpu / max(capacity.cpu, 1e-9), 1.0),
            memory=min(self._idle[1] + memory_mb / max(capacity.memory_mb, 1), 1.0),
            storage=self._storage,
        )

    def reports(self) -> list[InstanceReport]:
        """Each desired instance's modelled state, as the real supervisor reports it."""
        out = []
        for item in self._desired.values():
            try:
                status = self.driver.status(item.instance_id)
            except TaskNotFound:
                out.append(InstanceReport(id=item.instance_id, state=InstanceState.PENDING))
                continue
            if status.state is TaskState.FAILED:
                state, endpoint, message = InstanceState.FAILED, None, status.reason
            elif status.state is TaskState.RUNNING:
                state = InstanceState.RUNNING
                endpoint = f"{self.ingress}/w/{item.workload_name}/"
                message = "running (sim, limits: sim)"
            else:
                state, endpoint, message = InstanceState.STARTING, None, ""
            healthy, health_message, cpu = self._modelled_health(item, state)
            out.append(
                InstanceReport(
                    id=item.instance_id,
                    state=state,
                    endpoint=endpoint,
                    message=message,
                    started_at=self._started_at.get(item.instance_id),
                    healthy=healthy,
                    health_message=health_message,
                    cpu_cores=cpu,
                )
            )
        return out

    def _modelled_health(
        self, item: AssignmentItem, state: InstanceState
    ) -> tuple[bool | None, str, float | None]:
        """(healthy, health message, CPU cores) of a simulated instance (see ``load``)."""
        if state is not InstanceState.RUNNING:
            return None, "", None
        spec = item.workload_spec
        cpu = round(spec.resources.cpu * self.load.get(item.workload_name, DEFAULT_LOAD), 4)
        if spec.health_check is None:
            return None, "", cpu
        if spec.artifact.env.get(SIM_HEALTH_ENV) == "fail":
            return False, f"GET {spec.health_check.http_path} answered 500 (simulated)", cpu
        return True, f"GET {spec.health_check.http_path} answered 200 (simulated)", cpu

    def request_stats(self, utilization: Utilization) -> list[RequestStats]:
        """Modelled requests of the running instances since the last heartbeat."""
        now = self._clock()
        seconds = 0.0 if self._last_beat is None else now - self._last_beat
        self._last_beat = now
        out = []
        for item in self._desired.values():
            try:
                running = self.driver.status(item.instance_id).state is TaskState.RUNNING
            except TaskNotFound:
                continue
            if not running or seconds <= 0:
                continue
            stats = modelled_stats(
                instance_id=item.instance_id,
                workload=item.workload_name,
                runtime=item.workload_spec.runtime.value,
                rho=utilization.cpu,
                seconds=seconds,
                at=now,
                rng=self._requests_rng,
                slowdown=self.slowdown,
            )
            if stats.requests:
                out.append(stats)
        return out

    async def heartbeat(self) -> None:
        """Send one heartbeat; a refused credential makes the node join again."""
        assert self.credential is not None
        utilization = self.utilization()
        beat = Heartbeat(
            utilization=utilization,
            instances=self.reports(),
            ingress=self.ingress,
            revision=self._revision,
            telemetry=self.request_stats(utilization),
        )
        started = self._clock()
        try:
            await self.client.heartbeat(self.credential.node_id, self.credential.credential, beat)
        except Refused as exc:
            self._stats.heartbeat_failures += 1
            if exc.status in (401, 403):  # credential revoked or store reset: join again
                self._events("rejoin", f"{self.name}: credential refused ({exc.status})")
                await self.join()
            return
        except ControlPlaneError:
            self._stats.heartbeat_failures += 1
            return
        self._stats.heartbeats += 1
        self._stats.heartbeat_latencies.append(self._clock() - started)

    def _next_wait(self) -> float:
        # Report a starting instance as running soon after its delay, not a full interval later.
        pending = [
            t.ready_at - self._clock()
            for t in self.driver._tasks.values()
            if not t.failed and t.ready_at > self._clock()
        ]
        soonest = min(pending, default=self._interval) + 0.01
        return max(min(self._interval, soonest), 0.01)

    async def _heartbeats(self, first_delay: float) -> None:
        await asyncio.sleep(first_delay)
        while True:
            if not self.silent:
                await self.heartbeat()
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self._next_wait())

    # -- assignments ---------------------------------------------------------------------------

    async def _watch(self) -> None:
        backoff = 0.5
        while True:
            if self.silent or self.credential is None:
                await asyncio.sleep(1.0)
                continue
            try:
                answer = await self.client.assignments(
                    self.credential.node_id,
                    self.credential.credential,
                    since=self._revision,
                    digest=self._digest,
                    timeout=self._watch_timeout,
                )
            except ControlPlaneError:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 0.5
            if self.silent or not answer.changed or answer.revision < self._revision:
                continue
            self._revision, self._digest = answer.revision, answer.digest
            self._stats.assignment_changes += 1
            self.converge(answer.items)
            self._kick.set()

    def converge(self, items: list[AssignmentItem]) -> None:
        """Start missing instances and stop unwanted ones on the simulated driver."""
        wanted = {i.instance_id: i for i in items if i.desired_state == "running"}
        for instance_id in set(self._desired) - set(wanted):
            self.driver.stop(instance_id)
            self._started_at.pop(instance_id, None)
            self._stats.instances_stopped += 1
        for instance_id, item in wanted.items():
            old = self._desired.get(instance_id)
            if old is not None and old.generation == item.generation:
                continue
            self.driver.start(TaskSpec.from_workload(instance_id, item.workload_spec))
            self._started_at[instance_id] = self._now()
            self._stats.instances_started += 1
        self._desired = wanted
