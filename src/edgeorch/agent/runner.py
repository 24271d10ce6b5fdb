"""The agent loop: join once, then heartbeat and long-poll assignments, all outbound.

Startup order matters for edge autonomy: local state and the last desired set are loaded and the
workloads recovered *before* the control plane is contacted, so an agent restarted while the
control plane is unreachable serves its workloads at once. The join token is used only when no
node credential is stored; afterwards only the credential is.
"""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable

from edgeorch import __version__
from edgeorch.agent.artifacts import ArtifactCache
from edgeorch.agent.client import ControlPlane, ControlPlaneError, Refused, Unreachable
from edgeorch.agent.fingerprint import driver_versions, measure, usable_drivers, utilization
from edgeorch.agent.health import CpuMeter, MeteredCollector, Prober
from edgeorch.agent.ingress import Ingress
from edgeorch.agent.localstate import DesiredSet, Identity, LocalState
from edgeorch.agent.metrics import AgentMetrics
from edgeorch.agent.migrate import AgentMigrations
from edgeorch.agent.protocol import AssignmentItem, Heartbeat, JoinRequest, JoinResponse
from edgeorch.agent.settings import AgentSettings
from edgeorch.agent.supervisor import Supervisor, Target
from edgeorch.telemetry.collector import RequestCollector

log = logging.getLogger("edgeorch.agent")
MAX_BACKOFF = 10.0


class AgentError(Exception):
    """The agent cannot go on (its join token was refused, no identity and no token, ...)."""


class Agent:
    """One edge agent over one data directory."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.state = LocalState(settings.data_dir)
        # Prometheus metrics on the ingress's /metrics (agent/metrics.py).
        self.metrics = AgentMetrics(lambda: self.supervisor.reports(), self._node_labels)
        raw_drivers = usable_drivers(settings.data_dir)
        self.drivers = self.metrics.timed(raw_drivers)
        self.client = ControlPlane(settings.server, request_timeout=settings.request_timeout)
        self.identity: Identity | None = self.state.identity()
        self.cpu = CpuMeter()  # per-instance CPU use for the heartbeat (agent/health.py)
        # per-instance request stats for the heartbeat (and guest time for the CPU meter)
        self.requests: RequestCollector = MeteredCollector(self.cpu)
        self.ingress = Ingress(
            settings.listen, self._route, collector=self.requests, metrics=self.metrics
        )
        self.supervisor = Supervisor(
            self.drivers,
            self.state,
            ArtifactCache(settings.data_dir, self._fetch_artifact),
            endpoint=lambda name: f"{self.ingress.url}/w/{name}/",
        )
        self.supervisor.cpu = self.cpu
        self.prober = Prober(self.supervisor.probe_targets)  # health checks (agent/health.py)
        self.supervisor.prober = self.prober
        self._converging = asyncio.Lock()
        self._kick = asyncio.Event()
        # Live and snapshot migrations: the direct hand-off between agents (agent/migrate.py).
        self.migrations = AgentMigrations(
            self.supervisor,
            self.ingress.switch,
            ingress_url=lambda: self.ingress.url,
            identity=lambda: self.identity,
            kick=self._kick.set,
            wasm=raw_drivers.get("wasm"),
            request_timeout=settings.request_timeout,
        )
        self.ingress.extra_routes += self.migrations.routes()
        self._reachable = True
        # Singleton fence: a singleton the server has not confirmed for longer than its
        # workload's lost_after is stopped here, because by then the server may have started
        # its replacement elsewhere (controllers/reconcile.py relies on this).
        self._confirmed = time.monotonic()
        self._fenced: set[str] = set()

    def _node_labels(self) -> tuple[str, str]:
        identity = self.identity
        return ("", "") if identity is None else (identity.node_name, identity.node_id)

    def _route(self, name: str) -> Target | None:
        return self.supervisor.route(name)

    def _fetch_artifact(self, digest: str) -> bytes:
        if self.identity is None:
            raise Unreachable("the agent has not joined yet, so it cannot fetch artifacts")
        return self.client.fetch_artifact(self.identity.credential, digest)

    async def run(self, stop: asyncio.Event, *, keep_workloads: bool = False) -> None:
        """Serve until ``stop`` is set; stops the workloads on exit unless ``keep_workloads``."""
        url = await self.ingress.start()
        log.info("ingress listening on %s", url)
        desired = self.state.desired()
        if desired.items:
            log.info(
                "recovering %d assignments (revision %d)", len(desired.items), desired.revision
            )
        await asyncio.to_thread(self.supervisor.recover, desired.items)
        loops = [
            asyncio.create_task(self._main()),
            asyncio.create_task(stop.wait()),
            asyncio.create_task(self.prober.run(stop)),
        ]
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in loops:
                task.cancel()
            if not keep_workloads:
                await asyncio.to_thread(self.supervisor.stop_all)
            await self.migrations.aclose()
            await self.ingress.stop()
            await self.client.aclose()
            self.state.close()

    async def _main(self) -> None:
        identity = self.identity or await self._join()
        log.info("node %s (%s) on %s", identity.node_name, identity.node_id, identity.server)
        await asyncio.gather(self._heartbeats(identity), self._watch(identity))

    # -- join ----------------------------------------------------------------------------------

    async def _join(self) -> Identity:
        settings = self.settings
        if not settings.join_token:
            raise AgentError(
                f"no node credential in {settings.data_dir} and no join token: pass --join-token "
                "(create one with 'edgeorch token create --join')"
            )
        measured = measure(settings.data_dir, self.drivers)
        request = JoinRequest(
            name=settings.name,
            labels=settings.labels,
            facts=settings.facts,
            measured=measured,
            agent={"version": __version__, **driver_versions(self.drivers)},
        )
        answer = await self._retrying(lambda: self.client.join(settings.join_token or "", request))
        identity = Identity(settings.server, answer.node_id, answer.node_name, answer.credential)
        self.state.save_identity(identity)
        self.identity = identity
        verb = "registered and joined" if answer.created else "joined"
        log.info("%s as node %s", verb, answer.node_name)
        return identity

    async def _retrying(self, call: Callable[[], Awaitable[JoinResponse]]) -> JoinResponse:
        backoff = 0.5
        while True:
            try:
                return await call()
            except Refused as exc:
                raise AgentError(
                    f"the control plane refused to let this agent join: {exc}"
                ) from exc
            except Unreachable as exc:
                log.warning("join: %s; retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    # -- heartbeats ----------------------------------------------------------------------------

    async def _heartbeats(self, identity: Identity) -> None:
        while True:
            await self._fence()
            if self.supervisor.needs_retry():
                await self._converge(self.supervisor.desired())
            reports = await asyncio.to_thread(self.supervisor.reports)
            beat = Heartbeat(
                utilization=utilization(self.settings.data_dir),
                instances=reports,
                ingress=self.ingress.url,
                revision=self.state.desired().revision,
                telemetry=self.requests.drain(),
            )
            sent = time.perf_counter()
            try:
                await self.client.heartbeat(identity.node_id, identity.credential, beat)
                self.metrics.heartbeat_duration.observe(time.perf_counter() - sent)
                self._confirmed = time.monotonic()
                self._set_reachable(True)
            except ControlPlaneError as exc:
                why = "refused" if isinstance(exc, Refused) else "unreachable"
                self.metrics.heartbeat_failures.labels(why).inc()
                self.requests.restore(beat.telemetry)  # report them with the next beat
                self._set_reachable(False, exc)
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.settings.heartbeat_interval)

    def _set_reachable(self, reachable: bool, error: Exception | None = None) -> None:
        if reachable and not self._reachable:
            log.info("control plane reachable again; reporting and converging")
        elif isinstance(error, Refused):
            log.error("the control plane refused a call: %s; workloads keep running", error)
        elif not reachable and self._reachable:
            log.warning("control plane unreachable (%s); workloads keep running", error)
        self._reachable = reachable
        self.metrics.reachable.set(1 if reachable else 0)

    # -- assignments ---------------------------------------------------------------------------

    async def _watch(self, identity: Identity) -> None:
        backoff = 0.5
        while True:
            stored = self.state.desired()
            try:
                answer = await self.client.assignments(
                    identity.node_id,
                    identity.credential,
                    since=stored.revision,
                    digest=stored.digest,
                    timeout=self.settings.watch_timeout,
                )
            except ControlPlaneError as exc:
                self.metrics.assignment_polls.labels("error").inc()
                self._set_reachable(False, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 0.5
            self.metrics.assignment_polls.labels("changed" if answer.changed else "unchanged").inc()
            self._set_reachable(True)
            self._confirmed = time.monotonic()
            if self._fenced and (not answer.changed or answer.revision < stored.revision):
                # The server answered with the set we have: it still wants these; lift the fence.
                self._fenced.clear()
                await self._converge(stored.items)
            if not answer.changed or answer.revision < stored.revision:
                continue
            self._fenced.clear()
            fresh = DesiredSet(answer.revision, answer.digest, answer.items)
            if self.state.save_desired(fresh):  # durable before acting on it
                log.info("assignments at revision %d: %d", answer.revision, len(answer.items))
                await self._converge(answer.items)
                self._kick.set()

    async def _converge(self, items: list[AssignmentItem]) -> None:
        wanted = [i for i in items if i.instance_id not in self._fenced]
        async with self._converging:
            await asyncio.to_thread(self.supervisor.converge, wanted)
        self.migrations.assignments(wanted)  # migration targets call their source

    async def _fence(self) -> None:
        """Stop singletons not confirmed by the server for longer than their lost_after."""
        silent = time.monotonic() - self._confirmed
        items = self.state.desired().items
        fence = {
            i.instance_id
            for i in items
            if i.workload_spec.singleton
            and i.desired_state == "running"
            and silent > i.workload_spec.disconnect.lost_after
        } - self._fenced
        if fence:
            log.warning(
                "no word from the control plane for %.0f s: stopping %d singleton(s) so that "
                "a replacement elsewhere cannot run at the same time",
                silent,
                len(fence),
            )
            self._fenced |= fence
            await self._converge(items)


async def run_agent(settings: AgentSettings, *, keep_workloads: bool = False) -> None:
    """Run an agent until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    agent = Agent(settings)
    await agent.run(stop, keep_workloads=keep_workloads)
