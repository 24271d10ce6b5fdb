"""Placement: filter -> score -> select over a columnar fleet snapshot, batch placement and a
global optimiser.

Public surface (pinned by ``tests/placement/test_public_api.py``)::

    snap = build_snapshot(nodes, instances, workloads)   # keep in step: upsert_node / remove_node
    decision = analyze(snap, spec, workload_id="w1", request_id="r1")   # pure, explains itself
    batch = place_batch(snap, [PlacementRequest(spec, "w1", 3)])        # reserves as it goes
    result = optimize(snap, instances, workloads, time_limit_s=10, max_moves=50)
"""

from edgeorch.placement.config import DEFAULT_CONFIG, PlacementConfig
from edgeorch.placement.engine import BatchResult, PlacementRequest, analyze, place_batch
from edgeorch.placement.explain import Assignment, Candidate, Decision, FilterCount, Hint
from edgeorch.placement.optimizer import Move, ObjectiveWeights, OptimizeResult, optimize
from edgeorch.placement.snapshot import FleetSnapshot, Reservation, build_snapshot

__all__ = [
    "DEFAULT_CONFIG",
    "Assignment",
    "BatchResult",
    "Candidate",
    "Decision",
    "FilterCount",
    "FleetSnapshot",
    "Hint",
    "Move",
    "ObjectiveWeights",
    "OptimizeResult",
    "PlacementConfig",
    "PlacementRequest",
    "Reservation",
    "analyze",
    "build_snapshot",
    "optimize",
    "place_batch",
]
