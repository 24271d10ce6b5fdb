"""Run a simulated fleet: many :class:`SimAgent` on one event loop and one connection pool.

How nodes join: join tokens are single-use, so each simulated node needs its own. Given an
admin token (``--token``), the runner first registers every node's full spec through
``POST /api/v1/apply`` (so network slices and zones, which an agent's join facts cannot carry,
are there) and mints one join token per node through ``POST /api/v1/tokens``. Given only join
tokens (``--join-token``, repeatable), each node takes one and registers itself from its join
facts; there must be one token per node.

Credentials can be kept in a JSON file (``state_file``) so that a second run over the same fleet
heartbeats as the same nodes without joining again, the way a real agent keeps its credential.

Faults (``edgeorch.sim.faults``) are applied on the injected clock and reported as they happen
through ``events``; :class:`Summary` counts everything at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from edgeorch.agent.client import API, ControlPlane, Requests
from edgeorch.config import raise_open_file_limit
from edgeorch.sim.agent import AgentStats, Credential, JoinRefused, SimAgent
from edgeorch.sim.faults import Fault, per_second_probability
from edgeorch.sim.fleet import SimNode
from edgeorch.sim.transport import SimClient, SimTransport

EventSink = Callable[[str, str], None]
NodeFactory = Callable[[int], SimNode]
APPLY_CHUNK = 500
JOIN_CONCURRENCY = 32
T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (uvicorn[standard] brings it on Linux and
    macOS), else asyncio's. Thousands of simulated agents' connections and timers on one loop
    are the simulator's main cost, and uvloop does that work in C (docs/benchmarks.md)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_on_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on :func:`new_event_loop`."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


class SimulationError(Exception):
    """The simulation cannot start (no way to join its nodes, the server refused, ...)."""


@dataclass
class SimConfig:
    """What to simulate and against which server."""

    server: str
    nodes: list[SimNode]
    admin_token: str | None = None
    join_tokens: list[str] = field(default_factory=list)
    heartbeat_interval: float = 5.0
    watch_timeout: float = 55.0
    watch: bool = True
    request_timeout: float = 30.0
    seed: int = 0
    faults: list[Fault] = field(default_factory=list)
    fail_rate: float = 0.0
    duration: float | None = None
    state_file: Path | None = None
    new_node: NodeFactory | None = None  # builds the i-th extra node for churn


@dataclass
class Summary:
    """Counts for the final report."""

    nodes: int
    joined: int
    join_failures: int
    heartbeats: int
    heartbeat_failures: int
    heartbeat_p50_ms: float
    heartbeat_p99_ms: float
    assignment_changes: int
    instances_started: int
    faults: dict[str, int]
    elapsed_s: float

    def lines(self) -> list[str]:
        """The summary as short lines for a console."""
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        return [
            f"nodes {self.nodes} (joined {self.joined}, join failures {self.join_failures})",
            f"heartbeats {self.heartbeats} ok, {self.heartbeat_failures} failed; "
            f"p50 {self.heartbeat_p50_ms:.1f} ms, p99 {self.heartbeat_p99_ms:.1f} ms",
            f"assignment changes {self.assignment_changes}, instances started "
            f"{self.instances_started}",
            f"faults: {faults}",
            f"elapsed {self.elapsed_s:.1f} s",
        ]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


def load_credentials(path: Path | None) -> dict[str, Credential]:
    """Stored credentials by node name (none when the file is absent)."""
    if path is None or not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {name: Credential(**value) for name, value in raw.items()}


class Simulation:
    """A running simulated fleet."""

    def __init__(
        self,
        config: SimConfig,
        *,
        events: EventSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.stats = AgentStats()
        self.fault_counts: Counter[str] = Counter()
        self._events = events or (lambda kind, message: None)
        self._clock = clock
        self._rng = random.Random(config.seed)
        self._tokens = list(config.join_tokens)
        self._credentials = load_credentials(config.state_file)
        base_url = config.server.rstrip("/") + API
        transport = transport or SimTransport()
        # The operator's calls (registration, join tokens) through httpx's client; the agents'
        # own, a thousand a second on a large fleet, straight onto the same connections.
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=config.request_timeout, transport=transport
        )
        agents: Requests = self._http
        if isinstance(transport, SimTransport):
            agents = SimClient(base_url, transport, timeout=config.request_timeout)
        self._plane = ControlPlane(config.server, client=agents)
        self._join_slots = asyncio.Semaphore(JOIN_CONCURRENCY)
        self.agents: dict[str, SimAgent] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._extra = 0
        self._started = 0.0

    # -- setup ---------------------------------------------------------------------------------

    def _admin_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.config.admin_token}"}

    async def register_nodes(self, nodes: Sequence[SimNode]) -> None:
        """Apply the nodes' full specs (create or leave unchanged); needs an admin token."""
        for start in range(0, len(nodes), APPLY_CHUNK):
            chunk = [
                n.node.model_dump(mode="json", by_alias=True)
                for n in nodes[start : start + APPLY_CHUNK]
            ]
            response = await self._http.post("/apply", json=chunk, headers=self._admin_headers())
            if response.status_code >= 400:
                raise SimulationError(
                    f"registering nodes failed ({response.status_code}): {response.text[:500]}"
                )

    async def _join_token(self, node_name: str) -> str:
        # Called by SimAgent.join while it holds one of the join slots.
        if self.config.admin_token is None:
            if not self._tokens:
                raise SimulationError(
                    f"no join token left for node {node_name}: give one --join-token per "
                    "node, or an admin --token to mint them"
                )
            return self._tokens.pop(0)
        body = {"role": "join", "name": f"sim {node_name}", "ttl_seconds": 3600}
        response = await self._http.post("/tokens", json=body, headers=self._admin_headers())
        if response.status_code != 201:
            raise SimulationError(
                f"minting a join token failed ({response.status_code}): {response.text[:300]}"
            )
        return str(response.json()["secret"])

    def _save_credential(self, name: str, credential: Credential) -> None:
        self._credentials[name] = credential
        path = self.config.state_file
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        data = {
            k: {"node_id": v.node_id, "credential": v.credential}
            for k, v in self._credentials.items()
        }
        tmp.write_text(json.dumps(data, indent=1))
        tmp.chmod(0o600)
        tmp.replace(path)

    def _agent(self, node: SimNode) -> SimAgent:
        return SimAgent(
            node,
            self._plane,
            join_token=self._join_token,
            stats=self.stats,
            heartbeat_interval=self.config.heartbeat_interval,
            watch_timeout=self.config.watch_timeout,
            watch=self.config.watch,
            credential=self._credentials.get(node.name),
            on_credential=self._save_credential,
            events=self._events,
            rng=random.Random(f"{self.config.seed}:{node.name}"),
            clock=self._clock,
            join_slots=self._join_slots,
        )

    def start_agent(self, node: SimNode, first_beat_delay: float = 0.0) -> SimAgent:
        """Start one node's agent loop."""
        agent = self._agent(node)
        self.agents[node.name] = agent
        self._tasks[node.name] = asyncio.create_task(self._guard(agent, first_beat_delay))
        return agent

    async def _guard(self, agent: SimAgent, delay: float) -> None:
        try:
            await agent.run(delay)
        except JoinRefused:
            pass  # SimAgent.join has already reported and counted the refusal
        except SimulationError as exc:
            self._events("join-failed", str(exc))
            self.stats.join_failures += 1

    # -- faults --------------------------------------------------------------------------------

    def live(self) -> list[str]:
        """Names of nodes whose agent is running and not silent, sorted."""
        return sorted(
            n for n, t in self._tasks.items() if not t.done() and not self.agents[n].silent
        )

    def kill(self, names: Sequence[str], kind: str = "kill") -> None:
        """Stop these nodes' agents at once (a crash: no goodbye to the control plane)."""
        for name in names:
            task = self._tasks.pop(name, None)
            if task is not None:
                task.cancel()
            self.agents.pop(name, None)
        self.fault_counts[kind] += len(names)

    def _pick(self, fault: Fault) -> list[str]:
        live = self.live()
        return sorted(self._rng.sample(live, fault.count_of(len(live))))

    async def _silence(self, names: list[str], duration: float | None, kind: str) -> None:
        for name in names:
            self.agents[name].silent = True
        self.fault_counts[kind] += len(names)
        if duration is None:
            return
        await asyncio.sleep(duration)
        back = [n for n in names if n in self.agents]
        for name in back:
            self.agents[name].silent = False
            self.agents[name]._kick.set()
        self._events(f"{kind}-end", f"{len(back)} node(s) heartbeat again")

    async def _run_fault(self, fault: Fault) -> None:
        await self._sleep_until(fault.at)
        if fault.kind == "kill":
            names = self._pick(fault)
            self.kill(names)
            self._events("kill", f"{len(names)} node(s) killed: {_short(names)}")
        elif fault.kind == "hang":
            names = self._pick(fault)
            self._events(
                "hang", f"{len(names)} node(s) hang{_for(fault.duration)}: {_short(names)}"
            )
            await self._silence(names, fault.duration, "hang")
        elif fault.kind == "partition":
            names = [n for n in self.live() if self.agents[n].node.node.spec.region == fault.region]
            self._events(
                "partition",
                f"region {fault.region} cut off{_for(fault.duration)}: {len(names)} node(s)",
            )
            await self._silence(names, fault.duration, "partition")
        else:
            await self._churn(fault)

    async def _churn(self, fault: Fault) -> None:
        if fault.per_minute <= 0:
            return
        period = 60.0 / fault.per_minute
        while True:
            await asyncio.sleep(period)
            live = self.live()
            if live:
                gone = self._rng.choice(live)
                self.kill([gone], "churn-leave")
                self._events("churn", f"node {gone} left")
            if self.config.new_node is not None:
                node = self.config.new_node(self._extra)
                self._extra += 1
                if self.config.admin_token is not None:
                    await self.register_nodes([node])
                self.start_agent(node)
                self.fault_counts["churn-join"] += 1
                self._events("churn", f"node {node.name} joined")

    async def _random_failures(self) -> None:
        p = per_second_probability(self.config.fail_rate)
        while True:
            await asyncio.sleep(1.0)
            dead = [n for n in self.live() if self._rng.random() < p]
            if dead:
                self.kill(dead, "fail-rate")
                self._events("fail", f"{len(dead)} node(s) died: {_short(dead)}")

    async def _sleep_until(self, at: float) -> None:
        await asyncio.sleep(max(at - (self._clock() - self._started), 0.0))

    # -- run -----------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> Summary:
        """Register, join and run every node until ``stop`` is set or the duration is over."""
        stop = stop or asyncio.Event()
        raise_open_file_limit()  # a watch and a heartbeat connection per node
        self._started = self._clock()
        background: list[asyncio.Task[None]] = []
        try:
            if self.config.admin_token is not None:
                await self.register_nodes(self.config.nodes)
            elif len(self._tokens) < sum(
                1 for n in self.config.nodes if n.name not in self._credentials
            ):
                raise SimulationError(
                    f"{len(self.config.nodes)} nodes need as many single-use join tokens; got "
                    f"{len(self._tokens)}. Give an admin --token instead to mint them"
                )
            interval = self.config.heartbeat_interval
            for node in self.config.nodes:
                # Spread first heartbeats over one interval so the load is even from the start.
                self.start_agent(node, self._rng.uniform(0, interval))
            background += [asyncio.create_task(self._run_fault(f)) for f in self.config.faults]
            if self.config.fail_rate > 0:
                background.append(asyncio.create_task(self._random_failures()))
            waiter = asyncio.create_task(stop.wait())
            timeout = self.config.duration
            await asyncio.wait([waiter], timeout=timeout)
            waiter.cancel()
        finally:
            for task in [*background, *self._tasks.values()]:
                task.cancel()
            for task in [*background, *self._tasks.values()]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._http.aclose()
        return self.summary()

    def summary(self) -> Summary:
        """Counts so far."""
        latencies = self.stats.heartbeat_latencies
        return Summary(
            nodes=len(self.config.nodes) + self._extra,
            joined=self.stats.joined,
            join_failures=self.stats.join_failures,
            heartbeats=self.stats.heartbeats,
            heartbeat_failures=self.stats.heartbeat_failures,
            heartbeat_p50_ms=percentile(latencies, 50) * 1000,
            heartbeat_p99_ms=percentile(latencies, 99) * 1000,
            assignment_changes=self.stats.assignment_changes,
            instances_started=self.stats.instances_started,
            faults=dict(self.fault_counts),
            elapsed_s=self._clock() - self._started,
        )


def _short(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _for(duration: float | None) -> str:
    return f" for {duration:g} s" if duration is not None else ""


def as_json(summary: Summary) -> dict[str, Any]:
    """The summary as a JSON-safe dict (for benchmarks)."""
    return dict(summary.__dict__)
