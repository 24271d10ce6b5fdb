"""Instance: one replica of a workload bound to one node."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edgeorch.domain.enums import InstanceState
from edgeorch.schemas.envelope import API_VERSION, Metadata


class InstanceSpec(BaseModel):
    """Desired state of a replica, written by the controllers."""

    workload_id: str
    node_id: str | None
    replica: int = Field(ge=0)
    generation: int = 1
    desired_state: Literal["running", "stopped"] = "running"


class InstanceStatus(BaseModel):
    """Actual state of a replica, reported by its agent or set by a controller."""

    state: InstanceState = InstanceState.PENDING
    endpoint: str | None = None
    message: str = ""
    score: float | None = None
    explanation: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime | None = None
    restarts: int = 0
    healthy: bool | None = None
    health_message: str = ""
    cpu_cores: float | None = None


class Instance(BaseModel):
    """An instance as the API returns it."""

    api_version: str = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Instance"] = "Instance"
    metadata: Metadata
    spec: InstanceSpec
    status: InstanceStatus

    model_config = ConfigDict(populate_by_name=True)
