"""The optimiser's answer equals an exhaustive search over every assignment (small fleets).

The search below enumerates replica counts per (workload, node) pair directly from the cost
table and checks demand, capacity and instance slots itself; it shares only the table and the
objective's definition with the solver, not its search.
"""

import itertools

import numpy as np
import pytest

from edgeorch.placement import build_snapshot, optimize
from edgeorch.placement.optimizer.table import Table, estimate
from edgeorch.placement.synthetic import synthetic_fleet, synthetic_workload
from edgeorch.schemas.workload import WorkloadSpec


def brute_force(t: Table, unplaced_cost: float) -> float:
    best = np.inf
    ranges = [range(int(ub) + 1) for ub in t.ub]
    for counts in itertools.product(*ranges):
        x = np.array(counts, dtype=np.int64)
        placed = np.bincount(t.pw, weights=x, minlength=len(t.R))
        if np.any(placed > t.R):
            continue
        per_node = np.zeros_like(t.F)
        np.add.at(per_node, t.pj, t.q[t.pw] * x[:, None])
        if np.any(per_node > t.F + 1e-9):
            continue
        if np.any(np.bincount(t.pj, weights=x, minlength=len(t.S)) > t.S):
            continue
        unplaced = (t.R - placed).sum()
        best = min(best, float(t.c @ x + unplaced_cost * unplaced))
    return best


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_optimum_matches_exhaustive_search(seed: int) -> None:
    nodes = synthetic_fleet(4, seed=seed)
    rng = np.random.default_rng(seed)
    workloads: dict[str, WorkloadSpec] = {}
    for w in range(3):
        spec = synthetic_workload(seed * 10 + w, replicas=int(rng.integers(1, 3)))
        spec = spec.model_copy(
            update={"placement": spec.placement.model_copy(update={"max_latency_ms": None})}
        )
        workloads[f"w{w}"] = spec
    snapshot = build_snapshot(nodes)
    table = estimate(snapshot, [], workloads)
    if len(table.pw) == 0 or np.prod(table.ub + 1) > 200_000:
        pytest.skip("instance too large or empty for an exhaustive search")
    unplaced_cost = 10.0 * (float(table.c.max(initial=0)) + 0.01 + 1)
    expected = brute_force(table, unplaced_cost)
    result = optimize(snapshot, [], workloads, time_limit_s=10)
    assert result.objective_after == pytest.approx(expected, abs=1e-6)
    assert result.gap <= 1e-6
