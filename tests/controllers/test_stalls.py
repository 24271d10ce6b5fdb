"""The server's own stalls are not the nodes' silence (api/looplag.py, controllers/nodes.py)."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

from edgeorch.api.looplag import LoopLag
from edgeorch.controllers import ControllerSettings
from edgeorch.controllers.nodes import NodeTracker, lifecycle_plan, note_applied
from edgeorch.controllers.plan import RecordEvent, UpdateNodeStatus
from edgeorch.domain.enums import NodeState
from edgeorch.schemas.node import Node

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SETTINGS = ControllerSettings(suspect_after=15, down_after=30)


def _node(name: str) -> Node:
    return Node.model_validate(
        {
            "metadata": {
                "id": name, "name": name, "tenant": "default", "resource_version": 1,
                "created_at": T0, "updated_at": T0,
            },
            "spec": {
                "edge_type": "mec", "region": "eu", "country": "DE",
                "location": {"latitude": 50.1, "longitude": 8.7},
                "capacity": {"cpu": 4, "memory_mb": 4096},
            },
            "status": {"state": "ready", "joined_at": T0},
        }
    )  # fmt: skip


def test_stalls_are_counted_from_a_moment_on() -> None:
    lag = LoopLag(lambda: T0)
    lag.record(2.0, T0 + timedelta(seconds=10))  # 8..10 s
    lag.record(4.0, T0 + timedelta(seconds=20))  # 16..20 s
    assert lag.stalled_since(T0) == 6.0
    assert lag.stalled_since(T0 + timedelta(seconds=9)) == 1.0 + 4.0  # the first from 9 s on
    assert lag.stalled_since(T0 + timedelta(seconds=20)) == 0.0


def test_a_silence_the_server_caused_turns_no_node_suspect() -> None:
    nodes = {n: _node(n) for n in ("a", "b")}
    seen = {"a": T0, "b": T0}
    tracker = NodeTracker(started=T0 - timedelta(hours=1))
    now = T0 + timedelta(seconds=20)  # 20 s since both were heard from: suspect after 15 s...

    # ...unless the server itself could not read heartbeats for 8 of those 20 s
    plan, _ = lifecycle_plan(nodes, tracker, seen.get, now, SETTINGS, 1, lambda t: 8.0)
    assert list(plan.of(UpdateNodeStatus)) == []
    plan, _ = lifecycle_plan(nodes, tracker, seen.get, now, SETTINGS, 1, lambda t: 0.0)
    assert {op.node_id for op in plan.of(UpdateNodeStatus)} == {"a", "b"}
    assert all(op.status.state is NodeState.SUSPECT for op in plan.of(UpdateNodeStatus))


def test_the_monitor_sees_a_blocked_loop() -> None:
    async def scenario() -> float:
        lag = LoopLag(lambda: datetime.now(UTC))
        lag.start()
        await asyncio.sleep(0.15)
        before = datetime.now(UTC)
        time.sleep(0.5)  # the loop is blocked
        await asyncio.sleep(0.25)
        await lag.stop()
        return lag.stalled_since(before)

    stalled = asyncio.run(scenario())
    assert 0.3 <= stalled <= 0.6


def test_a_node_back_before_the_plan_committed_is_still_reported_recovered() -> None:
    down = _node("a").model_copy(update={"status": _node("a").status.model_copy(
        update={"state": NodeState.DOWN}
    )})  # fmt: skip
    ready = _node("a")
    tracker = NodeTracker(started=T0 - timedelta(hours=1), troubled={"a": NodeState.DOWN})
    now = T0 + timedelta(seconds=1)
    seen = {"a": now}
    # The pass reads the node still down; its heartbeat writes it ready before the pass ends.
    plan, cut = lifecycle_plan({"a": down}, tracker, seen.get, now, SETTINGS, 1)
    assert not [e for e in plan.of(RecordEvent) if e.reason == "NodeRecovered"]
    note_applied(tracker, cut, {"a": ready}, plan)
    plan, cut = lifecycle_plan({"a": ready}, tracker, seen.get, now, SETTINGS, 2)
    assert [e.object_id for e in plan.of(RecordEvent) if e.reason == "NodeRecovered"] == ["a"]
    note_applied(tracker, cut, {"a": ready}, plan)
    assert tracker.troubled == {}  # reported once


def _in(node: Node, state: NodeState) -> Node:
    return node.model_copy(update={"status": node.status.model_copy(update={"state": state})})


def test_troubled_nodes_are_tracked_from_the_changes_only() -> None:
    nodes = {n: _node(n) for n in ("a", "b", "c")}
    tracker = NodeTracker(started=T0 - timedelta(hours=1))
    now = T0 + timedelta(seconds=1)
    plan, cut = lifecycle_plan(nodes, tracker, {n: now for n in nodes}.get, now, SETTINGS, 1)
    tracker.note_changed(None)  # the first read is of every node
    note_applied(tracker, cut, nodes, plan)
    assert tracker.troubled == {} and tracker.changed == set()

    # b went down and c suspect meanwhile; only b's change was read: c is not looked at.
    nodes |= {"b": _in(nodes["b"], NodeState.DOWN), "c": _in(nodes["c"], NodeState.SUSPECT)}
    tracker.note_changed(["b"])
    note_applied(tracker, cut, nodes, plan)
    assert tracker.troubled == {"b": NodeState.DOWN}
    tracker.note_changed(["c"])
    note_applied(tracker, cut, nodes, plan)
    assert tracker.troubled == {"b": NodeState.DOWN, "c": NodeState.SUSPECT}

    # b heartbeats again and is reported; c is deleted.
    nodes = {"a": nodes["a"], "b": _node("b")}
    plan, cut = lifecycle_plan(nodes, tracker, {n: now for n in nodes}.get, now, SETTINGS, 2)
    assert [e.object_id for e in plan.of(RecordEvent) if e.reason == "NodeRecovered"] == ["b"]
    tracker.note_changed(["b", "c"])
    note_applied(tracker, cut, nodes, plan)
    assert tracker.troubled == {}
