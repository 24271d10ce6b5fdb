"""Benchmark: the global optimiser on 500 workloads x 200 nodes (synthetic, tight capacity).

Run: ``.venv/bin/python bench/placement_optimizer.py [--workloads 500] [--nodes 200]
[--time-limit 10]``. Target: within 2 % of the proven bound in <= 10 s; the greedy baseline's
gap to the same bound is reported.
"""

import argparse

import numpy as np

from edgeorch.domain.resources import Resources
from edgeorch.placement import build_snapshot, optimize
from edgeorch.placement.synthetic import synthetic_fleet, synthetic_workload
from edgeorch.schemas.workload import WorkloadSpec


def workloads(count: int, seed: int) -> dict[str, WorkloadSpec]:
    """``count`` workloads of 1-4 replicas with 0.5-4 vCPU each and a 120 ms SLA."""
    rng = np.random.default_rng(seed)
    out: dict[str, WorkloadSpec] = {}
    for i in range(count):
        spec = synthetic_workload(seed * 100_000 + i, replicas=int(rng.integers(1, 5)))
        cpu = float(rng.choice([0.5, 1.0, 2.0, 4.0]))
        spec.resources = Resources(cpu=cpu, memory_mb=int(cpu * 1024))
        spec.placement.max_latency_ms = 120.0
        out[f"w{i}"] = spec
    return out


def main() -> None:
    """Print a markdown table: greedy and exact objectives, proven gap, time."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--workloads", type=int, default=500)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args()
    snap = build_snapshot(synthetic_fleet(args.nodes, seed=11))
    specs = workloads(args.workloads, seed=3)
    demand = sum(s.resources.cpu * (s.replicas or 0) for s in specs.values())
    usable = float(snap.usable[: snap.size, 0][snap.schedulable[: snap.size]].sum())
    result = optimize(snap, [], specs, time_limit_s=args.time_limit)
    print(f"demand {demand:.0f} vCPU of {usable:.0f} usable vCPU on schedulable nodes")
    print(
        "| workloads x nodes | status | greedy obj | optimised obj | bound | gap | "
        "greedy gap | placed | unplaced | time s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.workloads} x {args.nodes} | {result.status} | {result.greedy_objective:.2f} | "
        f"{result.objective_after:.2f} | {result.bound:.2f} | {100 * result.gap:.3f} % | "
        f"{100 * result.greedy_gap:.2f} % | {result.placed} | {result.unplaced} | "
        f"{result.solve_ms / 1000:.2f} |"
    )


if __name__ == "__main__":
    main()
