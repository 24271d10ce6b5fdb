"""Value objects and enums shared by every layer: resources, node and workload words.

Geometry lives in :mod:`edgeorch.domain.geo` and is not imported here: it needs NumPy, which
the agent does not otherwise load (it keeps the agent's idle memory small).
"""

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
from edgeorch.domain.resources import Resources

__all__ = [
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
]
