"""The wire models of the agent API (``/api/v1/agent``), shared by the server routes and the agent.

Every call is made by the agent (outbound only):

- ``POST /agent/join`` with a join token: :class:`JoinRequest` → :class:`JoinResponse`;
- ``POST /agent/nodes/{id}/heartbeat`` with the node credential: :class:`Heartbeat` →
  :class:`HeartbeatAck`;
- ``GET /agent/nodes/{id}/assignments?since=REV&digest=D&timeout=S`` with the node credential →
  :class:`AssignmentSet` (``changed`` false and no items when nothing changed within S seconds).
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from edgeorch.domain.enums import Arch, EdgeType, InstanceState, NodeState
from edgeorch.domain.resources import Resources
from edgeorch.schemas.common import Capability, CountryCode, Latitude, Longitude, StrictModel
from edgeorch.schemas.envelope import Labels, Name
from edgeorch.schemas.node import Utilization
from edgeorch.schemas.workload import WorkloadSpec
from edgeorch.telemetry.model import RequestStats

# What a new node needs besides what the agent measures; named in the 422 when missing.
REQUIRED_FOR_NEW_NODE = ("edge_type", "region", "latitude", "longitude", "country")


class NodeFacts(StrictModel):
    """What the operator tells the agent about its node (flags, environment, config file)."""

    edge_type: EdgeType | None = None
    region: str | None = None
    zone: str | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    country: CountryCode | None = None
    cost_per_hour: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    def missing_for_new_node(self) -> list[str]:
        """The facts a node registered by this join would still need."""
        return [name for name in REQUIRED_FOR_NEW_NODE if getattr(self, name) is None]


class Measured(StrictModel):
    """What the agent measured on its machine."""

    arch: Arch
    capacity: Resources
    capabilities: list[Capability] = Field(default_factory=list)


class JoinRequest(StrictModel):
    """Body of ``POST /agent/join``."""

    name: Name
    labels: Labels = Field(default_factory=dict)
    facts: NodeFacts = Field(default_factory=NodeFacts)
    measured: Measured
    agent: dict[str, str] = Field(default_factory=dict)


class JoinResponse(BaseModel):
    """The node the agent now is, and its own credential (shown this once)."""

    node_id: str
    node_name: str
    tenant: str
    created: bool
    credential: str
    credential_id: str


class InstanceReport(StrictModel):
    """One instance's actual state as the agent sees it."""

    id: str
    state: InstanceState
    endpoint: str | None = None
    message: str = Field(default="", max_length=2000)
    restarts: int = Field(default=0, ge=0)
    started_at: datetime | None = None
    # Health probe result (agent/health.py): None while unknown or without a health check.
    healthy: bool | None = None
    health_message: str = Field(default="", max_length=2000)
    # CPU the instance used, in cores, averaged since the previous report (the autoscaler's input).
    cpu_cores: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class Heartbeat(StrictModel):
    """Body of ``POST /agent/nodes/{id}/heartbeat``."""

    utilization: Utilization = Field(default_factory=Utilization)
    instances: list[InstanceReport] = Field(default_factory=list)
    ingress: str | None = None
    revision: int = Field(default=0, ge=0, description="the assignment revision the agent runs")
    telemetry: list[RequestStats] = Field(
        default_factory=list, description="requests served per instance since the last beat"
    )


class HeartbeatAck(BaseModel):
    """The answer to a heartbeat: the node's state, whether the node row is written (a change:
    already durable; a periodic refresh: queued for the next group commit, within a second) and
    how many instance reports were written (durable)."""

    state: NodeState
    persisted: bool
    instances_updated: int


class MigrationDirective(BaseModel):
    """An agent's part in a live or snapshot migration (``docs/migrations.md``).

    The target agent finds it on the target instance's assignment item; the source agent reads
    it from ``GET /agent/nodes/{id}/migrations/{migration}`` when the target calls it. ``secret``
    authenticates the two agents' ingresses to each other for this migration only.
    """

    id: str
    role: Literal["source", "target"]
    type: Literal["live", "cold", "snapshot"]
    secret: str
    source_instance_id: str
    target_instance_id: str | None = None
    workload_name: str
    source_ingress: str | None = None
    max_downtime_ms: float = 300.0
    phase: str = "snapshot"


class AssignmentItem(BaseModel):
    """One instance this node should run, with the workload spec it runs."""

    instance_id: str
    instance_name: str
    replica: int
    generation: int
    desired_state: str
    workload_id: str
    workload_name: str
    workload_spec: WorkloadSpec
    migration: MigrationDirective | None = None  # a migration target waiting for its state


class AssignmentSet(BaseModel):
    """A node's assignments at store ``revision``; ``digest`` identifies the desired state."""

    node_id: str
    revision: int
    digest: str
    changed: bool
    items: list[AssignmentItem] = Field(default_factory=list)
