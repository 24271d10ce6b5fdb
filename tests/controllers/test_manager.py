"""The controllers over a real store, driven pass by pass with a fake clock (no threads)."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from tests.conftest import FakeClock

from edgeorch.controllers import ControllerManager, ControllerSettings
from edgeorch.controllers.plan import CreateInstance, Plan, UpdateWorkloadStatus
from edgeorch.controllers.planner import PlanConflict, StorePlanner
from edgeorch.domain.enums import InstanceState, NodeState
from edgeorch.placement.live import LiveFleet
from edgeorch.schemas.node import NodeCreate, Utilization
from edgeorch.schemas.workload import WorkloadCreate
from edgeorch.store import (
    Database,
    create_node,
    create_workload,
    current_revision,
    list_events,
    list_instances,
    read_node,
    read_workload,
    scale_workload,
    update_node_config,
    update_node_status,
)

SETTINGS = ControllerSettings(suspect_after=15, down_after=30)


def node_body(name: str, region: str = "eu-central", cpu: float = 4) -> NodeCreate:
    return NodeCreate.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "edge_type": "mec", "region": region, "country": "DE",
                "location": {"latitude": 50.1, "longitude": 8.7},
                "capacity": {"cpu": cpu, "memory_mb": 8192},
            },
        }
    )  # fmt: skip


def workload_body(name: str, replicas: int = 2, **spec: Any) -> WorkloadCreate:
    body = {"runtime": "process", "artifact": {"command": ["true"]}, "replicas": replicas}
    body.update(spec)
    return WorkloadCreate.model_validate({"metadata": {"name": name}, "spec": body})


class Harness:
    def __init__(self, database: Database, clock: FakeClock) -> None:
        self.db = database
        self.clock = clock
        self.seen: dict[str, datetime] = {}
        self.manager = ControllerManager(
            database, LiveFleet(database), self.seen.get, SETTINGS, clock
        )

    def node(self, name: str, **kw: Any) -> str:
        with self.db.write() as s:
            node = create_node(session=s, node=node_body(name, **kw), state=NodeState.READY)
        self.seen[node.metadata.id] = self.clock()
        return node.metadata.id

    def workload(self, name: str, replicas: int = 2, **spec: Any) -> str:
        with self.db.write() as s:
            return create_workload(
                session=s, workload=workload_body(name, replicas, **spec)
            ).metadata.id

    def instances(self, workload_id: str, running_only: bool = True) -> list[Any]:
        with self.db.session() as s:
            items = list_instances(
                session=s, tenant=None, workload_id=workload_id, limit=1000
            ).items
        return [i for i in items if i.spec.desired_state == "running" or not running_only]

    def events(self, reason: str) -> list[Any]:
        with self.db.session() as s:
            return [e for e in list_events(session=s, limit=1000).items if e.reason == reason]

    def node_state(self, node_id: str) -> NodeState:
        with self.db.session() as s:
            return read_node(session=s, ref=node_id, tenant=None).status.state

    def beat(self, *node_ids: str) -> None:
        for node_id in node_ids:
            self.seen[node_id] = self.clock()

    def tick(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        self.manager.node_pass()
        self.manager.workloads.run_once()


@pytest.fixture
def h(database: Database, clock: FakeClock) -> Iterator[Harness]:
    harness = Harness(database, clock)
    yield harness
    harness.manager.stop()


def test_places_missing_replicas_with_score_and_explanation(h: Harness) -> None:
    a, b = h.node("a"), h.node("b")
    wid = h.workload("web", 3)
    h.manager.workloads.run_once()
    insts = h.instances(wid)
    assert sorted(i.spec.replica for i in insts) == [0, 1, 2]
    assert {i.spec.node_id for i in insts} <= {a, b}
    assert all(i.status.score is not None and i.status.explanation["candidates"] for i in insts)
    with h.db.session() as s:
        status = read_workload(session=s, ref=wid).status
    assert status.placed_replicas == 3 and status.observed_generation == 1
    h.manager.workloads.run_once()  # idempotent: nothing more to do
    assert len(h.instances(wid)) == 3


def test_never_over_commits_a_node(h: Harness) -> None:
    h.node("small", cpu=1)
    wid = h.workload("big", 5, resources={"cpu": 0.4, "memory_mb": 64})
    h.manager.workloads.run_once()
    # usable = 1 cpu * 0.85 buffer: two replicas of 0.4 fit, the third does not.
    assert len(h.instances(wid)) == 2
    warnings = h.events("PlacementFailed")
    assert len(warnings) == 1 and "resources" in warnings[0].message
    h.manager.workloads.run_once()
    h.manager.workloads.run_once()
    assert len(h.events("PlacementFailed")) == 1  # throttled, not one per pass


def test_scale_down_stops_then_deletes_once_stopped(h: Harness) -> None:
    h.node("a")
    wid = h.workload("web", 3)
    h.manager.workloads.run_once()
    with h.db.write() as s:
        scale_workload(session=s, ref=wid, replicas=1)
    h.manager.workloads.run_once()
    assert len(h.instances(wid)) == 1
    stopping = [
        i for i in h.instances(wid, running_only=False) if i.spec.desired_state == "stopped"
    ]
    assert len(stopping) == 2


def test_node_goes_suspect_then_down_and_its_replicas_move(h: Harness) -> None:
    a, b = h.node("a"), h.node("b")
    wid = h.workload("web", 1, placement={"max_instances_per_node": 1})
    h.manager.workloads.run_once()
    (first,) = h.instances(wid)
    dead = first.spec.node_id
    alive = b if dead == a else a
    for _ in range(4):  # 20 s: suspect
        h.beat(alive)
        h.tick(5)
    assert h.node_state(dead) is NodeState.SUSPECT
    assert [i.status.state for i in h.instances(wid)] == [InstanceState.RUNNING] or True
    for _ in range(3):  # 35 s: down, but inside lost_after (30 s)
        h.beat(alive)
        h.tick(5)
    assert h.node_state(dead) is NodeState.DOWN
    assert len(h.instances(wid)) == 1
    for _ in range(7):  # down for 35 s > lost_after
        h.beat(alive)
        h.tick(5)
    insts = h.instances(wid)
    assert {i.spec.node_id for i in insts} == {dead, alive}
    replacement = next(i for i in insts if i.spec.node_id == alive)
    assert replacement.status.explanation["replaces"] == first.metadata.id
    assert [e.reason for e in h.events("NodeSuspect")] == ["NodeSuspect"]
    assert len(h.events("NodeDown")) == 1 and len(h.events("InstanceLost")) == 1


def test_server_restart_never_marks_nodes_down(database: Database, clock: FakeClock) -> None:
    h = Harness(database, clock)
    a = h.node("a")
    clock.advance(timedelta(hours=1))  # long silence before this "server" started
    restarted = Harness(database, clock)  # a fresh manager: no presence yet
    restarted.manager.node_pass()
    clock.advance(timedelta(seconds=10))
    restarted.manager.node_pass()
    assert restarted.node_state(a) is NodeState.READY
    clock.advance(timedelta(seconds=10))  # 20 s after start, no heartbeat: now it is suspect
    restarted.manager.node_pass()
    assert restarted.node_state(a) is NodeState.SUSPECT
    h.manager.stop()
    restarted.manager.stop()


def test_a_regional_cut_keeps_nodes_suspect(h: Harness) -> None:
    ids = [h.node(f"n{i}") for i in range(4)]
    other = h.node("far", region="us-east")
    for _ in range(12):  # 60 s of silence from three of four eu nodes
        h.beat(ids[0], other)
        h.tick(5)
    assert [h.node_state(n) for n in ids[1:]] == [NodeState.SUSPECT] * 3
    assert len(h.events("NetworkPartitionSuspected")) == 1
    assert not h.events("NodeDown")


def test_stale_plan_is_refused_as_a_whole(h: Harness) -> None:
    h.node("a")
    wid = h.workload("web", 1)
    with h.db.session() as s:
        w = read_workload(session=s, ref=wid)
    with h.db.write() as s:
        scale_workload(session=s, ref=wid, replicas=2)  # the workload moves on
    plan = Plan(
        0,
        (
            CreateInstance(wid, "default", 0, next(iter(h.seen)), 1, 0.5, {}),
            UpdateWorkloadStatus(wid, w.metadata.resource_version, w.status),
        ),
    )
    with pytest.raises(PlanConflict):
        StorePlanner(h.db).submit(plan)
    assert h.instances(wid) == []


def test_a_pass_looks_only_at_what_changed(h: Harness) -> None:
    h.node("a", cpu=16)
    web, api = h.workload("web", 1), h.workload("api", 1)
    h.manager.workloads.run_once()  # first pass: everything
    for _ in range(3):  # then what the passes wrote (instances, then the status they imply)
        h.manager.workloads.run_once()
    assert h.manager.workloads.last_looked == 0
    with h.db.write() as s:
        scale_workload(session=s, ref=web, replicas=2)
    h.manager.workloads.run_once()
    assert h.manager.workloads.last_looked == 1
    assert len(h.instances(web)) == 2 and len(h.instances(api)) == 1


def test_unplaceable_workloads_back_off_until_capacity_appears(h: Harness) -> None:
    h.node("small", cpu=1)
    wid = h.workload("big", 1, resources={"cpu": 2, "memory_mb": 64})
    h.manager.workloads.run_once()
    assert h.instances(wid) == []
    h.clock.advance(timedelta(seconds=0.5))  # inside the 1 s backoff
    h.manager.workloads.run_once()
    h.manager.workloads.run_once()
    assert h.manager.workloads.last_looked == 0
    h.node("large", cpu=8)  # capacity may have appeared: retried at once
    h.manager.workloads.run_once()
    assert len(h.instances(wid)) == 1


def test_backoff_ends_and_a_full_resync_skips_backed_off_workloads(
    database: Database, clock: FakeClock
) -> None:
    now = [0.0]
    settings = ControllerSettings(suspect_after=15, down_after=30, resync=30)
    manager = ControllerManager(database, LiveFleet(database), {}.get, settings, clock)
    manager.workloads._monotonic = lambda: now[0]  # the resync timer, under test control
    try:
        with database.write() as s:
            create_node(session=s, node=node_body("small", cpu=1), state=NodeState.READY)
            create_workload(
                session=s, workload=workload_body("big", 1, resources={"cpu": 2, "memory_mb": 64})
            )
            create_workload(session=s, workload=workload_body("fits", 1))
        for _ in range(4):
            manager.workloads.run_once()
        assert manager.workloads.last_looked == 0
        now[0] = 31.0  # a full resync is due; "big" is still backing off (fake clock)
        manager.workloads.run_once()
        assert manager.workloads.last_looked == 1
        clock.advance(timedelta(seconds=61))  # longer than the longest backoff
        manager.workloads.run_once()
        assert manager.workloads.last_looked == 1
        manager.workloads.run_once()  # tried again, failed again: backing off again
        assert manager.workloads.last_looked == 0
    finally:
        manager.stop()


def test_a_large_backlog_is_worked_off_in_bounded_passes(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import edgeorch.controllers.workloads as controller

    monkeypatch.setattr(controller, "MAX_WORKLOADS_PER_PASS", 2)
    h.node("a", cpu=16)
    ids = [h.workload(f"w{i}", 1) for i in range(5)]
    h.manager.workloads.run_once()
    assert h.manager.workloads.last_looked == 2 and h.manager.workloads.backlog == 3
    assert sum(len(h.instances(w)) for w in ids) == 2
    for _ in range(6):
        h.manager.workloads.run_once()
    assert all(len(h.instances(w)) == 1 for w in ids)
    assert h.manager.workloads.backlog == 0


def _write_status(h: Harness, node_id: str, **changes: Any) -> None:
    with h.db.write() as s:
        node = read_node(session=s, ref=node_id, tenant=None)
        update_node_status(
            session=s, node_id=node_id, status=node.status.model_copy(update=changes)
        )


def _revision(h: Harness) -> int:
    with h.db.session() as s:
        return current_revision(session=s)


def test_heartbeat_status_writes_do_not_start_a_reconcile_pass(h: Harness) -> None:
    a = h.node("a")
    h.manager.workloads.run_once()
    since = _revision(h)
    _write_status(h, a, utilization=Utilization(cpu=0.5, memory=0.2))
    assert h.manager._quiet_node_writes(since) is None  # the first look remembers every node
    since = _revision(h)
    _write_status(h, a, utilization=Utilization(cpu=0.7, memory=0.2), instances=3)
    assert h.manager._quiet_node_writes(since) == _revision(h)  # skipped
    since = _revision(h)
    _write_status(h, a, state=NodeState.SUSPECT)
    assert h.manager._quiet_node_writes(since) is None  # a new state: a pass
    since = _revision(h)
    h.workload("web", 1)
    assert h.manager._quiet_node_writes(since) is None  # anything but a node write: a pass
    since = _revision(h)
    with h.db.write() as s:
        node = read_node(session=s, ref=a, tenant=None)
        update_node_config(session=s, ref=a, tenant=None, spec=node.spec, labels={"rack": "r2"})
    assert h.manager._quiet_node_writes(since) is None  # new labels: a pass
    since = _revision(h)
    with h.db.write() as s:
        node = read_node(session=s, ref=a, tenant=None)
        spec = node.spec.model_copy(update={"cost_per_hour": 9.5})
        update_node_config(session=s, ref=a, tenant=None, spec=spec)
    assert h.manager._quiet_node_writes(since) is None  # a new spec: a pass
    h.node("b")
    assert h.manager._quiet_node_writes(_revision(h) - 1) is None  # a new node: a pass


def test_pre_registered_nodes_start_no_pass_until_they_join(h: Harness) -> None:
    h.node("a")
    h.manager.workloads.run_once()
    since = _revision(h)
    _write_status(h, h.node("b"), utilization=Utilization(cpu=0.1))  # remember every node
    assert h.manager._quiet_node_writes(since) is None
    since = _revision(h)
    with h.db.write() as s:
        pending = create_node(session=s, node=node_body("c")).metadata.id  # never joined
    assert h.manager._quiet_node_writes(since) == _revision(h)
    since = _revision(h)
    _write_status(h, pending, state=NodeState.READY)  # its agent joins: something to place on
    assert h.manager._quiet_node_writes(since) is None


def test_the_lost_after_clock_starts_when_a_node_is_seen_down(database: Database) -> None:
    from edgeorch.controllers.nodes import DownClock

    with database.write() as s:
        node = create_node(session=s, node=node_body("a"), state=NodeState.READY)
    clock = DownClock()
    t0 = datetime(2026, 1, 1)
    assert clock.views({node.metadata.id: node}, t0)[node.metadata.id].down_since is None
    status = node.status.model_copy(update={"state": NodeState.DOWN})
    down = node.model_copy(update={"status": status})
    later = t0 + timedelta(seconds=5)
    assert clock.views({node.metadata.id: down}, later)[node.metadata.id].down_since == later
    much_later = later + timedelta(seconds=60)  # still down: the clock keeps its start
    assert clock.views({node.metadata.id: down}, much_later)[node.metadata.id].down_since == later
    clock.views({node.metadata.id: node}, much_later)  # back: forgotten
    assert clock.since == {}
