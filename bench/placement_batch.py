"""Benchmark: batch placement throughput (place_batch) on a synthetic 10,000-node fleet.

Run: ``.venv/bin/python bench/placement_batch.py [--nodes 10000] [--workloads 100]
[--replicas 50] [--rounds 5]``. Target: >= 5,000 placements per second at 10k nodes.
Each round places ``workloads x replicas`` replicas on a fresh fork of the snapshot.
"""

import argparse

from edgeorch.placement import PlacementRequest, build_snapshot, place_batch
from edgeorch.placement.synthetic import synthetic_fleet, synthetic_workload
from placement_common import percentiles


def main() -> None:
    """Print a markdown table of batch throughput."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--workloads", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    snap = build_snapshot(synthetic_fleet(args.nodes, seed=7))
    requests = [
        PlacementRequest(synthetic_workload(i, replicas=args.replicas), f"w{i}", request_id=f"r{i}")
        for i in range(args.workloads)
    ]
    rates, per_ms, placed = [], [], 0
    for _ in range(args.rounds):
        result = place_batch(snap, requests, dry_run=True)
        placed = result.placed
        rates.append(result.placed / (result.elapsed_ms / 1000.0))
        per_ms.append(result.elapsed_ms / max(result.placed, 1))
    med, p99 = percentiles(per_ms)
    print(
        "| nodes | replicas asked | placed | placements/s (median of rounds) | ms/placement p99 |"
    )
    print("|---:|---:|---:|---:|---:|")
    asked = args.workloads * args.replicas
    rate = sorted(rates)[len(rates) // 2]
    print(f"| {args.nodes:,} | {asked:,} | {placed:,} | {rate:,.0f} | {p99:.3f} |")
    del med


if __name__ == "__main__":
    main()
