"""A plan: the writes a controller decided on, as data. Only the planner turns it into writes.

Every update carries the ``resource_version`` the decision was based on, so applying a plan made
from a stale snapshot fails as a whole (compare-and-swap) instead of overwriting newer state.
"""

from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from edgeorch.domain.enums import InstanceState
from edgeorch.schemas.node import NodeStatus
from edgeorch.schemas.workload import WorkloadStatus

EventType = Literal["Normal", "Warning"]
T = TypeVar("T")


@dataclass(frozen=True)
class CreateInstance:
    """Create replica ``replica`` of a workload on ``node_id`` with its placement record."""

    workload_id: str
    tenant: str
    replica: int
    node_id: str
    generation: int
    score: float
    explanation: dict[str, Any]


@dataclass(frozen=True)
class UpdateInstance:
    """Change an instance's desired state and/or its observed state (None: leave as is)."""

    instance_id: str
    expected_version: int
    desired_state: Literal["running", "stopped"] | None = None
    state: InstanceState | None = None
    message: str | None = None


@dataclass(frozen=True)
class DeleteInstance:
    """Remove a stopped (or unreachable and no longer wanted) instance."""

    instance_id: str
    expected_version: int


@dataclass(frozen=True)
class UpdateWorkloadStatus:
    """Replace a workload's status; also the compare-and-swap guard for its placements."""

    workload_id: str
    expected_version: int
    status: WorkloadStatus


@dataclass(frozen=True)
class UpdateNodeStatus:
    """Replace a node's status (node lifecycle)."""

    node_id: str
    expected_version: int
    status: NodeStatus


@dataclass(frozen=True)
class RecordEvent:
    """An event written in the same transaction as the plan's changes."""

    tenant: str
    kind: str
    object_id: str
    name: str
    reason: str
    message: str
    type: EventType = "Normal"


Op = (
    CreateInstance
    | UpdateInstance
    | DeleteInstance
    | UpdateWorkloadStatus
    | UpdateNodeStatus
    | RecordEvent
)


@dataclass(frozen=True)
class Plan:
    """Writes decided on a snapshot taken at store revision ``revision``."""

    revision: int
    ops: tuple[Op, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.ops)

    def of(self, kind: type[T]) -> list[T]:
        """The ops of one type, in order."""
        return [op for op in self.ops if isinstance(op, kind)]
