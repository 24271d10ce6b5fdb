"""Drain as a pure decision: make before break, health-gated, and disruption.min_available
deciding whether an original may go when no replacement fits anywhere."""

from types import SimpleNamespace
from typing import Any

import pytest
from tests.rollout.builders import T0, V1, inst, workload

from edgeorch.controllers.decide import _evict_unplaced
from edgeorch.controllers.plan import Op, RecordEvent, UpdateInstance
from edgeorch.controllers.reconcile import NodeView, reconcile_workload
from edgeorch.controllers.rollout import drain_progress
from edgeorch.domain.enums import NodeScheduling, NodeState

NODES = {
    "a": NodeView("a", NodeState.READY, NodeScheduling.DRAINING),
    "b": NodeView("b", NodeState.READY),
    "c": NodeView("c", NodeState.READY),
}


def fleet() -> list[Any]:
    return [inst("x", 1, node="a", replica=0), inst("y", 1, node="b", replica=1)]


def test_replacement_first_then_original_once_the_replacement_is_healthy() -> None:
    w = workload(V1, replicas=2)
    b = reconcile_workload(w, fleet(), NODES, T0)
    assert [(p.reason, p.replaces) for p in b.place] == [("drain", "x")] and not b.stop
    starting = inst("x2", 1, node="c", healthy=None, replaces="x")  # running, not healthy yet
    b = reconcile_workload(w, [*fleet(), starting], NODES, T0)
    assert not b.place and not b.stop  # the original keeps serving
    healthy = inst("x2", 1, node="c", healthy=True, replaces="x")
    b = reconcile_workload(w, [*fleet(), healthy], NODES, T0)
    assert [i.metadata.name for i in b.stop] == ["x"] and not b.place


@pytest.mark.parametrize(("min_available", "evictable"), [(0, True), (1, True), (2, False)])
def test_evictable_only_while_the_others_keep_min_available(
    min_available: int, evictable: bool
) -> None:
    w = workload(V1, replicas=2, disruption={"min_available": min_available})
    b = reconcile_workload(w, fleet(), NODES, T0)
    assert (b.evictable == {"x"}) is evictable


@pytest.mark.parametrize("min_available", [1, 2])
def test_unplaceable_replacement_evicts_or_waits_per_budget(min_available: int) -> None:
    w = workload(V1, replicas=2, disruption={"min_available": min_available})
    b = reconcile_workload(w, fleet(), NODES, T0)
    ops: list[Op] = []
    _evict_unplaced(b, SimpleNamespace(placed=0), ops)  # type: ignore[arg-type]
    stops = [op for op in ops if isinstance(op, UpdateInstance) and op.desired_state == "stopped"]
    if min_available == 1:
        assert [op.instance_id for op in stops] == ["x"]
        (event,) = [op for op in ops if isinstance(op, RecordEvent)]
        assert event.reason == "InstanceEvicted" and "min_available 1" in event.message
    else:
        assert not ops  # waiting: never below min_available


def test_placed_replacement_is_never_an_eviction() -> None:
    w = workload(V1, replicas=2)
    b = reconcile_workload(w, fleet(), NODES, T0)
    ops: list[Op] = []
    _evict_unplaced(b, SimpleNamespace(placed=1), ops)  # type: ignore[arg-type]
    assert not ops


def test_drain_progress_says_why_each_instance_waits() -> None:
    w = workload(V1, replicas=2)
    x, y = fleet()
    replacement = inst("x2", 1, node="c", healthy=None, replaces="x")
    replacement.status.health_message = "GET /healthz answered 503"
    progress = drain_progress("a", "edge-a", [x], {"w": w}, {"w": [x, y, replacement]})
    assert progress.left == 1 and not progress.done
    assert "x2 is not available yet (GET /healthz answered 503)" in progress.waiting[0]["reason"]
    assert drain_progress("a", "edge-a", [], {}, {}).done
