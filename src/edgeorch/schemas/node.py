"""Node: one edge site's machine, its facts (spec) and its observed state (status)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edgeorch.domain.enums import Arch, EdgeType, NetworkSlice, NodeScheduling, NodeState
from edgeorch.domain.resources import Resources
from edgeorch.schemas.common import Capability, CountryCode, Location, StrictModel
from edgeorch.schemas.envelope import API_VERSION, Labels, Metadata, MetadataIn


class NodeSpec(StrictModel):
    """What a node is: where, what kind, how big, what it can run, what it costs."""

    edge_type: EdgeType
    region: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$")
    zone: str | None = Field(
        default=None, min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$"
    )
    location: Location
    country: CountryCode
    arch: Arch = Arch.X86_64
    capacity: Resources
    capabilities: list[Capability] = Field(default_factory=list)
    network_slices: list[NetworkSlice] = Field(default_factory=list)
    cost_per_hour: float = Field(default=0.0, ge=0, allow_inf_nan=False, description="USD/hour")
    scheduling: NodeScheduling = NodeScheduling.ENABLED


class Utilization(BaseModel):
    """Fractions in [0, 1] of each capacity in use, as last reported by the agent."""

    cpu: float = Field(default=0.0, ge=0, le=1)
    memory: float = Field(default=0.0, ge=0, le=1)
    storage: float = Field(default=0.0, ge=0, le=1)
    bandwidth: float = Field(default=0.0, ge=0, le=1)


class NodeStatus(BaseModel):
    """What the control plane observes of a node."""

    state: NodeState = NodeState.PENDING
    allocated: Resources = Field(default_factory=Resources)
    utilization: Utilization = Field(default_factory=Utilization)
    instances: int = 0
    last_heartbeat: datetime | None = None
    joined_at: datetime | None = None
    measured_rtt_ms: dict[str, float] = Field(
        default_factory=dict, description="round-trip times measured by the agent, by target"
    )
    agent: dict[str, str] = Field(
        default_factory=dict, description="agent version and fingerprint facts"
    )
    message: str = ""


class NodeCreate(StrictModel):
    """Body of ``POST /edge/nodes`` and a ``kind: Node`` manifest."""

    api_version: Literal["edgeorch.io/v1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Node"] = "Node"
    metadata: MetadataIn
    spec: NodeSpec

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NodeConfigUpdate(StrictModel):
    """Body of ``PUT /edge/nodes/{id}/config``: a full replacement of spec and labels.

    ``resource_version``, when given, must match the stored one (409 otherwise).
    """

    spec: NodeSpec
    labels: Labels | None = None
    resource_version: int | None = Field(default=None, ge=0)


class Node(BaseModel):
    """A node as the API returns it."""

    api_version: str = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Node"] = "Node"
    metadata: Metadata
    spec: NodeSpec
    status: NodeStatus

    model_config = ConfigDict(populate_by_name=True)
