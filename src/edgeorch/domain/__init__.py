"""Value objects and enums shared by every layer: resources, geography, node and workload words."""

from edgeorch.domain.enums import (
    Arch,
    DisconnectReconcile,
    EdgeType,
    InstanceState,
    NetworkSlice,
    NodeScheduling,
    NodeState,
    Runtime,
    SpreadLevel,
    TokenRole,
)
from edgeorch.domain.geo import EARTH_RADIUS_KM, haversine_km
from edgeorch.domain.resources import Resources

__all__ = [
    "EARTH_RADIUS_KM",
    "Arch",
    "DisconnectReconcile",
    "EdgeType",
    "InstanceState",
    "NetworkSlice",
    "NodeScheduling",
    "NodeState",
    "Resources",
    "Runtime",
    "SpreadLevel",
    "TokenRole",
    "haversine_km",
]
