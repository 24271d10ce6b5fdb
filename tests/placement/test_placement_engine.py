"""analyze and place_batch: filters, scores, selection, explanations, hints."""

import json

import pytest
from tests.placement.placement_fakes import make_instance, make_node, workload

import edgeorch.placement as placement
from edgeorch.domain.enums import Arch, EdgeType, NetworkSlice, NodeScheduling, NodeState
from edgeorch.domain.resources import Resources
from edgeorch.placement import PlacementRequest, analyze, build_snapshot, place_batch
from edgeorch.schemas.workload import PlacementWeights, Residency, Spread

SYDNEY = (-33.87, 151.21)


def test_public_surface_is_pinned() -> None:
    assert sorted(placement.__all__) == sorted(
        "DEFAULT_CONFIG Assignment BatchResult Candidate Decision FilterCount FleetSnapshot "
        "Hint Move ObjectiveWeights OptimizeResult PlacementConfig PlacementRequest Reservation "
        "analyze build_snapshot optimize place_batch".split()
    )


FILTER_CASES = [
    ("status", make_node("bad", state=NodeState.DOWN), {}),
    ("status", make_node("bad", scheduling=NodeScheduling.DRAINING), {}),
    ("resources", make_node("bad", capacity=Resources(cpu=1, memory_mb=4096)), {}),
    ("arch", make_node("bad", arch=Arch.ARM64), {"arch": [Arch.X86_64]}),
    ("edge_type", make_node("bad", edge_type=EdgeType.CLOUD), {"edge_types": [EdgeType.MEC]}),
    ("capabilities", make_node("bad"), {"capabilities": ["wasm_runtime"]}),
    ("regions", make_node("bad", region="us-east"), {"regions": ["eu-central"]}),
    ("residency", make_node("bad", country="US"), {"residency": Residency(regulation="GDPR")}),
    ("latency", make_node("bad", latitude=SYDNEY[0], longitude=SYDNEY[1]), {"max_latency_ms": 50}),
    ("cost", make_node("bad", cost_per_hour=9.0), {"max_cost_per_hour": 1.0}),
    ("network_slice", make_node("bad"), {"network_slice": NetworkSlice.URLLC}),
]


@pytest.mark.parametrize(("name", "bad", "placement_fields"), FILTER_CASES)
def test_each_filter_removes_the_node_that_breaks_it(
    name: str, bad: object, placement_fields: dict[str, object]
) -> None:
    good = make_node(
        "good", capabilities=("wasm_runtime",), slices=(NetworkSlice.URLLC,), cost_per_hour=0.9
    )
    snap = build_snapshot([bad, good])  # type: ignore[list-item]
    decision = analyze(snap, workload(**placement_fields), request_id="r")
    assert [a.node_id for a in decision.assignments] == ["good"]
    counts = {f.name: f.removed for f in decision.filters}
    assert counts[name] == 1 and sum(counts.values()) == 1
    assert decision.filters[0].name == "status"


def test_instance_caps_fleet_and_workload() -> None:
    nodes = [make_node("a", capacity=Resources(cpu=64, memory_mb=65536))]
    spec = workload(cpu=0.1, memory_mb=1)
    assert place_batch(build_snapshot(nodes), [PlacementRequest(spec, "w", 12)]).placed == 10
    capped = workload(cpu=0.1, memory_mb=1, max_instances_per_node=3)
    assert place_batch(build_snapshot(nodes), [PlacementRequest(capped, "w", 5)]).placed == 3


def test_scores_follow_the_brochure_formulas() -> None:
    near = make_node("near", cost_per_hour=1.0)
    far = make_node("far", latitude=48.86, longitude=2.35, cost_per_hour=3.0)
    snap = build_snapshot([near, far])
    decision = analyze(
        snap, workload(cpu=1.7, memory_mb=1393), top_k=2, weights=PlacementWeights(proximity=0.1)
    )
    best, worst = decision.candidates
    assert best.node_id == "near"
    assert best.terms["latency"] == pytest.approx(1 - best.latency_ms / 100)
    assert best.terms["resources"] == pytest.approx(1 - (1.7 / 6.8 + 1393 / 13926.4) / 2)
    assert (best.terms["cost"], worst.terms["cost"]) == (1.0, 0.0)
    assert worst.terms["proximity"] == pytest.approx(1 - 479.0 / 5000, rel=1e-2)
    assert decision.weights["latency"] == 0.5


def test_no_users_is_neutral_and_said() -> None:
    snap = build_snapshot([make_node("a")])
    decision = analyze(snap, workload(users=(), max_latency_ms=5))
    assert decision.candidates[0].terms["latency"] == 0.5
    assert any("no users" in n for n in decision.notes)


def test_latency_hint_says_what_sla_would_fit() -> None:
    snap = build_snapshot([make_node("de1"), make_node("de2", latitude=52.5, longitude=13.4)])
    decision = analyze(snap, workload(max_latency_ms=5), request_id="r")
    assert decision.placed == 0 and decision.blocking == ("latency",)
    hint = decision.hints[0]
    assert "1 nodes in DE would fit if max_latency_ms were 8" in hint.message


def test_combined_blockers_are_reported() -> None:
    snap = build_snapshot([make_node("us", country="US", arch=Arch.ARM64)])
    decision = analyze(snap, workload(arch=[Arch.X86_64], residency=Residency(countries=["DE"])))
    assert decision.hints[0].constraint == "combined"
    assert set(decision.blocking) == {"arch", "residency"}


def test_tie_break_replays_from_the_request_id() -> None:
    snap = build_snapshot([make_node(f"n{i}") for i in range(20)])
    picks = {
        analyze(snap, workload(), request_id=f"r{i}").assignments[0].node_id for i in range(10)
    }
    assert len(picks) > 1
    again = [analyze(snap, workload(), request_id="same").assignments[0].node_id for _ in "ab"]
    assert again[0] == again[1]


def test_analyze_does_not_change_the_snapshot() -> None:
    snap = build_snapshot([make_node("a"), make_node("b")])
    decision = analyze(snap, workload(replicas=4, cpu=2))
    assert decision.placed == 4 and snap.allocated.sum() == 0
    json.dumps(decision.to_dict())


def test_batch_reserves_across_requests_and_can_be_undone() -> None:
    snap = build_snapshot([make_node("a", capacity=Resources(cpu=4, memory_mb=8192))])
    result = place_batch(
        snap, [PlacementRequest(workload(replicas=2, cpu=1.5), f"w{i}") for i in range(2)]
    )
    assert result.placed == 2 and result.requested == 4  # 3.4 usable vCPU
    assert result.decisions[1].hints[0].constraint == "resources"
    for res in result.reservations:
        snap.unreserve(res)
    assert snap.allocated[0, 0] == 0
    json.dumps(result.to_dict())


def test_replicas_default_to_the_missing_ones() -> None:
    spec = workload(replicas=3)
    snap = build_snapshot([make_node("a")], [make_instance("i", "w", "a")], {"w": spec})
    assert analyze(snap, spec, workload_id="w").requested == 2


def test_hard_spread_across_zones() -> None:
    nodes = [make_node(f"{z}{i}", zone=z) for z in "ab" for i in range(3)]
    spec = workload(replicas=4, cpu=0.1, spread=Spread(across="zone", hard=True))
    decision = place_batch(build_snapshot(nodes), [PlacementRequest(spec, "w")]).decisions[0]
    zones = sorted(a.node_id[0] for a in decision.assignments)
    assert zones == ["a", "a", "b", "b"]


def test_soft_spread_prefers_empty_nodes() -> None:
    nodes = [make_node(f"n{i}") for i in range(3)]
    spec = workload(replicas=3, cpu=0.1, weights=PlacementWeights(spread=5.0))
    decision = analyze(build_snapshot(nodes), spec)
    assert len({a.node_id for a in decision.assignments}) == 3
