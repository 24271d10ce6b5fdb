"""Workload: what to run, how many, with which resources, and where it may and should run."""

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from edgeorch.domain.countries import countries_for_regulation
from edgeorch.domain.enums import (
    Arch,
    DisconnectReconcile,
    EdgeType,
    NetworkSlice,
    Runtime,
    SpreadLevel,
)
from edgeorch.domain.resources import Resources
from edgeorch.schemas.common import Capability, CountryCode, Latitude, Longitude, StrictModel
from edgeorch.schemas.envelope import API_VERSION, Metadata, MetadataIn

MAX_REPLICAS = 10_000
TEMPLATE_FIELDS = ("runtime", "artifact", "resources", "health_check")


class Artifact(StrictModel):
    """What the agent runs. Which fields are needed depends on the runtime:

    - ``process``: ``command`` (argv list), optional ``env`` and ``working_dir``;
    - ``wasm``: ``digest`` (``sha256:<hex>`` of a module uploaded to ``/api/v1/artifacts``);
    - ``container``: ``image`` (an OCI bundle or image reference);
    - ``vm``: ``image`` (a disk image reference).

    ``port`` is the port the workload listens on (process, container, vm); the agent's ingress
    routes requests to it.
    """

    command: list[str] | None = Field(default=None, min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    working_dir: str | None = None
    digest: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")
    image: str | None = Field(default=None, min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)


class Scaling(StrictModel):
    """Autoscaling bounds and target; replaces a fixed ``replicas`` count.

    ``min_instances``/``max_instances`` (the brochure's words) are accepted for ``min``/``max``.
    ``cooldown_seconds`` is the scale-up cool-down, ``scale_down_cooldown_seconds`` the
    scale-down one (Kubernetes HPA's 5-minute stabilisation); ``tolerance`` is the band around
    the target inside which nothing changes (HPA's 10 %). See ``docs/operations.md``.
    """

    min: int = Field(ge=0, le=MAX_REPLICAS, validation_alias=AliasChoices("min", "min_instances"))
    max: int = Field(ge=1, le=MAX_REPLICAS, validation_alias=AliasChoices("max", "max_instances"))
    target_cpu_utilization: float | None = Field(default=None, gt=0, le=100)
    target_requests_per_second: float | None = Field(default=None, gt=0)
    cooldown_seconds: float = Field(default=60.0, ge=0)
    scale_down_cooldown_seconds: float = Field(default=300.0, ge=0)
    tolerance: float = Field(default=0.1, ge=0, lt=1)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"scaling.min ({self.min}) must not exceed scaling.max ({self.max})")
        return self


class UserPoint(StrictModel):
    """A user population: a place and its share of the demand (any positive scale)."""

    latitude: Latitude
    longitude: Longitude
    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)


class Residency(StrictModel):
    """Where the workload's data may live: explicit countries, a regulation preset, or both
    (then a node must satisfy both)."""

    countries: list[CountryCode] | None = Field(default=None, min_length=1)
    regulation: str | None = None

    @model_validator(mode="after")
    def _known_regulation(self) -> Self:
        if self.regulation is not None:
            countries_for_regulation(self.regulation)
        if self.countries is None and self.regulation is None:
            raise ValueError("residency needs 'countries', 'regulation' (GDPR, CCPA), or both")
        return self

    def allowed(self) -> frozenset[str]:
        """The set of country codes a node may be in."""
        allowed: frozenset[str] | None = None
        if self.countries is not None:
            allowed = frozenset(self.countries)
        if self.regulation is not None:
            preset = countries_for_regulation(self.regulation)
            allowed = preset if allowed is None else allowed & preset
        return allowed if allowed is not None else frozenset()


class Spread(StrictModel):
    """Spread replicas across a topology level; ``max_skew`` is how uneven it may get."""

    across: SpreadLevel = SpreadLevel.NODE
    max_skew: int = Field(default=1, ge=1)
    hard: bool = False


class PlacementWeights(StrictModel):
    """Weights of the score terms (brochure defaults). Any non-negative values; the framework
    uses them as given, so they need not sum to 1."""

    latency: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    resources: float = Field(default=0.3, ge=0, allow_inf_nan=False)
    cost: float = Field(default=0.2, ge=0, allow_inf_nan=False)
    proximity: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    spread: float = Field(default=0.0, ge=0, allow_inf_nan=False)


class PlacementSpec(StrictModel):
    """Hard constraints (filters) and preferences (weights) for where replicas run."""

    users: list[UserPoint] = Field(default_factory=list)
    user_regions: list[str] = Field(default_factory=list)
    max_latency_ms: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    edge_types: list[EdgeType] | None = Field(default=None, min_length=1)
    arch: list[Arch] | None = Field(default=None, min_length=1)
    capabilities: list[Capability] = Field(default_factory=list)
    regions: list[str] | None = Field(default=None, min_length=1)
    residency: Residency | None = None
    max_cost_per_hour: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    spread: Spread | None = None
    network_slice: NetworkSlice | None = None
    max_instances_per_node: int | None = Field(default=None, ge=1)
    weights: PlacementWeights = Field(default_factory=PlacementWeights)


class DisconnectPolicy(StrictModel):
    """What happens to a replica whose node stops answering."""

    lost_after: float = Field(default=30.0, ge=0, description="seconds after node is down")
    replace: bool = True
    reconcile: DisconnectReconcile = DisconnectReconcile.BEST_SCORE


class DisruptionBudget(StrictModel):
    """How many replicas must stay available during voluntary disruptions (drains, rollouts)."""

    min_available: int = Field(default=0, ge=0)


class HealthCheck(StrictModel):
    """A probe the agent runs against each instance (``edgeorch.agent.health``).

    ``http``: GET ``http_path`` on the instance (its port, or the wasm handler); any 2xx or 3xx
    answer within ``timeout_seconds`` passes. ``tcp``: a connection to the instance's port
    passes. An instance is healthy after one pass, unhealthy after ``failure_threshold``
    consecutive failures; probing starts ``initial_delay_seconds`` after the instance started.
    """

    type: Literal["http", "tcp"] = "http"
    http_path: str = Field(default="/", pattern=r"^/")
    interval_seconds: float = Field(default=15.0, gt=0)
    timeout_seconds: float = Field(default=2.0, gt=0)
    failure_threshold: int = Field(default=3, ge=1)
    initial_delay_seconds: float = Field(default=0.0, ge=0)


class UpdateStrategy(StrictModel):
    """Rolling update: how many replicas may be unavailable, and how many extra may run, at
    once; how long a rollout may go without progress before it counts as failed."""

    max_unavailable: int = Field(default=1, ge=0)
    max_surge: int = Field(default=1, ge=0)
    progress_deadline_seconds: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _can_progress(self) -> Self:
        if self.max_unavailable == 0 and self.max_surge == 0:
            raise ValueError(
                "update.max_unavailable and update.max_surge are both 0, so a rollout could never "
                "replace anything: allow at least 1 of either"
            )
        return self


class WorkloadSpec(StrictModel):
    """The desired state of a workload."""

    runtime: Runtime
    artifact: Artifact
    replicas: int | None = Field(default=None, ge=0, le=MAX_REPLICAS)
    scaling: Scaling | None = None
    resources: Resources = Field(default_factory=lambda: Resources(cpu=0.1, memory_mb=64))
    placement: PlacementSpec = Field(default_factory=PlacementSpec)
    disconnect: DisconnectPolicy = Field(default_factory=DisconnectPolicy)
    disruption: DisruptionBudget = Field(default_factory=DisruptionBudget)
    health_check: HealthCheck | None = None
    update: UpdateStrategy = Field(default_factory=UpdateStrategy)
    singleton: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.replicas is None and self.scaling is None:
            self.replicas = 1
        if self.replicas is not None and self.scaling is not None:
            raise ValueError("give either 'replicas' or 'scaling' (min/max), not both")
        if self.singleton and self.desired_max() > 1:
            raise ValueError("a singleton workload runs at most 1 replica")
        needs = {
            Runtime.PROCESS: ("command", self.artifact.command),
            Runtime.WASM: ("digest", self.artifact.digest),
            Runtime.CONTAINER: ("image", self.artifact.image),
            Runtime.VM: ("image", self.artifact.image),
        }
        field, value = needs[self.runtime]
        if value is None:
            raise ValueError(f"runtime {self.runtime.value!r} needs artifact.{field}")
        return self

    def template(self) -> dict[str, Any]:
        """The fields that decide what an instance runs (:data:`TEMPLATE_FIELDS`), as JSON: a
        change of these is a rolling update (``controllers/rollout.py``), nothing else is."""
        return self.model_dump(mode="json", include=set(TEMPLATE_FIELDS))

    def desired_max(self) -> int:
        """The most replicas this spec may ever ask for."""
        if self.scaling is not None:
            return self.scaling.max
        return self.replicas or 0


class WorkloadRevision(BaseModel):
    """One entry of a workload's revision history: the template its instances ran
    (``controllers/rollout.py`` says which spec fields a template holds)."""

    number: int = Field(ge=1)
    hash: str
    template: dict[str, Any]
    created_at: datetime | None = None


class RolloutStatus(BaseModel):
    """The latest rollout: from which revision to which, its state and why."""

    state: Literal["progressing", "complete", "failed", "rolled_back"] = "progressing"
    revision: int = 0
    from_revision: int = 0
    rollback: bool = False
    started_at: datetime | None = None
    progressed_at: datetime | None = None
    updated_available: int = 0
    message: str = ""


class WorkloadStatus(BaseModel):
    """What the controllers observe of a workload."""

    desired_replicas: int = 0
    placed_replicas: int = 0
    running_replicas: int = 0
    generation: int = 1
    observed_generation: int = 0
    message: str = ""
    conditions: list[dict[str, str]] = Field(default_factory=list)
    last_scaled_at: datetime | None = None
    revision: int = 0
    revisions: list[WorkloadRevision] = Field(default_factory=list)
    updated_replicas: int = 0
    available_replicas: int = 0
    rollout: RolloutStatus | None = None
    observed_cpu_utilization: float | None = None


class WorkloadCreate(StrictModel):
    """Body of ``POST /workloads`` and a ``kind: Workload`` manifest."""

    api_version: Literal["edgeorch.io/v1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Workload"] = "Workload"
    metadata: MetadataIn
    spec: WorkloadSpec

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class WorkloadUpdate(WorkloadCreate):
    """Body of ``PUT /workloads/{id}``: a full replacement of spec and labels."""


class ScaleRequest(StrictModel):
    """Body of ``PUT /workloads/{id}/scale``."""

    replicas: int = Field(ge=0, le=MAX_REPLICAS)
    resource_version: int | None = Field(default=None, ge=0)


class Workload(BaseModel):
    """A workload as the API returns it."""

    api_version: str = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Workload"] = "Workload"
    metadata: Metadata
    spec: WorkloadSpec
    status: WorkloadStatus

    model_config = ConfigDict(populate_by_name=True)
