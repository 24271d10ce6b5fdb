"""From buckets to a plan: place what must be placed, and turn every bucket into writes.

Placement runs the placement engine (``place_batch``) on a *fork* of the fleet snapshot, so all
workloads of one pass compete for capacity together and nothing is over-committed, while the
shared snapshot stays untouched until the store says the instances exist.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from edgeorch.controllers.plan import (
    CreateInstance,
    DeleteInstance,
    Op,
    Plan,
    RecordEvent,
    UpdateInstance,
    UpdateWorkloadStatus,
)
from edgeorch.controllers.reconcile import REASON, REPLACES, Buckets
from edgeorch.controllers.rollout import rollout_events
from edgeorch.domain.enums import InstanceState
from edgeorch.placement import Decision, FleetSnapshot, PlacementRequest, place_batch
from edgeorch.schemas.instance import Instance


@dataclass(frozen=True)
class Unplaceable:
    """Replicas of a workload that found no node, with the decision that says why."""

    workload_id: str
    tenant: str
    name: str
    missing: int
    decision: Decision

    def message(self) -> str:
        """One sentence: how many, which constraints block, and the hints."""
        blocking = ", ".join(self.decision.blocking) or "none"
        hints = "; ".join(h.message for h in self.decision.hints) or "no hint"
        return (
            f"{self.missing} replica(s) of workload {self.name} cannot be placed: "
            f"{self.decision.feasible_nodes} of {self.decision.total_nodes} nodes feasible; "
            f"blocking constraints: {blocking}; hints: {hints}"
        )


@dataclass(frozen=True)
class Decided:
    """A plan and the placements that failed (events for those are throttled by the caller)."""

    plan: Plan
    unplaceable: tuple[Unplaceable, ...]


def explanation(decision: Decision, index: int) -> dict[str, Any]:
    """The compact record stored on an instance: why this node, and what else was considered."""
    chosen = decision.assignments[index]
    return {
        "node_id": chosen.node_id,
        "score": chosen.score,
        "latency_ms": chosen.latency_ms,
        "feasible_nodes": decision.feasible_nodes,
        "total_nodes": decision.total_nodes,
        "weights": decision.weights,
        "candidates": [
            {"node_id": c.node_id, "score": c.score, "terms": c.terms} for c in decision.candidates
        ],
        "filters": [{"name": f.name, "removed": f.removed} for f in decision.filters],
    }


def decide(buckets: Sequence[Buckets], snapshot: FleetSnapshot, *, revision: int) -> Decided:
    """The plan for one reconcile pass over ``buckets``; ``snapshot`` is forked, not changed."""
    wanting = [b for b in buckets if b.place]
    requests = [
        PlacementRequest(
            b.workload.spec,
            b.workload.metadata.id,
            len(b.place),
            request_id=f"{b.workload.metadata.id}:{revision}",
        )
        for b in wanting
    ]
    batch = place_batch(snapshot.fork(), requests, top_k=3) if requests else None
    decisions = dict(
        zip(
            (b.workload.metadata.id for b in wanting), batch.decisions if batch else (), strict=True
        )
    )
    ops: list[Op] = []
    failed: list[Unplaceable] = []
    for b in buckets:
        decision = decisions.get(b.workload.metadata.id)
        created = _placements(b, decision, ops)
        if decision is not None and not decision.ok:
            w = b.workload
            missing = decision.requested - decision.placed
            failed.append(
                Unplaceable(w.metadata.id, w.metadata.tenant, w.metadata.name, missing, decision)
            )
        _instance_ops(b, created, ops)
        _evict_unplaced(b, decision, ops)
        _status_op(b, decision, ops)
    return Decided(Plan(revision, tuple(ops)), tuple(failed))


def _placements(b: Buckets, decision: Decision | None, ops: list[Op]) -> set[str]:
    """Create ops for the placed replicas; returns the ids of the instances being replaced."""
    replaced: set[str] = set()
    if decision is None:
        return replaced
    w = b.workload
    for index, (want, got) in enumerate(zip(b.place, decision.assignments, strict=False)):
        record = explanation(decision, index)
        if want.replaces is not None:
            record[REPLACES] = want.replaces
            replaced.add(want.replaces)
        record[REASON] = want.reason
        ops.append(
            CreateInstance(
                workload_id=w.metadata.id,
                tenant=w.metadata.tenant,
                replica=want.replica,
                node_id=got.node_id,
                generation=b.revision or w.status.generation,
                score=got.score,
                explanation=record,
            )
        )
    return replaced


def _instance_ops(b: Buckets, replaced: set[str], ops: list[Op]) -> None:
    w = b.workload
    for inst in b.stop:
        why = b.reasons.get(inst.metadata.id, "not wanted")
        ops.append(UpdateInstance(inst.metadata.id, inst.metadata.resource_version, "stopped"))
        ops.append(_event(inst, "InstanceStopping", f"stopping {inst.metadata.name}: {why}"))
    for inst in b.delete:
        ops.append(DeleteInstance(inst.metadata.id, inst.metadata.resource_version))
    for inst in b.lost:
        # A singleton's original is stopped in the same transaction that creates its
        # replacement, so the agent's first answer after reconnecting already says "stop".
        stop: Literal["stopped"] | None = None
        if w.spec.singleton and inst.metadata.id in replaced:
            stop = "stopped"
        if inst.status.state is InstanceState.LOST and stop is None:
            continue
        message = "its node has been down longer than disconnect.lost_after"
        ops.append(
            UpdateInstance(
                inst.metadata.id, inst.metadata.resource_version, stop, InstanceState.LOST, message
            )
        )
        if inst.status.state is not InstanceState.LOST:
            text = f"instance {inst.metadata.name} is lost: {message}"
            ops.append(_event(inst, "InstanceLost", text, "Warning"))
    for inst in b.disconnecting:
        if inst.status.state in (InstanceState.UNKNOWN, InstanceState.LOST):
            continue
        ops.append(
            UpdateInstance(
                inst.metadata.id,
                inst.metadata.resource_version,
                state=InstanceState.UNKNOWN,
                message="its node stopped answering; waiting for disconnect.lost_after",
            )
        )


def _evict_unplaced(b: Buckets, decision: Decision | None, ops: list[Op]) -> None:
    """A drain replacement that found no node: stop the original anyway when the workload's
    ``disruption.min_available`` allows it (``b.evictable``), else say why the drain waits."""
    if decision is None or not b.place or b.place[0].reason != "drain":
        return
    if decision.placed > 0:
        return  # drain places come first, so the first placement was the drain's
    original = next((i for i in b.migrate if i.metadata.id == b.place[0].replaces), None)
    if original is None:
        return
    budget = b.workload.spec.disruption.min_available
    if original.metadata.id in b.evictable:
        ops.append(
            UpdateInstance(original.metadata.id, original.metadata.resource_version, "stopped")
        )
        text = (
            f"evicting {original.metadata.name} from its draining node: no node can take a "
            f"replacement, and {b.available - 1} available replica(s) still meet "
            f"disruption.min_available {budget}"
        )
        ops.append(_event(original, "InstanceEvicted", text, "Warning"))


def _event(inst: Instance, reason: str, message: str, type_: str = "Normal") -> RecordEvent:
    return RecordEvent(
        tenant=inst.metadata.tenant,
        kind="Instance",
        object_id=inst.metadata.id,
        name=inst.metadata.name,
        reason=reason,
        message=message,
        type="Warning" if type_ == "Warning" else "Normal",
    )


def _status_op(b: Buckets, decision: Decision | None, ops: list[Op]) -> None:
    w = b.workload
    placed = b.live + (decision.placed if decision is not None else 0)
    running = sum(
        1
        for i in (*b.ignore, *b.migrate, *b.reconnecting)
        if i.status.state is InstanceState.RUNNING
    )
    message = ""
    if decision is not None and not decision.ok:
        message = f"{decision.requested - decision.placed} replica(s) cannot be placed"
    status = w.status.model_copy(
        update={
            "desired_replicas": b.desired,
            "placed_replicas": placed,
            "running_replicas": running,
            "observed_generation": w.status.generation,
            "message": message,
            "revision": b.revision or w.status.revision,
            "revisions": list(b.revisions) if b.revision else w.status.revisions,
            "rollout": b.rollout,
            "updated_replicas": b.updated,
            "available_replicas": b.available,
        }
    )
    for reason, text, kind in rollout_events(w.status.rollout, b.rollout):
        ops.append(
            RecordEvent(
                tenant=w.metadata.tenant,
                kind="Workload",
                object_id=w.metadata.id,
                name=w.metadata.name,
                reason=reason,
                message=f"workload {w.metadata.name}: {text}",
                type="Warning" if kind == "Warning" else "Normal",
            )
        )
    new_instances = decision is not None and decision.placed > 0
    if status != w.status or new_instances:
        # Always written with placements: the workload's version guards against a second
        # writer placing the same replicas from an older snapshot.
        ops.append(UpdateWorkloadStatus(w.metadata.id, w.metadata.resource_version, status))
