"""The reconciler's buckets, case by case: a pure function, so plain tables of cases."""

from datetime import timedelta

import pytest
from tests.controllers.builders import T0, instance, workload

from edgeorch.controllers.reconcile import Buckets, NodeView, reconcile_workload
from edgeorch.domain.enums import InstanceState, NodeScheduling, NodeState
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.workload import Workload

READY = NodeView("a", NodeState.READY)
NOW = T0 + timedelta(minutes=5)


def nodes(*views: NodeView) -> dict[str, NodeView]:
    return {v.id: v for v in views}


def down(node_id: str, seconds_ago: float) -> NodeView:
    return NodeView(node_id, NodeState.DOWN, down_since=NOW - timedelta(seconds=seconds_ago))


def names(items: tuple[Instance, ...]) -> list[str]:
    return sorted(i.metadata.name for i in items)


def run(w: Workload, insts: list[Instance], views: dict[str, NodeView]) -> Buckets:
    return reconcile_workload(w, insts, views, NOW)


def test_missing_replicas_are_placed_with_free_numbers() -> None:
    b = run(workload(3), [instance("i0", "a", 0)], nodes(READY))
    assert [(p.replica, p.replaces) for p in b.place] == [(1, None), (2, None)]
    assert names(b.ignore) == ["i0"]


def test_scale_down_stops_unstarted_then_worst_placed_first() -> None:
    insts = [
        instance("good", "a", 0, score=0.9),
        instance("bad", "a", 1, score=0.1),
        instance("mid", "a", 2, score=0.5),
        instance("new", "a", 3, state=InstanceState.PENDING, score=0.99),
    ]
    b = run(workload(2), insts, nodes(READY))
    assert names(b.stop) == ["bad", "new"]
    assert names(b.ignore) == ["good", "mid"]
    assert not b.place


@pytest.mark.parametrize(
    ("view", "bucket", "replaced"),
    [
        (NodeView("a", NodeState.SUSPECT), "disconnecting", False),
        (down("a", 10), "disconnecting", False),  # inside lost_after (30 s)
        (down("a", 31), "lost", True),
    ],
)
def test_disconnect_policy_by_node_state(view: NodeView, bucket: str, replaced: bool) -> None:
    b = run(workload(1), [instance("i0", "a")], nodes(view))
    assert names(getattr(b, bucket)) == ["i0"]
    assert [p.replaces for p in b.place] == (["i0"] if replaced else [])


def test_replace_false_waits_for_the_node() -> None:
    w = workload(1, disconnect={"lost_after": 5, "replace": False})
    b = run(w, [instance("i0", "a")], nodes(down("a", 60)))
    assert names(b.lost) == ["i0"] and not b.place


def test_deleted_node_makes_the_instance_lost_and_replaced() -> None:
    b = run(workload(1), [instance("i0", None)], {})
    assert names(b.lost) == ["i0"]
    assert [p.replaces for p in b.place] == ["i0"]


def test_a_lost_instance_with_a_replacement_is_not_replaced_twice() -> None:
    insts = [instance("orig", "a"), instance("repl", "b", replaces="orig")]
    b = run(workload(1), insts, nodes(down("a", 60), NodeView("b", NodeState.READY)))
    assert names(b.lost) == ["orig"] and names(b.ignore) == ["repl"] and not b.place


@pytest.mark.parametrize(
    ("policy", "orig_score", "repl_score", "stopped"),
    [
        ("keep_original", 0.1, 0.9, "repl"),
        ("keep_replacement", 0.9, 0.1, "orig"),
        ("best_score", 0.2, 0.8, "orig"),
        ("best_score", 0.8, 0.2, "repl"),
        ("best_score", 0.5, 0.5, "repl"),  # a tie keeps the original: moving costs
    ],
)
def test_reconnect_resolves_duplicates_per_policy(
    policy: str, orig_score: float, repl_score: float, stopped: str
) -> None:
    w = workload(1, disconnect={"reconcile": policy})
    insts = [
        instance("orig", "a", score=orig_score),
        instance("repl", "b", score=repl_score, replaces="orig"),
    ]
    views = nodes(READY, NodeView("b", NodeState.READY))
    b = run(w, insts, views)
    assert names(b.stop) == [stopped]
    assert not b.place
    live = {"orig", "repl"} - {stopped}
    assert set(names(b.ignore) + names(b.reconnecting)) == live


def test_singleton_always_keeps_the_replacement() -> None:
    w = workload(1, singleton=True, disconnect={"reconcile": "keep_original"})
    insts = [instance("orig", "a"), instance("repl", "b", replaces="orig")]
    b = run(w, insts, nodes(READY, NodeView("b", NodeState.READY)))
    assert names(b.stop) == ["orig"]


def test_stopped_instances_are_deleted_once_gone() -> None:
    insts = [
        instance("done", "a", desired="stopped", state=InstanceState.STOPPED),
        instance("going", "a", 1, desired="stopped"),
        instance("on-dead", "b", 2, desired="stopped"),
        instance("keep", "a", 3),
    ]
    b = run(workload(1), insts, nodes(READY, down("b", 1)))
    assert names(b.delete) == ["done", "on-dead"]
    assert names(b.ignore) == ["going", "keep"]


def test_drain_places_a_replacement_first_then_stops_the_original() -> None:
    draining = NodeView("a", NodeState.READY, NodeScheduling.DRAINING)
    views = nodes(draining, NodeView("b", NodeState.READY))
    insts = [instance("x", "a", 0), instance("y", "a", 1)]
    first = run(workload(2), insts, views)
    assert [(p.replaces, p.reason) for p in first.place] == [("x", "drain")]
    assert names(first.migrate) == ["x", "y"] and not first.stop
    starting = instance("x2", "b", 0, state=InstanceState.STARTING, replaces="x", reason="drain")
    waiting = run(workload(2), [*insts, starting], views)
    assert not waiting.place and not waiting.stop  # make before break: x2 is not running yet
    running = instance("x2", "b", 0, replaces="x", reason="drain")
    done = run(workload(2), [*insts, running], views)
    assert names(done.stop) == ["x"] and not done.place
    assert names(done.migrate) == ["y"]


def test_every_instance_lands_in_exactly_one_bucket() -> None:
    insts = [
        instance("r", "a", 0),
        instance("s", "b", 1),
        instance("l", "c", 2),
        instance("gone", "a", 3, desired="stopped", state=InstanceState.STOPPED),
    ]
    views = nodes(READY, NodeView("b", NodeState.SUSPECT), down("c", 99))
    b = run(workload(2), insts, views)
    seen = [
        *b.stop, *b.migrate, *b.lost, *b.disconnecting, *b.reconnecting, *b.ignore, *b.delete,
    ]  # fmt: skip
    assert sorted(i.metadata.name for i in seen) == ["gone", "l", "r", "s"]
