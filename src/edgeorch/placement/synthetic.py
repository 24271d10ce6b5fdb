"""Synthetic fleets and workloads for tests, benchmarks and the simulator (seeded, no clock).

Nodes are scattered around a handful of real metros so that latency, residency and region
constraints bite the way they do in a real fleet.
"""

from datetime import UTC, datetime

import numpy as np

from edgeorch.domain.enums import Arch, EdgeType, NetworkSlice, NodeScheduling, NodeState
from edgeorch.domain.resources import Resources
from edgeorch.schemas.common import Location
from edgeorch.schemas.envelope import Metadata
from edgeorch.schemas.node import Node, NodeSpec, NodeStatus
from edgeorch.schemas.workload import Artifact, PlacementSpec, UserPoint, WorkloadSpec

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

# (region, country, latitude, longitude)
METROS: tuple[tuple[str, str, float, float], ...] = (
    ("eu-central", "DE", 50.11, 8.68),
    ("eu-west", "FR", 48.86, 2.35),
    ("eu-south", "IT", 45.46, 9.19),
    ("eu-north", "SE", 59.33, 18.07),
    ("uk", "GB", 51.51, -0.13),
    ("us-east", "US", 40.71, -74.01),
    ("us-west", "US", 37.77, -122.42),
    ("ca-central", "CA", 43.65, -79.38),
    ("ap-southeast", "AU", -33.87, 151.21),
    ("ap-south", "IN", 19.08, 72.88),
    ("ap-northeast", "JP", 35.68, 139.69),
    ("sa-east", "BR", -23.55, -46.63),
)
_CAPS = ("wasm_runtime", "container_runtime", "vm_runtime", "gpu_acceleration", "object_storage")


def make_node(
    node_id: str,
    *,
    edge_type: EdgeType = EdgeType.MEC,
    region: str = "eu-central",
    zone: str | None = "a",
    country: str = "DE",
    latitude: float = 50.11,
    longitude: float = 8.68,
    arch: Arch = Arch.X86_64,
    capacity: Resources | None = None,
    capabilities: tuple[str, ...] = (),
    slices: tuple[NetworkSlice, ...] = (),
    cost_per_hour: float = 0.5,
    state: NodeState = NodeState.READY,
    scheduling: NodeScheduling = NodeScheduling.ENABLED,
    measured_rtt_ms: dict[str, float] | None = None,
) -> Node:
    """One node with sensible defaults; every fact can be overridden."""
    spec = NodeSpec(
        edge_type=edge_type,
        region=region,
        zone=zone,
        location=Location(latitude=latitude, longitude=longitude),
        country=country,
        arch=arch,
        capacity=capacity or Resources(cpu=8, memory_mb=16384, storage_gb=100),
        capabilities=list(capabilities),
        network_slices=list(slices),
        cost_per_hour=cost_per_hour,
        scheduling=scheduling,
    )
    meta = Metadata(
        id=node_id,
        name=node_id,
        tenant="default",
        resource_version=1,
        created_at=EPOCH,
        updated_at=EPOCH,
    )
    status = NodeStatus(state=state, measured_rtt_ms=measured_rtt_ms or {})
    return Node(metadata=meta, spec=spec, status=status)


def synthetic_fleet(n: int, seed: int = 0) -> list[Node]:
    """``n`` nodes around :data:`METROS`: mixed edge types, arches, capabilities and prices."""
    rng = np.random.default_rng(seed)
    metro = rng.integers(len(METROS), size=n)
    jitter = rng.normal(0.0, 1.0, size=(n, 2))
    kinds = rng.choice(list(EdgeType), size=n)
    cpus = rng.choice([4, 8, 16, 32, 64], size=n)
    states = rng.random(n)
    nodes: list[Node] = []
    for i in range(n):
        region, country, lat, lon = METROS[metro[i]]
        caps = tuple(c for c in _CAPS if rng.random() < 0.6)
        nodes.append(
            make_node(
                f"node-{i}",
                edge_type=EdgeType(kinds[i]),
                region=region,
                zone="abc"[i % 3],
                country=country,
                latitude=float(np.clip(lat + jitter[i, 0], -89.0, 89.0)),
                longitude=float(np.clip(lon + jitter[i, 1], -179.0, 179.0)),
                arch=Arch.ARM64 if rng.random() < 0.3 else Arch.X86_64,
                capacity=Resources(
                    cpu=float(cpus[i]), memory_mb=int(cpus[i]) * 2048, storage_gb=200
                ),
                capabilities=caps,
                slices=tuple(s for s in NetworkSlice if rng.random() < 0.5),
                cost_per_hour=round(float(rng.uniform(0.05, 3.0)), 3),
                state=NodeState.READY if states[i] < 0.95 else NodeState.SUSPECT,
                scheduling=NodeScheduling.CORDONED if states[i] > 0.99 else NodeScheduling.ENABLED,
            )
        )
    return nodes


def synthetic_workload(seed: int = 0, *, replicas: int = 1) -> WorkloadSpec:
    """A container workload with users around one metro and a 60 ms SLA."""
    rng = np.random.default_rng(seed)
    _, _, lat, lon = METROS[int(rng.integers(len(METROS)))]
    users = [
        UserPoint(latitude=lat + float(dy), longitude=lon + float(dx), weight=float(w))
        for dy, dx, w in zip(
            rng.normal(0, 1, 3), rng.normal(0, 1, 3), rng.uniform(0.5, 2, 3), strict=True
        )
    ]
    return WorkloadSpec(
        runtime="container",
        artifact=Artifact(image="registry.example/app:1"),
        replicas=replicas,
        resources=Resources(cpu=float(rng.choice([0.25, 0.5, 1, 2])), memory_mb=512),
        placement=PlacementSpec(users=users, max_latency_ms=60.0),
    )
