"""Tunables of the placement engine, with the brochure's names and defaults.

The brochure (``seeds/novacron-edge-integration.md``, "Complete Edge Configuration") names
``edge_resource_buffer``, ``max_edge_vms_per_node`` and ``max_edge_latency``; we keep its values
so an operator who reads the brochure finds the same knobs.
"""

from dataclasses import dataclass

RESOURCE_FIELDS: tuple[str, ...] = ("cpu", "memory_mb", "storage_gb", "bandwidth_mbps", "gpus")
"""Column order of every ``(n, 5)`` resource array in the snapshot."""

CPU, MEMORY = 0, 1


@dataclass(frozen=True)
class PlacementConfig:
    """Fleet-wide placement settings.

    ``edge_resource_buffer``: share of each node's capacity never handed out (usable capacity is
    ``capacity * (1 - buffer)``). ``max_edge_vms_per_node``: most instances on one node.
    ``max_edge_latency_ms``: RTT at which the latency score reaches 0. ``proximity_km``: distance
    at which the proximity score reaches 0.
    """

    edge_resource_buffer: float = 0.15
    max_edge_vms_per_node: int = 10
    max_edge_latency_ms: float = 100.0
    proximity_km: float = 5000.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.edge_resource_buffer < 1.0:
            raise ValueError(
                f"edge_resource_buffer must be in [0, 1), got {self.edge_resource_buffer}"
            )
        if self.max_edge_vms_per_node < 1:
            raise ValueError(
                f"max_edge_vms_per_node must be >= 1, got {self.max_edge_vms_per_node}"
            )
        if self.max_edge_latency_ms <= 0 or self.proximity_km <= 0:
            raise ValueError("max_edge_latency_ms and proximity_km must be positive")


DEFAULT_CONFIG = PlacementConfig()
