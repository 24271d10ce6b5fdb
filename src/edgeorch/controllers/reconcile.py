"""The workload reconciler: a pure function from a snapshot to named buckets of instances.

``reconcile_workload(workload, instances, nodes, now)`` looks at one workload's instances and the
state of their nodes and sorts every instance into exactly one bucket:

- **place**: a replica that should exist but has no live instance, so a new one must be placed.
- **stop**: a live instance that is not wanted any more (scale down, or the loser of a duplicate).
- **migrate**: a live instance on a draining node, to be replaced elsewhere before it is stopped.
- **lost**: an instance whose node has been down longer than the workload's ``lost_after``.
- **disconnecting**: an instance whose node is suspect or down, still inside ``lost_after``.
- **reconnecting**: an instance that was replaced while its node was away and whose node is back.
- **ignore**: an instance that is fine as it is (or already stopping: nothing to do yet).

``delete`` is housekeeping beside the buckets: instances desired stopped whose agent reports
them gone (or whose node is gone or down), removed from the store.

Migrations (``controllers/migrations.py``) own their instances while they run: the source of an
in-flight migration carries the label ``edgeorch.io/migrating`` and counts as its replica even
while stopped (a cold migration stops it before the target starts), and is never stopped,
deleted or replaced here; the target (``reason: migration``, ``replaces: <source>``) stands in
for the same replica, so it is not counted twice. Wasm instances on a draining node are left to
the migration controller's evacuation (live migration keeps their state).

No I/O, no clock: ``now`` is given. A replacement records the id of the instance it replaces in
``status.explanation["replaces"]``; that is how a reconnecting original and its replacement are
paired when the original's node comes back.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from edgeorch.controllers.rollout import (
    ROLLOUT,
    availability,
    observe_revision,
    rolling_step,
    rollout_progress,
)
from edgeorch.domain.enums import (
    DisconnectReconcile,
    InstanceState,
    NodeScheduling,
    NodeState,
    Runtime,
)
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.workload import RolloutStatus, Workload, WorkloadRevision

REPLACES = "replaces"
REASON = "reason"
MIGRATING = "edgeorch.io/migrating"  # label on a migration's source: the migration's id
MIGRATION = "migration"  # the REASON of a migration's target instance
_GONE = frozenset({InstanceState.STOPPED, InstanceState.LOST, InstanceState.FAILED})
_NOT_STARTED = frozenset({InstanceState.PENDING, InstanceState.STARTING})


@dataclass(frozen=True)
class NodeView:
    """What the reconciler needs of a node: health, operator intent, and since when it is down."""

    id: str
    state: NodeState
    scheduling: NodeScheduling = NodeScheduling.ENABLED
    down_since: datetime | None = None


@dataclass(frozen=True)
class Place:
    """A new instance for replica ``replica``; ``replaces`` names the instance it stands in for."""

    replica: int
    replaces: str | None = None
    reason: str = "missing"


@dataclass(frozen=True)
class Buckets:
    """One workload's instances sorted into buckets (see the module docstring)."""

    workload: Workload
    desired: int
    place: tuple[Place, ...] = ()
    stop: tuple[Instance, ...] = ()
    migrate: tuple[Instance, ...] = ()
    lost: tuple[Instance, ...] = ()
    disconnecting: tuple[Instance, ...] = ()
    reconnecting: tuple[Instance, ...] = ()
    ignore: tuple[Instance, ...] = ()
    delete: tuple[Instance, ...] = ()
    reasons: dict[str, str] = field(default_factory=dict)
    # Rolling updates (controllers/rollout.py): the revision new instances get, its history,
    # the rollout's progress, and counts for the status.
    revision: int = 0
    revisions: tuple[WorkloadRevision, ...] = ()
    rollout: RolloutStatus | None = None
    updated: int = 0
    available: int = 0
    # Originals on draining nodes that may be stopped without a replacement, should none fit
    # anywhere: stopping them keeps disruption.min_available (decide.py).
    evictable: frozenset[str] = frozenset()

    @property
    def live(self) -> int:
        """Instances that count as running or about to run after this decision."""
        return (
            len(self.ignore) + len(self.migrate) + len(self.disconnecting) + len(self.reconnecting)
        )


def desired_replicas(workload: Workload) -> int:
    """How many replicas are wanted now: the fixed count, or the autoscaler's current target."""
    spec = workload.spec
    if spec.scaling is None:
        return spec.replicas or 0
    return min(max(workload.status.desired_replicas, spec.scaling.min), spec.scaling.max)


def _score(instance: Instance) -> float:
    return instance.status.score if instance.status.score is not None else float("-inf")


def _stop_order(instance: Instance) -> tuple[int, float, str]:
    # Stop what serves nobody yet first, then the worst-placed; the name keeps it deterministic.
    started = 0 if instance.status.state in _NOT_STARTED else 1
    return (started, _score(instance), instance.metadata.name)


def _replaced_by(instances: Sequence[Instance]) -> dict[str, Instance]:
    pairs: dict[str, Instance] = {}
    ids = {inst.metadata.id for inst in instances}
    for inst in instances:
        original = inst.status.explanation.get(REPLACES)
        running = inst.spec.desired_state == "running"
        if isinstance(original, str) and original in ids and running:
            pairs[original] = inst
    return pairs


def _is_lost(inst: Instance, node: NodeView | None, workload: Workload, now: datetime) -> bool:
    if node is None:
        return True
    if node.state is not NodeState.DOWN or node.down_since is None:
        return False
    return (now - node.down_since).total_seconds() >= workload.spec.disconnect.lost_after


def _loser(original: Instance, replacement: Instance, workload: Workload) -> Instance:
    """Which of a reconnected original and its replacement to stop, per ``reconcile``."""
    policy = workload.spec.disconnect.reconcile
    if workload.spec.singleton or policy is DisconnectReconcile.KEEP_REPLACEMENT:
        return original
    if policy is DisconnectReconcile.KEEP_ORIGINAL:
        return replacement
    # best_score; a tie keeps the original, since moving costs something.
    return original if _score(replacement) > _score(original) else replacement


def reconcile_workload(
    workload: Workload,
    instances: Sequence[Instance],
    nodes: Mapping[str, NodeView],
    now: datetime,
) -> Buckets:
    """Sort ``workload``'s ``instances`` into buckets; see the module docstring."""
    desired = desired_replicas(workload)
    b: dict[str, list[Instance]] = {k: [] for k in _BUCKETS}
    place: list[Place] = []
    reasons: dict[str, str] = {}
    pairs = _replaced_by(instances)
    live: list[Instance] = []
    pinned = {i.metadata.id for i in instances if i.metadata.labels.get(MIGRATING)}
    for inst in instances:
        node = nodes.get(inst.spec.node_id or "")
        if inst.metadata.id in pinned:
            live.append(inst)  # the migration controller owns it until the migration ends
            continue
        if _migration_target(inst, pinned):
            b["ignore"].append(inst)  # stands in for its pinned source: counted once
            continue
        if inst.spec.desired_state == "stopped":
            gone = node is None or node.state is NodeState.DOWN or inst.status.state in _GONE
            b["delete" if gone else "ignore"].append(inst)
            continue
        if _is_lost(inst, node, workload, now):
            b["lost"].append(inst)
            if workload.spec.disconnect.replace and inst.metadata.id not in pairs:
                place.append(Place(inst.spec.replica, inst.metadata.id, "lost"))
            elif not workload.spec.disconnect.replace:
                live.append(inst)  # kept: the policy is to wait for the node
            continue
        assert node is not None
        if node.state in (NodeState.SUSPECT, NodeState.DOWN):
            b["disconnecting"].append(inst)
            live.append(inst)
            continue
        replacement = pairs.get(inst.metadata.id)
        if replacement is not None and replacement.status.explanation.get(REASON) not in (
            "drain",
            MIGRATION,
        ):
            loser = _loser(inst, replacement, workload)
            reasons[loser.metadata.id] = "duplicate after reconnect"
            b["reconnecting"].append(inst)
            b["stop"].append(loser)
            if loser is inst:
                continue
            live.append(inst)
            continue
        if node.scheduling is NodeScheduling.DRAINING:
            live.append(inst)
            continue
        live.append(inst)
    # Replacements already counted in `live` must not also be counted for their originals.
    stopping = {i.metadata.id for i in b["stop"]}
    live = [i for i in live if i.metadata.id not in stopping]
    available = availability(workload)
    evictable = _drain(workload, live, nodes, pairs, b, place, available, desired)
    for inst in b["stop"]:
        reasons.setdefault(inst.metadata.id, "moved off its draining node; its replacement is up")
    live = [i for i in live if i not in b["stop"]]
    revision, revisions = observe_revision(workload, instances, now)
    new = [i for i in live if i.spec.generation == revision]
    old = [i for i in live if i.spec.generation != revision]
    rollout = rollout_progress(workload, revision, desired, new, old, available, now)
    keep = {i.metadata.id for i in b["migrate"]} | pinned
    rolling = _roll(workload, desired, revision, new, old, rollout, live, b, place, reasons, keep)
    _scale(desired, live, b, place, reasons, pairs, pinned, rolling=rolling)
    b["reconnecting"] = [i for i in b["reconnecting"] if i.metadata.id not in stopping]
    return Buckets(
        workload=workload,
        desired=desired,
        place=tuple(place),
        reasons=reasons,
        revision=revision,
        revisions=revisions,
        rollout=rollout,
        updated=len(new),
        available=sum(1 for i in live if available(i)),
        evictable=evictable,
        **{k: tuple(v) for k, v in b.items()},
    )


_BUCKETS = ("stop", "migrate", "lost", "disconnecting", "reconnecting", "ignore", "delete")


def _migration_target(inst: Instance, pinned: set[str]) -> bool:
    explanation = inst.status.explanation
    return (
        inst.spec.desired_state == "running"
        and explanation.get(REASON) == MIGRATION
        and explanation.get(REPLACES) in pinned
    )


def _roll(
    workload: Workload,
    desired: int,
    revision: int,
    new: list[Instance],
    old: list[Instance],
    rollout: RolloutStatus | None,
    live: list[Instance],
    b: dict[str, list[Instance]],
    place: list[Place],
    reasons: dict[str, str],
    keep: set[str],
) -> bool:
    """One rolling-update step while instances of older revisions live; True if rolling.
    ``keep`` (being drained or migrated) are counted but never stopped here."""
    if not old:
        return False
    hold = rollout is not None and rollout.state == "failed" and rollout.revision == revision
    step = rolling_step(
        workload,
        desired,
        new,
        old,
        pending=len(place),
        available=availability(workload),
        keep=frozenset(keep),
        hold=hold,
    )
    for inst in step.stop:
        reasons[inst.metadata.id] = f"rolling update to revision {revision}"
        b["stop"].append(inst)
        live.remove(inst)
    used = {i.spec.replica for i in new} | {p.replica for p in place}
    numbers = (n for n in range(desired * 2 + len(used) + len(old) + 1) if n not in used)
    for _ in range(step.place):
        place.append(Place(next(numbers), None, ROLLOUT))
    return True


def _on_draining(inst: Instance, nodes: Mapping[str, NodeView]) -> bool:
    node = nodes.get(inst.spec.node_id or "")
    return node is not None and node.scheduling is NodeScheduling.DRAINING


def _drain(
    workload: Workload,
    live: list[Instance],
    nodes: Mapping[str, NodeView],
    pairs: Mapping[str, Instance],
    b: dict[str, list[Instance]],
    place: list[Place],
    available: Callable[[Instance], bool],
    desired: int,
) -> frozenset[str]:
    """Make before break, one instance per workload at a time: place a replacement for one
    instance on a draining node; stop the original once its replacement is available (runs
    and passes its health check). Wasm instances
    are evacuated by live migration instead (``controllers/migrations.py``).
    Returns the original that may be stopped without a replacement should none fit anywhere:
    only while the others keep ``disruption.min_available`` available (decide.py)."""
    if workload.spec.runtime is Runtime.WASM:
        return frozenset()
    draining = sorted(
        (i for i in live if _on_draining(i, nodes) and not i.metadata.labels.get(MIGRATING)),
        key=lambda i: i.metadata.name,
    )
    in_flight = False
    for inst in draining:
        replacement = pairs.get(inst.metadata.id)
        b["migrate"].append(inst)
        if replacement is None:
            continue
        in_flight = True
        if available(replacement):
            b["migrate"].remove(inst)
            b["stop"].append(inst)
            live.remove(inst)
    if in_flight or not b["migrate"]:
        return frozenset()
    first = b["migrate"][0]
    place.insert(0, Place(first.spec.replica, first.metadata.id, "drain"))
    others = sum(1 for i in live if i is not first and available(i))
    budget = min(workload.spec.disruption.min_available, desired)
    return frozenset({first.metadata.id}) if others >= budget else frozenset()


def _scale(
    desired: int,
    live: list[Instance],
    b: dict[str, list[Instance]],
    place: list[Place],
    reasons: dict[str, str],
    pairs: Mapping[str, Instance],
    pinned: set[str] | None = None,
    *,
    rolling: bool = False,
) -> None:
    """Stop the worst-placed surplus, or place the missing replicas (reusing free numbers).
    ``pinned`` instances (sources of in-flight migrations) count but are never stopped."""
    migrating = {i.metadata.id for i in b["migrate"]}
    # An existing drain replacement stands in for its original: count one of the two.
    paired = {i.metadata.id for i in live if i.metadata.id in pairs}
    count = len(live) - len(migrating & paired)
    replacing = sum(1 for p in place if p.reason == "lost")
    if rolling:
        pass  # the rolling step (_roll) decided this pass's counts
    elif count > desired:
        replacements = {r.metadata.id for r in pairs.values()}
        kept = migrating | replacements | (pinned or set())
        candidates = (i for i in live if i.metadata.id not in kept)
        surplus = sorted(candidates, key=_stop_order)[: count - desired]
        for inst in surplus:
            reasons[inst.metadata.id] = "scale down"
            b["stop"].append(inst)
            live.remove(inst)
        # Lost replicas are not replaced when the survivors already make up the count.
        place[:] = [p for p in place if p.reason != "lost"]
    elif count + replacing > desired:
        keep = [p for p in place if p.reason != "lost"]
        lost = [p for p in place if p.reason == "lost"][: max(0, desired - count)]
        place[:] = keep + lost
    else:
        used = {i.spec.replica for i in live} | {p.replica for p in place}
        numbers = (n for n in range(desired * 2 + len(used) + 1) if n not in used)
        for _ in range(desired - count - replacing):
            place.append(Place(next(numbers)))
    stopping = {i.metadata.id for i in b["stop"]}
    for inst in live:
        if inst.metadata.id in stopping or inst.metadata.id in migrating:
            continue
        if inst in b["disconnecting"] or inst in b["reconnecting"]:
            continue
        b["ignore"].append(inst)
