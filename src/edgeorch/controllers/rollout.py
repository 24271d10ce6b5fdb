"""Rolling updates: revisions of a workload's template, the rolling step, rollout progress.

A workload's **template** is the part of its spec that decides what an instance runs:
``runtime``, ``artifact``, ``resources`` and ``health_check`` (:data:`TEMPLATE_FIELDS`). Changing
any of them starts a rollout; changing anything else (replicas, scaling, placement, disruption,
...) does not touch running instances.

- **Revision**: a numbered template, kept in ``status.revisions`` (the history ``rollout undo``
  goes back in). ``status.revision`` is the current one. An instance's ``spec.generation`` is the
  revision it runs, and the agent is sent *that* template (:func:`spec_for_instance`), so old
  instances keep running the old artifact until the rollout replaces them.
- **Observe** (:func:`observe_revision`): when the spec's template hash is not the current
  revision's, the reconcile pass records a revision (or re-uses the one with the same hash, so an
  undo makes the old instances current again) in the same transaction that places new instances.
- **Step** (:func:`rolling_step`): Kubernetes' rule. At most ``desired + max_surge`` instances
  exist, at least ``floor = max(desired - max_unavailable, min(min_available, desired))`` are
  available; old instances that are not available are stopped first. An instance is available
  when it runs and passes its health check (when it has one), so a new instance must pass its
  check before the next old one goes.
- **Progress** (:func:`rollout_progress`): a rollout fails when a new instance fails (state
  ``failed``, or unhealthy after ``failure_threshold`` probes) or nothing progressed for
  ``update.progress_deadline_seconds``; a failed rollout is held (no more steps) and
  :class:`RolloutController` (the manager's operations thread) rolls it back to
  ``from_revision`` (:func:`roll_back`). A rollback that fails is held, never rolled back again
  (no flip-flopping).
- **Drain progress** (:func:`drain_progress`): what is left on a draining node and why.

No I/O and no clock here: ``now`` is given.
"""

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from edgeorch.domain.enums import InstanceState, NodeScheduling
from edgeorch.schemas.envelope import MetadataIn
from edgeorch.schemas.event import InvolvedObject
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.node import Node
from edgeorch.schemas.workload import (
    TEMPLATE_FIELDS,
    RolloutStatus,
    Workload,
    WorkloadRevision,
    WorkloadSpec,
    WorkloadUpdate,
)
from edgeorch.store import (
    Conflict,
    Database,
    NotFound,
    create_event,
    update_workload,
    update_workload_status,
)
from edgeorch.store.mirror import FeedMirror

__all__ = ["TEMPLATE_FIELDS", "template_hash", "template_of"]
log = logging.getLogger("edgeorch.controllers")

HISTORY_LIMIT = 10  # revisions kept besides those some instance still runs
ROLLOUT = "rollout"  # the Place reason of a rolling update's new replicas


def template_of(spec: WorkloadSpec) -> dict[str, Any]:
    """The fields of ``spec`` that decide what an instance runs (:data:`TEMPLATE_FIELDS`)."""
    return spec.template()


def template_hash(spec: WorkloadSpec) -> str:
    """A short stable hash of :func:`template_of`."""
    text = json.dumps(template_of(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def revision_of(workload: Workload, number: int) -> WorkloadRevision | None:
    """The history entry ``number`` of ``workload``, if kept."""
    return next((r for r in workload.status.revisions if r.number == number), None)


def spec_for_instance(workload: Workload, generation: int) -> WorkloadSpec:
    """The spec an instance of revision ``generation`` runs: the workload's spec with that
    revision's template. Unknown revisions (history pruned, or none yet) run the current spec."""
    revision = revision_of(workload, generation)
    if revision is None or revision.hash == template_hash(workload.spec):
        return workload.spec
    merged = {**workload.spec.model_dump(mode="json"), **revision.template}
    try:
        return WorkloadSpec.model_validate(merged)
    except ValidationError:
        return workload.spec


def observe_revision(
    workload: Workload, instances: Sequence[Instance], now: datetime
) -> tuple[int, tuple[WorkloadRevision, ...]]:
    """The current revision number and history for ``workload``'s spec (see the docstring)."""
    status = workload.status
    revisions = list(status.revisions)
    digest = template_hash(workload.spec)
    current = revision_of(workload, status.revision)
    if current is not None and current.hash == digest:
        return status.revision, tuple(revisions)
    same = next((r for r in reversed(revisions) if r.hash == digest), None)
    if same is not None:
        revisions.remove(same)
        revisions.append(same)
        number = same.number
    else:
        if revisions:
            number = max(r.number for r in revisions) + 1
        else:
            # No history yet: adopt the instances that exist (a store from before revisions).
            number = max((i.spec.generation for i in instances), default=0) or 1
        template = template_of(workload.spec)
        revisions.append(
            WorkloadRevision(number=number, hash=digest, template=template, created_at=now)
        )
    used = {i.spec.generation for i in instances if i.spec.desired_state == "running"}
    keep = {r.number for r in revisions[-HISTORY_LIMIT:]} | used | {number}
    return number, tuple(r for r in revisions if r.number in keep)


def has_health_check(workload: Workload, instance: Instance) -> bool:
    """Whether the template ``instance`` runs has a health check."""
    return spec_for_instance(workload, instance.spec.generation).health_check is not None


def is_available(instance: Instance, checked: bool) -> bool:
    """Running, and healthy when it has a health check (never reported unhealthy otherwise)."""
    if instance.status.state is not InstanceState.RUNNING:
        return False
    if checked:
        return instance.status.healthy is True
    return instance.status.healthy is not False


def availability(workload: Workload) -> Callable[[Instance], bool]:
    """:func:`is_available` for the instances of ``workload``."""
    return lambda inst: is_available(inst, has_health_check(workload, inst))


@dataclass(frozen=True)
class RollStep:
    """One step of a rolling update: how many new replicas to place, which old ones to stop."""

    place: int
    stop: tuple[Instance, ...]


def _stop_order(instance: Instance) -> tuple[int, float, str]:
    started = 0 if instance.status.state in (InstanceState.PENDING, InstanceState.STARTING) else 1
    score = instance.status.score if instance.status.score is not None else float("-inf")
    return (started, score, instance.metadata.name)


def rolling_step(
    workload: Workload,
    desired: int,
    new: Sequence[Instance],
    old: Sequence[Instance],
    *,
    pending: int,
    available: Callable[[Instance], bool],
    keep: frozenset[str] = frozenset(),
    hold: bool = False,
) -> RollStep:
    """The next step from ``old`` (earlier revisions) towards ``desired`` new instances.

    ``pending`` new instances are already being placed this pass (lost or drain replacements);
    ``keep`` are old instances not to stop here (being drained); ``hold`` stops the rollout."""
    if not old or hold:
        return RollStep(0, ())
    strategy = workload.spec.update
    budget = min(workload.spec.disruption.min_available, desired)
    floor = max(desired - strategy.max_unavailable, budget, 0)
    total = len(new) + len(old) + pending
    place = max(0, min(desired + strategy.max_surge - total, desired - len(new) - pending))
    new_unavailable = sum(1 for i in new if not available(i)) + pending + place
    may_stop = total + place - floor - new_unavailable
    stoppable = [i for i in old if i.metadata.id not in keep]
    down = sorted((i for i in stoppable if not available(i)), key=_stop_order)
    up = sorted((i for i in stoppable if available(i)), key=_stop_order)
    stop = down[: max(0, may_stop)]
    may_stop -= len(stop)
    up_count = sum(1 for i in (*new, *old) if available(i))
    stop += up[: max(0, min(may_stop, up_count - floor))]
    return RollStep(place, tuple(stop))


def rollout_progress(
    workload: Workload,
    revision: int,
    desired: int,
    new: Sequence[Instance],
    old: Sequence[Instance],
    available: Callable[[Instance], bool],
    now: datetime,
) -> RolloutStatus | None:
    """The rollout's status after this pass (None: the workload never rolled out)."""
    status = workload.status
    previous = status.rollout
    if revision != status.revision and status.revision != 0:
        rollback = previous is not None and previous.state == "rolled_back"
        previous = RolloutStatus(
            revision=revision,
            from_revision=status.revision,
            rollback=rollback,
            started_at=now,
            progressed_at=now,
            message=f"rolling out revision {revision} (from {status.revision})",
        )
    if previous is None or previous.state != "progressing":
        return previous
    ready = sum(1 for i in new if available(i))
    failing = [i for i in new if _failing(i)]
    deadline = workload.spec.update.progress_deadline_seconds
    moved = ready > previous.updated_available or previous.progressed_at is None
    update: dict[str, Any] = {"updated_available": ready}
    if moved:
        update["progressed_at"] = now
    if failing:
        first = sorted(failing, key=lambda i: i.metadata.name)[0]
        why = first.status.health_message or first.status.message or first.status.state.value
        update |= {"state": "failed", "message": f"instance {first.metadata.name} failed: {why}"}
    elif not old and ready >= desired:
        update |= {"state": "complete", "message": f"revision {revision}: {ready} available"}
    elif not moved and previous.progressed_at is not None:
        stalled = (now - previous.progressed_at).total_seconds()
        if stalled > deadline:
            update |= {
                "state": "failed",
                "message": f"no progress for {stalled:.0f} s (progress_deadline_seconds "
                f"{deadline:g}): {ready} of {desired} new replica(s) available",
            }
    return previous.model_copy(update=update)


def _failing(instance: Instance) -> bool:
    return instance.status.state is InstanceState.FAILED or instance.status.healthy is False


def rollout_events(
    before: RolloutStatus | None, after: RolloutStatus | None
) -> list[tuple[str, str, str]]:
    """``(reason, message, type)`` of the events a change of rollout status deserves."""
    if after is None or before == after:
        return []
    out: list[tuple[str, str, str]] = []
    started = (
        before is None or before.revision != after.revision or before.started_at != after.started_at
    )
    if started:
        what = "rollback" if after.rollback else "rollout"
        out.append(
            (
                "RolloutStarted",
                f"{what} of revision {after.revision} started "
                f"(from revision {after.from_revision})",
                "Normal",
            )
        )
    elif before is not None and after.updated_available > before.updated_available:
        out.append(
            (
                "RolloutStep",
                f"revision {after.revision}: {after.updated_available} new replica(s) available",
                "Normal",
            )
        )
    changed = before is None or before.state != after.state or started
    if changed and after.state == "complete":
        out.append(
            ("RolloutComplete", f"revision {after.revision} rolled out: {after.message}", "Normal")
        )
    if changed and after.state == "failed":
        out.append(
            ("RolloutFailed", f"revision {after.revision} failed: {after.message}", "Warning")
        )
    return out


def summary(
    workload: Workload, instances: Sequence[Instance], nodes_ready: Mapping[str, bool]
) -> dict[str, int]:
    """Counts ``rollout status`` shows: desired, updated, available, unavailable, old."""
    available = availability(workload)
    live = [i for i in instances if i.spec.desired_state == "running"]
    updated = [i for i in live if i.spec.generation == workload.status.revision]
    ok = [i for i in live if available(i) and nodes_ready.get(i.spec.node_id or "", False)]
    return {
        "desired": workload.status.desired_replicas,
        "updated": len(updated),
        "available": len(ok),
        "unavailable": len(live) - len(ok),
        "old": len(live) - len(updated),
    }


# -- rollback and undo: the only writes of this module ---------------------------------------


def previous_revision(workload: Workload) -> WorkloadRevision | None:
    """The most recent revision in the history whose template differs from the current spec."""
    current = template_hash(workload.spec)
    return next((r for r in reversed(workload.status.revisions) if r.hash != current), None)


def roll_back(
    session: Session, workload: Workload, to: WorkloadRevision, *, why: str, automatic: bool
) -> Workload:
    """Write ``workload``'s spec back to revision ``to``'s template (compare-and-swap on the
    version read), mark the rollout ``rolled_back`` and record ``RolledBack``. The reconcile
    pass then rolls the old template out like any other change (marked as a rollback, so a
    failure of it is held, never rolled back again)."""
    spec = WorkloadSpec.model_validate({**workload.spec.model_dump(mode="json"), **to.template})
    meta = workload.metadata
    body = WorkloadUpdate(
        metadata=MetadataIn(name=meta.name, labels=meta.labels, tenant=meta.tenant), spec=spec
    )
    updated = update_workload(
        session=session,
        ref=meta.id,
        tenant=meta.tenant,
        workload=body,
        expected_version=meta.resource_version,
    )
    before = workload.status.revision
    rollout = (workload.status.rollout or RolloutStatus(revision=before)).model_copy(
        update={"state": "rolled_back", "message": why}
    )
    updated = update_workload_status(
        session=session,
        workload_id=meta.id,
        status=updated.status.model_copy(update={"rollout": rollout}),
    )
    how = "rolled back automatically" if automatic else "rolled back on request"
    create_event(
        session=session,
        tenant=meta.tenant,
        type="Warning" if automatic else "Normal",
        reason="RolledBack",
        message=f"workload {meta.name} {how} from revision {before} to revision {to.number}: {why}",
        involved=InvolvedObject(kind="Workload", id=meta.id, name=meta.name),
    )
    return updated


def needs_rollback(workload: Workload) -> WorkloadRevision | None:
    """The revision a failed rollout of ``workload`` goes back to, or None (not failed, a
    failed rollback, or the previous revision is no longer in the history)."""
    rollout = workload.status.rollout
    if rollout is None or rollout.state != "failed" or rollout.rollback:
        return None
    if rollout.revision != workload.status.revision:
        return None
    return revision_of(workload, rollout.from_revision)


class RolloutController:
    """Rolls failed rollouts back (one write per workload, compare-and-swap).

    Works from a :class:`~edgeorch.store.mirror.FeedMirror`: it keeps the ids of the
    workloads whose rollout failed and revisits only the workloads changed since its previous
    pass, so an idle pass costs one change-feed query whatever the number of workloads."""

    def __init__(self, database: Database, mirror: FeedMirror | None = None) -> None:
        self._database = database
        self._mirror = mirror or FeedMirror(database)
        self._seen = -1
        self._failed: set[str] = set()

    def _candidates(self) -> list[tuple[Workload, WorkloadRevision]]:
        with self._mirror.lock:
            return self._failed_rollouts()

    def _failed_rollouts(self) -> list[tuple[Workload, WorkloadRevision]]:
        mirror = self._mirror
        mirror.refresh()
        changes = mirror.changes_since(self._seen)
        ids = mirror.workloads.keys() if changes is None else changes.workloads | self._failed
        self._seen = mirror.revision
        out = []
        for workload_id in sorted(ids):
            workload = mirror.workloads.get(workload_id)
            target = None if workload is None else needs_rollback(workload)
            if workload is None or target is None:
                self._failed.discard(workload_id)
                continue
            self._failed.add(workload_id)
            out.append((workload, target))
        return out

    def run_once(self) -> list[str]:
        """One pass; returns the names of the workloads rolled back."""
        done = []
        for workload, target in self._candidates():
            rollout = workload.status.rollout
            why = rollout.message if rollout is not None else "rollout failed"
            try:
                with self._database.write() as session:
                    roll_back(session, workload, target, why=why, automatic=True)
            except (Conflict, NotFound) as exc:
                # The workload changed meanwhile: its change brings it back next pass.
                log.debug("rollback of %s lost a race: %s", workload.metadata.name, exc)
                continue
            done.append(workload.metadata.name)
        return done


# -- drain progress (a drain is the other voluntary disruption under a disruption budget) -----


@dataclass(frozen=True)
class DrainProgress:
    """What is left on a draining node, and why each instance is still there."""

    node_id: str
    node_name: str
    left: int
    waiting: tuple[dict[str, str], ...]

    @property
    def done(self) -> bool:
        """Nothing wanted runs on the node any more."""
        return self.left == 0


def drain_progress(
    node_id: str,
    node_name: str,
    instances: Sequence[Instance],
    workloads: Mapping[str, Workload],
    peers: Mapping[str, Sequence[Instance]],
) -> DrainProgress:
    """Progress of draining ``node_id``: its wanted ``instances``, their ``workloads`` and all
    instances of each workload (``peers``), to say why an instance waits."""
    waiting = []
    left = [i for i in instances if i.spec.desired_state == "running"]
    for inst in sorted(left, key=lambda i: i.metadata.name):
        workload = workloads.get(inst.spec.workload_id)
        why = "waiting for its replacement to be placed (one move at a time per workload)"
        if workload is not None:
            why = _drain_wait(inst, workload, peers.get(workload.metadata.id, ()))
        waiting.append({"instance": inst.metadata.name, "reason": why})
    return DrainProgress(node_id, node_name, len(left), tuple(waiting))


def _drain_wait(inst: Instance, workload: Workload, peers: Sequence[Instance]) -> str:
    if inst.status.explanation.get("migrating"):
        return "being migrated (controllers/migrations.py)"
    replacement = next(
        (
            p
            for p in peers
            if p.status.explanation.get("replaces") == inst.metadata.id
            and p.spec.desired_state == "running"
        ),
        None,
    )
    budget = workload.spec.disruption.min_available
    if replacement is not None:
        health = replacement.status.health_message or replacement.status.state.value
        return (
            f"replacement {replacement.metadata.name} is not available yet ({health}); the "
            f"original stays until it is (make before break, min_available {budget})"
        )
    if workload.status.message:
        return f"no replacement yet: {workload.status.message} (min_available {budget})"
    return "waiting for its turn: one instance of a workload moves at a time"


class DrainWatcher:
    """Records ``NodeDrained`` once when a draining node has nothing wanted left on it.

    Keeps the ids of the draining nodes from a :class:`~edgeorch.store.mirror.FeedMirror`
    (revisiting only nodes changed since its previous pass) and looks at the instances of those
    nodes only: an idle pass costs one change-feed query whatever the size of the fleet."""

    def __init__(self, database: Database, mirror: FeedMirror | None = None) -> None:
        self._database = database
        self._mirror = mirror or FeedMirror(database)
        self._seen = -1
        self._draining: set[str] = set()
        self._drained: set[str] = set()

    def _draining_nodes(self) -> list[Node]:
        mirror = self._mirror  # the caller holds mirror.lock
        mirror.refresh()
        changes = mirror.changes_since(self._seen)
        ids = mirror.nodes.keys() if changes is None else changes.nodes | self._draining
        self._seen = mirror.revision
        for node_id in ids:
            node = mirror.nodes.get(node_id)
            if node is not None and node.spec.scheduling is NodeScheduling.DRAINING:
                self._draining.add(node_id)
            else:
                self._draining.discard(node_id)
        self._drained &= self._draining
        return sorted((mirror.nodes[i] for i in self._draining), key=lambda n: n.metadata.name)

    def run_once(self) -> list[str]:
        """One pass; returns the names of nodes found drained now."""
        with self._mirror.lock:
            fresh = [
                node
                for node in self._draining_nodes()
                if node.metadata.id not in self._drained
                and not any(
                    i.spec.desired_state == "running"
                    for i in self._mirror.instances_on(node.metadata.id)
                )
            ]
        for node in fresh:
            with self._database.write() as session:
                create_event(
                    session=session,
                    tenant=node.metadata.tenant,
                    reason="NodeDrained",
                    message=f"node {node.metadata.name} is drained: no instance is wanted on it "
                    "any more; it stays unschedulable until uncordoned",
                    involved=InvolvedObject(
                        kind="Node", id=node.metadata.id, name=node.metadata.name
                    ),
                )
            self._drained.add(node.metadata.id)
        return [n.metadata.name for n in fresh]
