"""The migration controller: phases, progress, timeouts, rollback, evacuation.

``step(migration, world, now, timeout)`` is pure: from a migration, the instances and nodes it
names and the time, it returns a :class:`Step` (the new status, what to do to the source and
target instances, the events). :class:`MigrationController` reads the active migrations, steps
each and applies the step in one write transaction with compare-and-swap on every version it
saw; a conflict is retried on the next pass. Agents move the live hand-off forward by their
reports (:func:`apply_report`, called by the agent API), which only ever move the phase forward.

Per type (the full table is in ``docs/migrations.md``):

- ``live`` / ``snapshot`` (Wasm): pre-checks → the target instance is created, held (it serves
  nothing until it has the state) → the agents hand the state over directly (pre-copy rounds
  for ``live``; one stop-and-copy for ``snapshot``) and report ``switched`` with the measured
  downtime → the source is stopped → succeeded once it is gone.
- ``cold``: pre-checks → the source is stopped → once it is, the target is created → once it
  runs, succeeded (after the source is deleted).

Invariants:

- The source carries the label ``edgeorch.io/migrating`` while the migration runs, so the reconciler
  counts it as its replica and never stops, deletes or replaces it (``reconcile.py``).
- Before the switchover any failure (target failed, a node down, an agent's error, the
  timeout) rolls back: the target is stopped and the source keeps (or, for ``cold``, gets back)
  the replica. After the switchover the migration only moves forward.
"""

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from edgeorch.config import env_number
from edgeorch.controllers.feed import FeedWaiter, NodeCache
from edgeorch.controllers.reconcile import MIGRATING, MIGRATION, REASON, REPLACES
from edgeorch.domain.enums import InstanceState, NodeScheduling, NodeState, Runtime
from edgeorch.placement import analyze
from edgeorch.placement.live import FleetView
from edgeorch.schemas.event import InvolvedObject
from edgeorch.schemas.instance import Instance, InstanceSpec, InstanceStatus
from edgeorch.schemas.migration import (
    PROGRESS,
    Migration,
    MigrationPhase,
    MigrationReport,
    MigrationSpec,
    MigrationState,
    MigrationStatus,
    MigrationType,
    PhaseTimes,
)
from edgeorch.schemas.node import Node
from edgeorch.schemas.workload import Workload
from edgeorch.store import (
    Conflict,
    Database,
    NotFound,
    create_event,
    create_instance,
    current_revision,
    read_instance,
    read_node,
    update_instance_spec,
)
from edgeorch.store.sql.migration_records import (
    create_migration,
    list_active_migrations,
    set_instance_label,
    update_migration_status,
)

log = logging.getLogger("edgeorch.controllers.migrations")
DEFAULT_TIMEOUT = 30.0
LIVE_RUNTIMES = (Runtime.WASM,)
AGENT_RUNTIMES = (Runtime.WASM, Runtime.PROCESS)
_GONE = (InstanceState.STOPPED, InstanceState.LOST, InstanceState.FAILED)
_BEFORE_SWITCH = (MigrationPhase.PENDING, MigrationPhase.PRE_CHECKS, MigrationPhase.SNAPSHOT,
                  MigrationPhase.TRANSFER)  # fmt: skip


class MigrationRefused(Exception):
    """A migration that cannot start: ``str(exc)`` says why and what would be accepted."""


def migration_timeout() -> float:
    """Seconds a migration may take before its switchover: ``EDGEORCH_MIGRATION_TIMEOUT``."""
    return env_number(os.environ, "EDGEORCH_MIGRATION_TIMEOUT", DEFAULT_TIMEOUT, unit="seconds")


# -- the pure phase machine -------------------------------------------------------------------


@dataclass(frozen=True)
class NodeFacts:
    """What the phase machine needs of a node."""

    id: str
    state: NodeState
    scheduling: NodeScheduling = NodeScheduling.ENABLED

    @property
    def usable(self) -> bool:
        """Ready and not cordoned or draining."""
        return self.state is NodeState.READY and self.scheduling is NodeScheduling.ENABLED


@dataclass(frozen=True)
class World:
    """The objects a migration names, as read in one snapshot (None: gone)."""

    source: Instance | None
    target: Instance | None
    source_node: NodeFacts | None
    target_node: NodeFacts | None


@dataclass(frozen=True)
class InstanceChange:
    """What to do to one instance: its desired state and the ``migrating`` marker."""

    desired_state: Literal["running", "stopped"] | None = None
    marker: Literal["set", "clear"] | None = None


@dataclass(frozen=True)
class Step:
    """The writes one pass decided for one migration."""

    status: MigrationStatus | None = None
    create_target: bool = False
    source: InstanceChange | None = None
    target: InstanceChange | None = None
    events: tuple[tuple[str, str, Literal["Normal", "Warning"]], ...] = ()


def _enter(status: MigrationStatus, phase: MigrationPhase, now: datetime) -> MigrationStatus:
    """Finish the current phase (its progress is reached) and start ``phase``."""
    phases = dict(status.phases)
    current = status.phase
    if current is not MigrationPhase.PENDING:
        done = phases.get(current.value, PhaseTimes(started_at=now))
        phases[current.value] = done.model_copy(update={"finished_at": now})
    phases[phase.value] = PhaseTimes(started_at=now)
    progress = PROGRESS[current] if current is not MigrationPhase.PENDING else 0
    return status.model_copy(update={"phase": phase, "progress": progress, "phases": phases})


def _finish(status: MigrationStatus, state: MigrationState, now: datetime) -> MigrationStatus:
    phases = dict(status.phases)
    current = phases.get(status.phase.value)
    if current is not None and current.finished_at is None and state is MigrationState.SUCCEEDED:
        phases[status.phase.value] = current.model_copy(update={"finished_at": now})
    progress = 100 if state is MigrationState.SUCCEEDED else status.progress
    return status.model_copy(
        update={"state": state, "finished_at": now, "phases": phases, "progress": progress}
    )


def pre_check(m: Migration, w: World) -> list[str]:
    """What stops the migration from starting (empty: it may start)."""
    spec, problems = m.spec, []
    if w.source is None:
        problems.append(f"instance {spec.instance_name} no longer exists")
    elif w.source.spec.desired_state != "running" or w.source.spec.node_id != spec.source_node_id:
        problems.append(f"instance {spec.instance_name} is no longer running on the source node")
    elif spec.type is not MigrationType.COLD and w.source.status.state is not InstanceState.RUNNING:
        problems.append(
            f"instance {spec.instance_name} is {w.source.status.state.value}, not running: "
            "its state cannot be carried over (use type 'cold')"
        )
    if w.source_node is None or w.source_node.state is not NodeState.READY:
        problems.append("the source node is not ready (a down node's replicas are replaced)")
    if w.target_node is None:
        problems.append(f"target node {spec.target_node_id} no longer exists")
    elif not w.target_node.usable:
        t = w.target_node
        problems.append(f"target node is {t.state.value}/{t.scheduling.value}, not ready/enabled")
    return problems


def step(m: Migration, w: World, now: datetime, timeout: float) -> Step:
    """The next writes for migration ``m`` in world ``w`` at ``now``; see the module docstring."""
    st = m.status
    if st.state is MigrationState.PENDING:
        return _start(m, w, now)
    if st.state is not MigrationState.RUNNING:
        return Step()
    if st.phase in _BEFORE_SWITCH:
        why = _failure(m, w, now, timeout)
        if why is not None:
            return _rollback(m, w, now, why)
        if m.spec.type is MigrationType.COLD:
            return _cold(m, w, now)
        return Step()  # the agents' reports move a live/snapshot hand-off forward
    if st.phase is MigrationPhase.SWITCHOVER:
        status = _enter(st, MigrationPhase.CLEANUP, now)
        status = status.model_copy(update={"message": "stopping the source instance"})
        return Step(
            status=status,
            source=InstanceChange(desired_state="stopped", marker="clear"),
            events=(("MigrationSwitched", _switched_message(m), "Normal"),),
        )
    # cleanup: done once the source is gone (or its node cannot say, after the timeout).
    source_gone = w.source is None or w.source.status.state in _GONE
    started = st.phases.get(MigrationPhase.CLEANUP.value, PhaseTimes()).started_at or now
    if source_gone or (now - started).total_seconds() > timeout:
        done = _finish(st, MigrationState.SUCCEEDED, now)
        done = done.model_copy(update={"message": "migrated"})
        text = (
            f"{m.spec.instance_name} now runs on {m.spec.target_node_id} "
            f"({m.spec.type.value} migration {m.metadata.name}, downtime "
            f"{_ms(st.downtime_ms)})"
        )
        return Step(status=done, events=(("MigrationSucceeded", text, "Normal"),))
    return Step()


def _ms(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1f} ms"


def _switched_message(m: Migration) -> str:
    st = m.status
    return (
        f"{m.spec.instance_name}: traffic switched to node {m.spec.target_node_id} after "
        f"{_ms(st.downtime_ms)} of downtime (max {m.spec.max_downtime_ms:g} ms); "
        "stopping the source"
    )


def _start(m: Migration, w: World, now: datetime) -> Step:
    spec = m.spec
    problems = pre_check(m, w)
    status = _enter(m.status, MigrationPhase.PRE_CHECKS, now)
    status = status.model_copy(update={"started_at": now})
    if problems:
        errored = status.model_copy(update={"error": "; ".join(problems)})
        failed = _finish(errored, MigrationState.FAILED, now)
        text = f"migration {m.metadata.name} of {spec.instance_name} failed its pre-checks: " + (
            "; ".join(problems)
        )
        return Step(status=failed, events=(("MigrationFailed", text, "Warning"),))
    started = status.model_copy(update={"state": MigrationState.RUNNING})
    running = _enter(started, MigrationPhase.SNAPSHOT, now)
    text = (
        f"migrating {spec.instance_name} from node {spec.source_node_id} to "
        f"{spec.target_node_id} ({spec.type.value}, max downtime {spec.max_downtime_ms:g} ms): "
        f"{spec.reason}"
    )
    events: tuple[tuple[str, str, Literal["Normal", "Warning"]], ...] = (
        ("MigrationStarted", text, "Normal"),
    )
    if spec.type is MigrationType.COLD:
        running = running.model_copy(update={"message": "stopping the source instance"})
        return Step(
            status=running,
            source=InstanceChange(desired_state="stopped", marker="set"),
            events=events,
        )
    running = running.model_copy(
        update={"message": "starting the target instance; it waits for the source's state"}
    )
    return Step(
        status=running, create_target=True, source=InstanceChange(marker="set"), events=events
    )


def _failure(m: Migration, w: World, now: datetime, timeout: float) -> str | None:
    st = m.status
    if st.details.get("agent_failed"):
        return f"the hand-off failed: {st.error or 'no reason given'}"
    if st.started_at is not None and (now - st.started_at).total_seconds() > timeout:
        return f"timed out after {timeout:g} s in phase {st.phase.value}"
    if w.target_node is None or w.target_node.state is not NodeState.READY:
        return "the target node is no longer ready"
    if w.source_node is None or w.source_node.state is not NodeState.READY:
        return "the source node is no longer ready"
    if st.target_instance_id is not None:
        if w.target is None:
            return "the target instance was deleted"
        if w.target.status.state is InstanceState.FAILED:
            return f"the target instance failed: {w.target.status.message}"
    if w.source is None:
        return "the source instance was deleted"
    return None


def _cold(m: Migration, w: World, now: datetime) -> Step:
    st = m.status
    assert w.source is not None
    if st.phase is MigrationPhase.SNAPSHOT and w.source.status.state in _GONE:
        status = _enter(st, MigrationPhase.TRANSFER, now)
        status = status.model_copy(update={"message": "source stopped; starting the target"})
        return Step(status=status, create_target=True)
    running = w.target is not None and w.target.status.state is InstanceState.RUNNING
    if st.phase is MigrationPhase.TRANSFER and running:
        stopped = st.phases[MigrationPhase.SNAPSHOT.value].started_at or now
        downtime = (now - stopped).total_seconds() * 1000.0
        status = _enter(st, MigrationPhase.SWITCHOVER, now)
        status = status.model_copy(update={"downtime_ms": downtime, "message": "target running"})
        return Step(status=status)
    return Step()


def _rollback(m: Migration, w: World, now: datetime, why: str) -> Step:
    st = m.status.model_copy(update={"error": why, "message": "rolled back: " + why})
    restart = m.spec.type is MigrationType.COLD and w.source is not None
    source = InstanceChange(desired_state="running" if restart else None, marker="clear")
    target = InstanceChange(desired_state="stopped") if w.target is not None else None
    text = (
        f"migration {m.metadata.name} of {m.spec.instance_name} rolled back in phase "
        f"{m.status.phase.value}: {why}; the instance stays on node {m.spec.source_node_id}"
    )
    return Step(
        status=_finish(st, MigrationState.ROLLED_BACK, now),
        source=source if w.source is not None else None,
        target=target,
        events=(("MigrationRolledBack", text, "Warning"),),
    )


# -- agent reports ----------------------------------------------------------------------------


def report_status(m: Migration, report: MigrationReport, now: datetime) -> MigrationStatus | None:
    """The status after an agent's ``report``, or None when it changes nothing (a repeat, or a
    report about a phase the migration has left). Reports only move the phase forward."""
    st = m.status
    if st.state is not MigrationState.RUNNING or st.phase not in _BEFORE_SWITCH:
        return None
    details = dict(st.details)
    if report.timings_ms:
        details["timings_ms"] = report.timings_ms
    fields: dict[str, object] = {"details": details}
    if report.bytes_transferred is not None:
        fields["bytes_transferred"] = report.bytes_transferred
    if report.precopy_rounds is not None:
        fields["precopy_rounds"] = report.precopy_rounds
    if report.event == "failed":
        details["agent_failed"] = True
        fields["error"] = report.message or "the agent gave no reason"
        return st.model_copy(update=fields)
    if report.event == "transfer":
        if st.phase is not MigrationPhase.SNAPSHOT:
            return None
        fields["message"] = report.message or "pre-copying memory while the source serves"
        return _enter(st, MigrationPhase.TRANSFER, now).model_copy(update=fields)
    if st.phase is MigrationPhase.SNAPSHOT:
        st = _enter(st, MigrationPhase.TRANSFER, now)
    fields["downtime_ms"] = report.downtime_ms
    fields["message"] = report.message or "switched"
    return _enter(st, MigrationPhase.SWITCHOVER, now).model_copy(update=fields)


def apply_report(
    *, session: Session, migration: Migration, report: MigrationReport, now: datetime
) -> Migration:
    """Write an agent's report (in the caller's write transaction), with its event."""
    status = report_status(migration, report, now)
    if status is None:
        return migration
    updated = update_migration_status(
        session=session,
        migration_id=migration.metadata.id,
        status=status,
        expected_version=migration.metadata.resource_version,
    )
    if report.event == "transfer":
        _event(session, migration, "MigrationTransferring", status.message)
    return updated


# -- starting migrations ----------------------------------------------------------------------


def choose_target(view: FleetView, source: Instance, workload: Workload, wanted: str | None) -> str:
    """The target node id: ``wanted`` if feasible, else the placement engine's best node other
    than the source. :class:`MigrationRefused` names what blocks it."""
    decision = analyze(
        view.snapshot,
        workload.spec,
        workload_id=workload.metadata.id,
        replicas=1,
        top_k=max(len(view.node_names), 1),
        request_id=f"migrate:{source.metadata.id}",
    )
    feasible = [c.node_id for c in decision.candidates if c.node_id != source.spec.node_id]
    if wanted is None:
        if not feasible:
            blocking = ", ".join(decision.blocking) or "no other node"
            raise MigrationRefused(
                f"no node other than the source can take {source.metadata.name}: "
                f"{decision.feasible_nodes} of {decision.total_nodes} nodes feasible "
                f"(blocking: {blocking})"
            )
        return feasible[0]
    if wanted == source.spec.node_id:
        raise MigrationRefused(
            f"instance {source.metadata.name} already runs on node {view.node_names.get(wanted)}; "
            "name another node or 'auto'"
        )
    if wanted not in feasible:
        names = ", ".join(view.node_names.get(n, n) for n in feasible[:10]) or "none"
        raise MigrationRefused(
            f"node {view.node_names.get(wanted, wanted)} cannot take {source.metadata.name} "
            f"(placement filters: {', '.join(decision.blocking) or 'capacity or status'}); "
            f"feasible nodes: {names}"
        )
    return wanted


def check_type(kind: MigrationType, workload: Workload) -> None:
    """Refuse a type the workload's runtime cannot do, naming the ones it can."""
    runtime = workload.spec.runtime
    if runtime not in AGENT_RUNTIMES:
        raise MigrationRefused(
            f"workload {workload.metadata.name} runs {runtime.value}, which no agent runs yet; "
            f"migrations move {', '.join(r.value for r in AGENT_RUNTIMES)} instances"
        )
    if kind is not MigrationType.COLD and runtime not in LIVE_RUNTIMES:
        raise MigrationRefused(
            f"a {kind.value} migration carries the instance's state, which only wasm instances "
            f"can hand over; workload {workload.metadata.name} runs {runtime.value}: use 'cold'"
        )


def begin_migration(
    *,
    session: Session,
    view: FleetView,
    instance: Instance,
    target_node: str | None,
    kind: MigrationType,
    max_downtime_ms: float,
    reason: str,
) -> Migration:
    """Validate and record a pending migration of ``instance`` (the controller runs it)."""
    workload = view.workloads.get(instance.spec.workload_id)
    if workload is None or instance.spec.node_id is None:
        raise MigrationRefused(f"instance {instance.metadata.name} is not bound to a node")
    if instance.spec.desired_state != "running":
        raise MigrationRefused(f"instance {instance.metadata.name} is being stopped")
    check_type(kind, workload)
    target = choose_target(view, instance, workload, target_node)
    spec = MigrationSpec(
        instance_id=instance.metadata.id,
        instance_name=instance.metadata.name,
        workload_id=workload.metadata.id,
        workload_name=workload.metadata.name,
        runtime=workload.spec.runtime.value,
        source_node_id=instance.spec.node_id,
        target_node_id=target,
        automatic=target_node is None,
        type=kind,
        max_downtime_ms=max_downtime_ms,
        reason=reason,
    )
    migration = create_migration(session=session, spec=spec, tenant=instance.metadata.tenant)
    where = view.node_names.get(target, target)
    text = (
        f"migration {migration.metadata.name} requested: {instance.metadata.name} to node "
        f"{where} ({kind.value}{', chosen by placement' if target_node is None else ''}): {reason}"
    )
    _event(session, migration, "MigrationRequested", text)
    return migration


# -- applying steps ---------------------------------------------------------------------------


def _event(
    session: Session,
    m: Migration,
    reason: str,
    message: str,
    type_: Literal["Normal", "Warning"] = "Normal",
) -> None:
    # On the instance, so "why did it move" is answered by the instance's own events.
    create_event(
        session=session,
        tenant=m.metadata.tenant,
        type=type_,
        reason=reason,
        message=message,
        involved=InvolvedObject(kind="Instance", id=m.spec.instance_id, name=m.spec.instance_name),
    )


def apply_step(session: Session, m: Migration, w: World, s: Step) -> None:
    """Write ``s`` in the caller's transaction; ``Conflict`` if anything changed since ``w``."""
    status = s.status or m.status
    if s.create_target and w.source is not None:
        target = _create_target(session, m, w.source)
        status = status.model_copy(update={"target_instance_id": target.metadata.id})
    if s.source is not None and w.source is not None:
        _change(session, w.source, s.source, m.metadata.id)
    if s.target is not None and w.target is not None:
        _change(session, w.target, s.target, m.metadata.id)
    if status is not m.status:
        update_migration_status(
            session=session,
            migration_id=m.metadata.id,
            status=status,
            expected_version=m.metadata.resource_version,
        )
    for reason, message, type_ in s.events:
        _event(session, m, reason, message, type_)


def _create_target(session: Session, m: Migration, source: Instance) -> Instance:
    explanation = {
        REPLACES: source.metadata.id,
        REASON: MIGRATION,
        "migration": m.metadata.id,
        "node_id": m.spec.target_node_id,
    }
    spec = InstanceSpec(
        workload_id=source.spec.workload_id,
        node_id=m.spec.target_node_id,
        replica=source.spec.replica,
        generation=source.spec.generation,
    )
    status = InstanceStatus(score=source.status.score, explanation=explanation)
    return create_instance(session=session, spec=spec, tenant=source.metadata.tenant, status=status)


def _change(session: Session, inst: Instance, change: InstanceChange, migration_id: str) -> None:
    version: int | None = inst.metadata.resource_version
    if change.desired_state is not None and change.desired_state != inst.spec.desired_state:
        spec = inst.spec.model_copy(update={"desired_state": change.desired_state})
        update_instance_spec(
            session=session, instance_id=inst.metadata.id, spec=spec, expected_version=version
        )
        version = None
    if change.marker is not None:
        set_instance_label(
            session=session,
            instance_id=inst.metadata.id,
            key=MIGRATING,
            value=migration_id if change.marker == "set" else None,
            expected_version=version,
        )


def _observe(m: Migration, status: MigrationStatus) -> None:
    try:
        from edgeorch.observability.metrics import MIGRATION_DOWNTIME, MIGRATIONS
    except ImportError:  # pragma: no cover - the metrics module ships with the package
        return
    MIGRATIONS.labels(type=m.spec.type.value, result=status.state.value).inc()
    if status.state is MigrationState.SUCCEEDED and status.downtime_ms is not None:
        MIGRATION_DOWNTIME.labels(type=m.spec.type.value).observe(status.downtime_ms / 1000.0)


# -- the controller ---------------------------------------------------------------------------


@dataclass
class MigrationController:
    """Steps every active migration; evacuates wasm instances from draining nodes."""

    database: Database
    clock: Callable[[], datetime]
    fleet: Callable[[], FleetView] | None = None
    timeout: float = field(default_factory=migration_timeout)
    nodes: NodeCache | None = None
    _draining: set[str] = field(default_factory=set, init=False, repr=False)
    active: int = field(default=0, init=False)  # active migrations seen by the last pass

    def run_once(self) -> int:
        """One pass over the active migrations; returns how many were written."""
        with self.database.session() as session:
            active = list_active_migrations(session=session)
            worlds = [(m, _world(session, m)) for m in active]
        self.active = len(active)
        written = 0
        for m, w in worlds:
            s = step(m, w, self.clock(), self.timeout)
            if s.status is None and not s.create_target and s.source is None and s.target is None:
                continue
            try:
                with self.database.write() as session:
                    apply_step(session, m, w, s)
            except (Conflict, NotFound) as exc:
                log.debug("migration %s: %s; stepping again next pass", m.metadata.name, exc)
                continue
            written += 1
            if s.status is not None and not s.status.active:
                _observe(m, s.status)
        if self.fleet is not None:
            written += self.evacuate()
        return written

    def evacuate(self) -> int:
        """``handle_edge_failure`` for every ready, draining node."""
        assert self.fleet is not None
        if self.nodes is None:
            self.nodes = NodeCache(self.database)
        nodes = self.nodes.refresh()
        # Kept up to date from the nodes each refresh read, not by a scan of the whole fleet
        # on every pass (this loop wakes on every node change).
        looked = nodes.keys() if self.nodes.changed is None else self.nodes.changed
        for node_id in looked:
            node = nodes.get(node_id)
            if node is not None and _evacuating(node):
                self._draining.add(node_id)
            else:
                self._draining.discard(node_id)
        draining = [nodes[node_id] for node_id in sorted(self._draining)]
        if not draining:
            return 0
        view = self.fleet()
        return sum(self.handle_edge_failure(n.metadata.id, view) for n in draining)

    def handle_edge_failure(self, node_id: str, view: FleetView | None = None) -> int:
        """Live-migrate the wasm instances off ``node_id`` if it is ready and draining, one
        per workload at a time (process replicas are replaced make-before-break by the
        reconciler, and a down node's by its disconnect policy). Returns migrations begun."""
        with self.database.session() as session:
            try:
                node = read_node(session=session, ref=node_id, tenant=None)
            except NotFound:
                return 0
            if not _evacuating(node):
                return 0
            busy = {m.spec.workload_id for m in list_active_migrations(session=session)}
        view = view or (self.fleet() if self.fleet is not None else None)
        if view is None:
            return 0
        begun = 0
        for inst in sorted(view.instances.values(), key=lambda i: i.metadata.name):
            workload = view.workloads.get(inst.spec.workload_id)
            if (
                inst.spec.node_id != node_id
                or inst.spec.desired_state != "running"
                or workload is None
                or workload.spec.runtime not in LIVE_RUNTIMES
                or workload.metadata.id in busy
                or inst.status.state is not InstanceState.RUNNING
            ):
                continue
            try:
                with self.database.write() as session:
                    begin_migration(
                        session=session,
                        view=view,
                        instance=read_instance(session=session, ref=inst.metadata.id, tenant=None),
                        target_node=None,
                        kind=MigrationType.LIVE,
                        max_downtime_ms=migration_default_downtime(),
                        reason=f"evacuation: node {node.metadata.name} is draining",
                    )
            except (MigrationRefused, Conflict, NotFound) as exc:
                log.info("cannot evacuate %s yet: %s", inst.metadata.name, exc)
                continue
            busy.add(workload.metadata.id)
            begun += 1
        return begun


def migration_default_downtime() -> float:
    """The max downtime of migrations edgeorch starts itself (evacuation, optimiser): 300 ms."""
    return 300.0


def _evacuating(node: Node) -> bool:
    return node.status.state is NodeState.READY and node.spec.scheduling is NodeScheduling.DRAINING


def _facts(session: Session, node_id: str) -> NodeFacts | None:
    try:
        node = read_node(session=session, ref=node_id, tenant=None)
    except NotFound:
        return None
    return NodeFacts(node.metadata.id, node.status.state, node.spec.scheduling)


def _instance(session: Session, instance_id: str | None) -> Instance | None:
    if instance_id is None:
        return None
    try:
        return read_instance(session=session, ref=instance_id, tenant=None)
    except NotFound:
        return None


def _world(session: Session, m: Migration) -> World:
    return World(
        source=_instance(session, m.spec.instance_id),
        target=_instance(session, m.status.target_instance_id),
        source_node=_facts(session, m.spec.source_node_id),
        target_node=_facts(session, m.spec.target_node_id),
    )


ACTIVE_REST = 0.02  # seconds between passes while a migration is active
IDLE_REST = 0.25  # otherwise


class MigrationLoop:
    """The controller's thread: a pass on every change of a migration, instance or node, and
    at least every ``tick`` seconds (timeouts are time, not changes)."""

    KINDS = ("Migration", "Instance", "Node")

    def __init__(self, controller: MigrationController, *, tick: float = 0.5) -> None:
        self.controller = controller
        self._tick = tick
        self._stop = threading.Event()
        self._waiter = FeedWaiter(controller.database, poll=min(tick, 0.2))
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._run, name="edgeorch-migrations", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        self._waiter.poke()
        if self._thread is not None:
            self._thread.join(timeout)
        self._waiter.close()

    def _run(self) -> None:
        revision = 0
        while not self._stop.is_set():
            try:
                with self.controller.database.session() as session:
                    revision = current_revision(session=session)
                self.controller.run_once()
            except Exception:
                log.exception("migration pass failed")
            self._waiter.wait(revision, self._tick, self.KINDS)
            # Quick steps while a migration runs; otherwise the changes that wake this loop are
            # mostly heartbeats' node and instance writes (hundreds a second on a large fleet):
            # an evacuation can wait a quarter of a second for them to batch.
            self._stop.wait(ACTIVE_REST if self.controller.active else IDLE_REST)


__all__ = [
    "MigrationController",
    "MigrationLoop",
    "MigrationRefused",
    "Step",
    "World",
    "apply_report",
    "begin_migration",
    "step",
]
