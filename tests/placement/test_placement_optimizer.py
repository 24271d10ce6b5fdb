"""The global optimiser: bound, warm start, move budget, capacity, forced moves."""

import numpy as np
from tests.placement.placement_fakes import make_instance, make_node, workload

from edgeorch.domain.enums import NodeScheduling
from edgeorch.domain.resources import Resources
from edgeorch.placement import build_snapshot, optimize
from edgeorch.placement.optimizer.table import estimate

BIG = Resources(cpu=4, memory_mb=8192)


def test_exact_beats_or_equals_greedy_and_proves_it() -> None:
    nodes = [
        make_node(f"n{i}", capacity=BIG, latitude=50 + i, cost_per_hour=0.1 * (i + 1))
        for i in range(4)
    ]
    specs = {f"w{i}": workload(replicas=2, cpu=1.0 + 0.5 * (i % 2)) for i in range(4)}
    result = optimize(build_snapshot(nodes), [], specs, time_limit_s=5)
    assert result.status == "Optimal" and result.gap < 1e-6
    assert result.objective_after <= result.greedy_objective + 1e-9
    assert result.placed + result.unplaced == 8


def test_capacity_holds_in_the_optimised_assignment() -> None:
    nodes = [make_node(f"n{i}", capacity=BIG) for i in range(3)]
    specs = {f"w{i}": workload(replicas=3, cpu=1.0) for i in range(4)}
    snap = build_snapshot(nodes)
    result = optimize(snap, [], specs, time_limit_s=5)
    per_node: dict[str, float] = {}
    for counts in result.assignment.values():
        for node, k in counts.items():
            per_node[node] = per_node.get(node, 0.0) + k
    assert all(v <= 3 for v in per_node.values())  # 3.4 usable vCPU, 1 vCPU each
    assert result.placed == 9 and result.unplaced == 3


def test_move_budget_is_respected_and_forced_moves_reported() -> None:
    nodes = [
        make_node("far", latitude=-33.0, longitude=151.0),
        make_node("near"),
        make_node("gone", scheduling=NodeScheduling.CORDONED),
    ]
    specs = {"w": workload(replicas=3, cpu=0.5)}
    instances = [make_instance(f"i{k}", "w", "far") for k in range(2)]
    instances.append(make_instance("i9", "w", "gone"))
    snap = build_snapshot(nodes, instances, specs)
    result = optimize(snap, instances, specs, max_moves=1)
    voluntary = [m for m in result.moves if not m.forced]
    forced = [m for m in result.moves if m.forced]
    assert len(voluntary) == 1 and voluntary[0].target == "near"
    assert [m.instance_id for m in forced] == ["i9"]


def test_table_eliminates_filtered_pairs() -> None:
    nodes = [make_node("ok"), make_node("us", country="US")]
    from edgeorch.schemas.workload import Residency

    t = estimate(build_snapshot(nodes), [], {"w": workload(residency=Residency(countries=["DE"]))})
    assert len(t.pw) == 1 and t.node_rows.tolist() == [0]
    assert np.all(t.c >= 0)
