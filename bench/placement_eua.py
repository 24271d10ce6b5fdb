"""Benchmark: greedy vs optimiser on the EUA data set (real Optus sites, Melbourne CBD).

Data: EUA data set (Edge User Allocation), Lai et al., "Optimal Edge User Allocation in Edge
Computing with Variable Sized Vector Bin Packing", ICSOC 2018; read at run time from
``../shared/data/eua`` (or ``--data``), never copied into the package.

The data has no capacities, costs or latencies, so this benchmark states its own: every site is
a MEC node offering the URLLC slice with 4 vCPU / 8192 MB (3.4 vCPU usable after the 15 % buffer)
at 1 USD/hour; every user is a one-replica workload of 0.5 vCPU / 512 MB with a URLLC latency SLA
of 2.02 ms (2 ms access + about 0.95 km of fibre at 0.021 ms/km).

Run: ``.venv/bin/python bench/placement_eua.py [--data ../shared/data/eua] [--time-limit 10]``.
"""

import argparse
import csv
from pathlib import Path

import numpy as np

from edgeorch.domain.enums import NetworkSlice
from edgeorch.domain.resources import Resources
from edgeorch.placement import PlacementRequest, build_snapshot, optimize, place_batch
from edgeorch.placement.latency import ACCESS_RTT_MS_BY_SLICE, rtt_ms
from edgeorch.placement.synthetic import make_node
from edgeorch.schemas.node import Node
from edgeorch.schemas.workload import Artifact, PlacementSpec, UserPoint, WorkloadSpec

SITE_CAPACITY = Resources(cpu=4, memory_mb=8192, storage_gb=100)
USER_REQUEST = Resources(cpu=0.5, memory_mb=512)
SLA_MS = 2.02


def load_sites(path: Path) -> list[Node]:
    """One MEC node per Optus site."""
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    return [
        make_node(
            f"optus-{r['SITE_ID']}",
            region="melbourne",
            zone=None,
            country="AU",
            latitude=float(r["LATITUDE"]),
            longitude=float(r["LONGITUDE"]),
            capacity=SITE_CAPACITY,
            slices=(NetworkSlice.URLLC,),
            cost_per_hour=1.0,
        )
        for r in rows
    ]


def load_users(path: Path) -> list[tuple[float, float]]:
    """(latitude, longitude) of each user."""
    with path.open() as fh:
        return [(float(r["Latitude"]), float(r["Longitude"])) for r in csv.DictReader(fh)]


def user_workload(lat: float, lon: float) -> WorkloadSpec:
    """One user's service: one replica near them under the URLLC SLA."""
    return WorkloadSpec(
        runtime="container",
        artifact=Artifact(image="registry.example/ar:1"),
        replicas=1,
        resources=USER_REQUEST,
        placement=PlacementSpec(
            users=[UserPoint(latitude=lat, longitude=lon)],
            max_latency_ms=SLA_MS,
            network_slice=NetworkSlice.URLLC,
        ),
    )


def summary(
    name: str, served: dict[int, str], users: list[tuple[float, float]], sites: dict[str, Node]
) -> str:
    """A markdown row: share served, mean and p95 latency of served users."""
    access = ACCESS_RTT_MS_BY_SLICE[NetworkSlice.URLLC]
    lat = np.array(
        [
            rtt_ms(
                *users[u], sites[n].spec.location.latitude, sites[n].spec.location.longitude, access
            )
            for u, n in served.items()
        ]
    )
    share = 100.0 * len(served) / len(users)
    return (
        f"| {name} | {len(served)}/{len(users)} ({share:.1f} %) | {lat.mean():.3f} | "
        f"{np.percentile(lat, 95):.3f} |"
    )


def main() -> None:
    """Print the capacities used and a markdown table, greedy vs optimiser."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data/eua"))
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args()
    nodes = load_sites(args.data / "site-optus-melbCBD.csv")
    users = load_users(args.data / "users-melbcbd-generated.csv")
    sites = {n.metadata.id: n for n in nodes}
    specs = {f"u{i}": user_workload(lat, lon) for i, (lat, lon) in enumerate(users)}
    print(
        f"{len(nodes)} Optus sites (EUA, Lai et al., ICSOC 2018) x {len(users)} users; stated "
        f"site capacity {SITE_CAPACITY.cpu} vCPU / {SITE_CAPACITY.memory_mb} MB, user request "
        f"{USER_REQUEST.cpu} vCPU / {USER_REQUEST.memory_mb} MB, URLLC SLA {SLA_MS} ms"
    )
    batch = place_batch(
        build_snapshot(nodes), [PlacementRequest(s, w, request_id=w) for w, s in specs.items()]
    )
    greedy = {
        int(d.workload_id[1:]): d.assignments[0].node_id for d in batch.decisions if d.assignments
    }
    result = optimize(build_snapshot(nodes), [], specs, time_limit_s=args.time_limit)
    best = {int(w[1:]): node for w, a in result.assignment.items() for node in a}
    print("| placer | users served | mean RTT ms | p95 RTT ms |")
    print("|---|---:|---:|---:|")
    print(summary(f"greedy (place_batch, {batch.elapsed_ms:.0f} ms)", greedy, users, sites))
    print(
        summary(
            f"optimiser ({result.status}, gap {100 * result.gap:.2f} %, "
            f"{result.solve_ms / 1000:.1f} s)",
            best,
            users,
            sites,
        )
    )


if __name__ == "__main__":
    main()
