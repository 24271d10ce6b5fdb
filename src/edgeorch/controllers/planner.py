"""The only write path of the controllers: apply a plan in one transaction, compare-and-swap.

Every op names the ``resource_version`` its decision saw; if any object changed since, the
store raises ``Conflict`` (or ``NotFound`` if it is gone), the whole transaction rolls back and
:class:`PlanConflict` tells the controller to decide again on a fresh snapshot.
:class:`RecordingPlanner` records plans instead of writing them (tests, dry runs, simulator).
"""

import logging
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.orm import Session

from edgeorch.controllers.plan import (
    CreateInstance,
    DeleteInstance,
    Op,
    Plan,
    UpdateInstance,
    UpdateNodeStatus,
    UpdateWorkloadStatus,
)
from edgeorch.schemas.event import InvolvedObject
from edgeorch.schemas.instance import InstanceSpec, InstanceStatus
from edgeorch.store import (
    Conflict,
    Database,
    NotFound,
    create_event,
    create_instance,
    delete_instance,
    read_instance,
    update_instance_spec,
    update_instance_status,
    update_node_status,
    update_workload_status,
)

log = logging.getLogger("edgeorch.controllers")
DEFAULT_ATTEMPTS = 5


class PlanConflict(Exception):
    """The plan was made on a snapshot that is no longer current; decide again."""


class Planner(Protocol):
    """Something that takes plans."""

    def submit(self, plan: Plan) -> int:
        """Apply ``plan``; return the revision it was committed at (0 for an empty plan)."""
        ...


class RecordingPlanner:
    """Records every submitted plan and writes nothing."""

    def __init__(self) -> None:
        self.plans: list[Plan] = []

    def submit(self, plan: Plan) -> int:
        """Record ``plan``."""
        if plan:
            self.plans.append(plan)
        return 0


class StorePlanner:
    """Applies plans to the store, all ops of a plan in one write transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def submit(self, plan: Plan) -> int:
        """Apply ``plan``; raise :class:`PlanConflict` when any version no longer matches."""
        if not plan:
            return 0
        try:
            with self._database.write() as session:
                for op in plan.ops:
                    _apply(session, op)
                revision = int(session.info.get("edgeorch.revision", 0))
        except (Conflict, NotFound) as exc:
            raise PlanConflict(str(exc)) from exc
        return revision


def _apply(session: Session, op: Op) -> None:
    if isinstance(op, CreateInstance):
        status = InstanceStatus(score=op.score, explanation=op.explanation)
        spec = InstanceSpec(
            workload_id=op.workload_id,
            node_id=op.node_id,
            replica=op.replica,
            generation=op.generation,
        )
        create_instance(session=session, spec=spec, tenant=op.tenant, status=status)
    elif isinstance(op, UpdateInstance):
        _update_instance(session, op)
    elif isinstance(op, DeleteInstance):
        delete_instance(
            session=session, ref=op.instance_id, tenant=None, expected_version=op.expected_version
        )
    elif isinstance(op, UpdateWorkloadStatus):
        update_workload_status(
            session=session,
            workload_id=op.workload_id,
            status=op.status,
            expected_version=op.expected_version,
        )
    elif isinstance(op, UpdateNodeStatus):
        update_node_status(
            session=session,
            node_id=op.node_id,
            status=op.status,
            expected_version=op.expected_version,
        )
    else:
        create_event(
            session=session,
            tenant=op.tenant,
            type=op.type,
            reason=op.reason,
            message=op.message,
            involved=InvolvedObject(kind=op.kind, id=op.object_id, name=op.name),
        )


def _update_instance(session: Session, op: UpdateInstance) -> None:
    current = read_instance(session=session, ref=op.instance_id, tenant=None)
    version: int | None = op.expected_version
    if op.desired_state is not None and op.desired_state != current.spec.desired_state:
        spec = current.spec.model_copy(update={"desired_state": op.desired_state})
        current = update_instance_spec(
            session=session, instance_id=op.instance_id, spec=spec, expected_version=version
        )
        version = None  # checked once; the second write of the same op is ours
    if op.state is not None:
        update: dict[str, object] = {"state": op.state}
        if op.message is not None:
            update["message"] = op.message
        update_instance_status(
            session=session,
            instance_id=op.instance_id,
            status=current.status.model_copy(update=update),
            expected_version=version,
        )
    elif version is not None and current.metadata.resource_version != version:
        raise Conflict.stale(
            "Instance", current.metadata.name, current.metadata.resource_version, version
        )


def submit_with_retry(
    decide: Callable[[], Plan], planner: Planner, *, attempts: int = DEFAULT_ATTEMPTS
) -> int:
    """Decide and submit; on a lost race decide again on a fresh snapshot, up to ``attempts``."""
    for attempt in range(1, attempts + 1):
        plan = decide()
        try:
            return planner.submit(plan)
        except PlanConflict as exc:
            log.info("plan conflicted (attempt %d of %d): %s", attempt, attempts, exc)
    return 0
