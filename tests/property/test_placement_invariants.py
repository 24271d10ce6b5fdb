"""Properties of placement on random small fleets: never over capacity, never outside
residency, never past a satisfiable SLA, never more replicas than asked; plus the vectorised
plugins against a plain scalar reference."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.placement.placement_fakes import make_node, workload

from edgeorch.domain.enums import EdgeType, NetworkSlice, NodeState
from edgeorch.domain.resources import Resources
from edgeorch.placement import PlacementRequest, build_snapshot, place_batch
from edgeorch.placement.context import Context
from edgeorch.placement.framework import Evaluation
from edgeorch.placement.latency import ACCESS_RTT_MS_BY_EDGE_TYPE, ACCESS_RTT_MS_BY_SLICE, rtt_ms
from edgeorch.placement.plugins import default_filters, default_scores
from edgeorch.schemas.node import Node
from edgeorch.schemas.workload import PlacementWeights, Residency, WorkloadSpec

SITES = [("DE", 50.1, 8.7), ("FR", 48.9, 2.4), ("US", 40.7, -74.0), ("AU", -33.9, 151.2)]
FAST = settings(max_examples=40, deadline=None)


@st.composite
def nodes(draw: st.DrawFn) -> list[Node]:
    count = draw(st.integers(1, 10))
    out = []
    for i in range(count):
        country, lat, lon = draw(st.sampled_from(SITES))
        out.append(
            make_node(
                f"n{i}",
                country=country,
                latitude=lat + draw(st.floats(-2, 2)),
                longitude=lon + draw(st.floats(-2, 2)),
                edge_type=draw(st.sampled_from(list(EdgeType))),
                capacity=Resources(
                    cpu=draw(st.sampled_from([1, 2, 4, 8])),
                    memory_mb=draw(st.sampled_from([1024, 4096])),
                ),
                cost_per_hour=draw(st.floats(0, 3)),
                state=draw(st.sampled_from([NodeState.READY] * 4 + [NodeState.DOWN])),
                slices=tuple(draw(st.sets(st.sampled_from(list(NetworkSlice))))),
                measured_rtt_ms=draw(st.sampled_from([{}, {}, {"users": 3.0}])),
            )
        )
    return out


@st.composite
def workloads(draw: st.DrawFn) -> WorkloadSpec:
    users = tuple(
        (lat, lon) for _, lat, lon in draw(st.lists(st.sampled_from(SITES), min_size=0, max_size=2))
    )
    return workload(
        replicas=draw(st.integers(1, 6)),
        cpu=draw(st.sampled_from([0.25, 0.5, 1.0, 3.0])),
        memory_mb=draw(st.sampled_from([128, 1024])),
        users=users,
        max_latency_ms=draw(st.one_of(st.none(), st.floats(5, 150))),
        residency=draw(
            st.sampled_from([None, Residency(regulation="GDPR"), Residency(countries=["US", "AU"])])
        ),
        max_cost_per_hour=draw(st.one_of(st.none(), st.floats(0, 3))),
        network_slice=draw(st.one_of(st.none(), st.sampled_from(list(NetworkSlice)))),
        weights=PlacementWeights(proximity=draw(st.floats(0, 1)), spread=draw(st.floats(0, 1))),
    )


def access(node: Node, spec: WorkloadSpec) -> float:
    s = spec.placement.network_slice
    return ACCESS_RTT_MS_BY_SLICE[s] if s else ACCESS_RTT_MS_BY_EDGE_TYPE[node.spec.edge_type]


def rtts(node: Node, spec: WorkloadSpec) -> list[float]:
    loc = node.spec.location
    measured = node.status.measured_rtt_ms.get("users")
    return [
        rtt_ms(u.latitude, u.longitude, loc.latitude, loc.longitude, access(node, spec), measured)
        for u in spec.placement.users
        if u.weight > 0
    ]


def ref_filters(node: Node, spec: WorkloadSpec) -> dict[str, bool]:
    """The scalar reference of every static filter, plus fit on an empty node."""
    p, s = spec.placement, node.spec
    usable = [getattr(s.capacity, f) * 0.85 for f in ("cpu", "memory_mb")]
    need = [spec.resources.cpu, spec.resources.memory_mb]
    r = rtts(node, spec)
    return {
        "status": node.status.state == NodeState.READY and s.scheduling == "enabled",
        "resources": all(u >= n - 1e-9 for u, n in zip(usable, need, strict=True) if n > 0),
        "residency": p.residency is None or s.country in p.residency.allowed(),
        "latency": p.max_latency_ms is None or not r or max(r) <= p.max_latency_ms,
        "cost": p.max_cost_per_hour is None or s.cost_per_hour <= p.max_cost_per_hour,
        "network_slice": p.network_slice is None or p.network_slice in s.network_slices,
    }


def ref_scores(node: Node, spec: WorkloadSpec, lo: float, hi: float) -> dict[str, float]:
    s = node.spec
    r = rtts(node, spec)
    dists = [ctx_distance(node, u.latitude, u.longitude) for u in spec.placement.users]
    frac = [
        need / (getattr(s.capacity, f) * 0.85)
        for f, need in (("cpu", spec.resources.cpu), ("memory_mb", spec.resources.memory_mb))
    ]
    return {
        "latency": 1 - min(sum(r) / len(r) / 100, 1) if r else 0.5,
        "resources": 1 - min(max(sum(frac) / 2, 0.0), 1.0),
        # Infeasible nodes may lie outside [lo, hi]; the engine clips them, they are never picked.
        "cost": 1.0 if hi <= lo else 1 - min(max((s.cost_per_hour - lo) / (hi - lo), 0.0), 1.0),
        "proximity": 1 - min(sum(dists) / len(dists) / 5000, 1) if dists else 0.5,
    }


def ctx_distance(node: Node, lat: float, lon: float) -> float:
    from edgeorch.domain.geo import haversine_km

    return haversine_km(lat, lon, node.spec.location.latitude, node.spec.location.longitude)


@FAST
@given(fleet=nodes(), spec=workloads())
def test_vectorised_plugins_equal_the_scalar_reference(
    fleet: list[Node], spec: WorkloadSpec
) -> None:
    snap = build_snapshot(fleet)
    ev = Evaluation(Context(snap, spec, "w"), default_filters(), default_scores())
    refs = [ref_filters(n, spec) for n in fleet]
    for name in refs[0]:
        got = ev.masks.get(name, np.ones(len(fleet), bool))
        assert got.tolist() == [r[name] for r in refs], name
    feasible = [all(r.values()) for r in refs]
    assert ev.feasible.tolist() == feasible
    costs = [n.spec.cost_per_hour for n, ok in zip(fleet, feasible, strict=True) if ok]
    lo, hi = (min(costs), max(costs)) if costs else (0.0, 0.0)
    for i, node in enumerate(fleet):
        want = ref_scores(node, spec, lo, hi)
        for name, term in ev.terms.items():
            if name in want:
                assert math.isclose(term[i], want[name], abs_tol=1e-6), (name, i)


@FAST
@given(fleet=nodes(), specs=st.lists(workloads(), min_size=1, max_size=3))
def test_batch_invariants(fleet: list[Node], specs: list[WorkloadSpec]) -> None:
    snap = build_snapshot(fleet)
    by_id = {n.metadata.id: n for n in fleet}
    first = specs[0]
    satisfiable = any(all(ref_filters(n, first).values()) for n in fleet)
    result = place_batch(
        snap, [PlacementRequest(s, f"w{i}", request_id=str(i)) for i, s in enumerate(specs)]
    )
    n = snap.size
    assert (snap.allocated[:n] <= snap.usable[:n] + 1e-9).all()
    assert (snap.instances[:n] <= 10).all()
    assert result.decisions[0].placed >= 1 or not satisfiable
    for spec, decision in zip(specs, result.decisions, strict=True):
        assert decision.placed <= (spec.replicas or 0)
        for a in decision.assignments:
            node = by_id[a.node_id]
            p = spec.placement
            assert p.residency is None or node.spec.country in p.residency.allowed()
            r = rtts(node, spec)
            assert p.max_latency_ms is None or not r or max(r) <= p.max_latency_ms + 1e-9
