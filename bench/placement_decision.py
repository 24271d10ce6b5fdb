"""Benchmark: one placement decision (analyze) on synthetic fleets of 10,000 and 100,000 nodes.

Run: ``.venv/bin/python bench/placement_decision.py [--sizes 10000 100000] [--runs 200]``.
Targets: p99 <= 5 ms at 10k nodes, <= 50 ms at 100k nodes.
"""

import argparse
import time

from edgeorch.placement import analyze, build_snapshot
from edgeorch.placement.synthetic import synthetic_fleet, synthetic_workload
from placement_common import percentiles, time_ms


def run(size: int, runs: int) -> tuple[float, float, float]:
    """(median ms, p99 ms, build s) of ``runs`` single-replica decisions on ``size`` nodes."""
    start = time.perf_counter()
    snap = build_snapshot(synthetic_fleet(size, seed=size))
    build_s = time.perf_counter() - start
    specs = [synthetic_workload(i) for i in range(runs)]
    for spec in specs[:5]:  # warm caches and lazy imports
        analyze(snap, spec, workload_id="warm")
    samples = [
        time_ms(lambda s=spec, i=i: analyze(snap, s, workload_id=f"w{i}", request_id=str(i)))
        for i, spec in enumerate(specs)
    ]
    med, p99 = percentiles(samples)
    return med, p99, build_s


def main() -> None:
    """Print a markdown table of decision latency per fleet size."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    print("| nodes | decisions | median ms | p99 ms | snapshot build s |")
    print("|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        med, p99, build_s = run(size, args.runs)
        print(f"| {size:,} | {args.runs} | {med:.2f} | {p99:.2f} | {build_s:.1f} |")


if __name__ == "__main__":
    main()
