"""API models: the envelope and, per kind, ``XCreate`` / ``XUpdate`` / ``X``.

Every object travels in the Kubernetes-style envelope (``apiVersion``, ``kind``, ``metadata``,
``spec``, ``status``). Input models forbid unknown fields, and server-set fields (``metadata.id``,
``created_at``, ``status``) are not part of them, so sending one is a 422 that names it.
"""

from edgeorch.schemas.common import Location
from edgeorch.schemas.envelope import API_VERSION, ListMeta, Metadata, MetadataIn, ObjectList
from edgeorch.schemas.event import Event, InvolvedObject
from edgeorch.schemas.instance import Instance, InstanceSpec, InstanceStatus
from edgeorch.schemas.node import (
    Node,
    NodeConfigUpdate,
    NodeCreate,
    NodeSpec,
    NodeStatus,
    Utilization,
)
from edgeorch.schemas.tenant import Tenant, TenantCreate, TenantSpec
from edgeorch.schemas.token import Token, TokenCreate, TokenCreated
from edgeorch.schemas.workload import (
    Artifact,
    DisconnectPolicy,
    DisruptionBudget,
    HealthCheck,
    PlacementSpec,
    PlacementWeights,
    Residency,
    ScaleRequest,
    Scaling,
    Spread,
    UserPoint,
    Workload,
    WorkloadCreate,
    WorkloadSpec,
    WorkloadStatus,
    WorkloadUpdate,
)

__all__ = [
    "API_VERSION",
    "Artifact",
    "DisconnectPolicy",
    "DisruptionBudget",
    "Event",
    "HealthCheck",
    "Instance",
    "InstanceSpec",
    "InstanceStatus",
    "InvolvedObject",
    "ListMeta",
    "Location",
    "Metadata",
    "MetadataIn",
    "Node",
    "NodeConfigUpdate",
    "NodeCreate",
    "NodeSpec",
    "NodeStatus",
    "ObjectList",
    "PlacementSpec",
    "PlacementWeights",
    "Residency",
    "ScaleRequest",
    "Scaling",
    "Spread",
    "Tenant",
    "TenantCreate",
    "TenantSpec",
    "Token",
    "TokenCreate",
    "TokenCreated",
    "UserPoint",
    "Utilization",
    "Workload",
    "WorkloadCreate",
    "WorkloadSpec",
    "WorkloadStatus",
    "WorkloadUpdate",
]
