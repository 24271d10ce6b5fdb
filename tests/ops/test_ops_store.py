"""The operations controllers over a real store: they act on what changed, once, and an idle
pass does nothing (they follow the change feed through a shared FeedMirror)."""

from datetime import timedelta
from typing import Any

from tests.analytics import seed
from tests.conftest import FakeClock
from tests.rollout.builders import V1, V2, revision, spec

from edgeorch.controllers.autoscale import Autoscaler
from edgeorch.controllers.rollout import DrainWatcher, RolloutController, template_hash
from edgeorch.domain.enums import InstanceState, NodeScheduling
from edgeorch.schemas.envelope import MetadataIn
from edgeorch.schemas.workload import RolloutStatus, Workload, WorkloadCreate
from edgeorch.store import (
    Database,
    create_workload,
    list_events,
    read_instance,
    read_node,
    read_workload,
    update_instance_spec,
    update_instance_status,
    update_node_config,
    update_workload_status,
)
from edgeorch.store.mirror import FeedMirror


def reasons(database: Database, object_id: str) -> list[str]:
    with database.session() as s:
        return [e.reason for e in list_events(session=s, involved_id=object_id, limit=500).items]


def set_scheduling(database: Database, node_id: str, to: NodeScheduling) -> None:
    with database.write() as s:
        node = read_node(session=s, ref=node_id, tenant=None)
        spec = node.spec.model_copy(update={"scheduling": to})
        update_node_config(session=s, ref=node_id, tenant=node.metadata.tenant, spec=spec)


def set_instance(database: Database, instance_id: str, **status: Any) -> None:
    with database.write() as s:
        current = read_instance(session=s, ref=instance_id, tenant=None)
        update_instance_status(
            session=s, instance_id=instance_id, status=current.status.model_copy(update=status)
        )


def test_drain_watcher_announces_a_drained_node_once(database: Database) -> None:
    mirror = FeedMirror(database)
    watcher = DrainWatcher(database, mirror)
    n = seed.node(database, "edge-1")
    w = seed.workload(database, "web")
    inst = seed.instance(database, w, n)
    assert watcher.run_once() == []
    set_scheduling(database, n.metadata.id, NodeScheduling.DRAINING)
    assert watcher.run_once() == []  # a wanted instance is still on it
    with database.write() as s:
        current = read_instance(session=s, ref=inst.metadata.id, tenant=None)
        update_instance_spec(
            session=s,
            instance_id=inst.metadata.id,
            spec=current.spec.model_copy(update={"desired_state": "stopped"}),
        )
    assert watcher.run_once() == ["edge-1"]
    assert watcher.run_once() == []  # once
    assert reasons(database, n.metadata.id).count("NodeDrained") == 1
    set_scheduling(database, n.metadata.id, NodeScheduling.ENABLED)
    assert watcher.run_once() == []
    set_scheduling(database, n.metadata.id, NodeScheduling.DRAINING)
    assert watcher.run_once() == ["edge-1"]  # a new drain is a new announcement


def failed_rollout(database: Database) -> Workload:
    v1, v2 = spec(V1, replicas=1), spec(V2, replicas=1)
    with database.write() as s:
        w = create_workload(
            session=s,
            workload=WorkloadCreate(metadata=MetadataIn(name="api"), spec=v2),
        )
        rollout = RolloutStatus(revision=2, from_revision=1, state="failed", message="crashed")
        status = w.status.model_copy(
            update={
                "revision": 2,
                "revisions": [revision(1, V1), revision(2, V2)],
                "rollout": rollout,
            }
        )
        w = update_workload_status(session=s, workload_id=w.metadata.id, status=status)
    assert template_hash(v1) != template_hash(v2)
    return w


def test_rollout_controller_rolls_a_failed_rollout_back_once(database: Database) -> None:
    controller = RolloutController(database)
    seed.workload(database, "bystander")
    assert controller.run_once() == []
    w = failed_rollout(database)
    assert controller.run_once() == ["api"]
    with database.session() as s:
        back = read_workload(session=s, ref=w.metadata.id, tenant=None)
    assert back.spec.artifact.command == V1
    assert back.status.rollout is not None and back.status.rollout.state == "rolled_back"
    assert controller.run_once() == []
    assert reasons(database, w.metadata.id).count("RolledBack") == 1


def test_autoscaler_decides_on_changes_and_after_cooldowns(
    database: Database, clock: FakeClock
) -> None:
    scaler = Autoscaler(database, clock)
    n = seed.node(database, "edge-1")
    scaling = {"min": 1, "max": 6, "target_cpu_utilization": 50}
    w = seed.workload(database, "web", scaling=scaling, resources={"cpu": 1, "memory_mb": 64})
    inst = seed.instance(database, w, n)
    assert scaler.run_once() == []  # no CPU reported yet
    set_instance(database, inst.metadata.id, cpu_cores=1.0)  # 200 % of the request
    [up] = scaler.run_once()
    assert (up.current, up.desired, up.reason) == (1, 2, "ScaledUp")
    assert scaler.run_once() == []  # the count is written; ratio unchanged but cooling down
    set_instance(database, inst.metadata.id, cpu_cores=0.1)  # 10 %
    assert scaler.run_once() == []  # scale-down cool-down (300 s) holds it
    clock.advance(timedelta(seconds=301))
    [down] = scaler.run_once()  # time alone ended the cool-down
    assert (down.current, down.desired, down.reason) == (2, 1, "ScaledDown")
    assert reasons(database, w.metadata.id).count("ScaledUp") == 1


def test_autoscaler_request_rate_from_one_aggregate(database: Database, clock: FakeClock) -> None:
    scaler = Autoscaler(database, clock)
    n = seed.node(database, "edge-1")
    scaling = {"min": 1, "max": 8, "target_requests_per_second": 1}
    w = seed.workload(database, "web", scaling=scaling)
    inst = seed.instance(database, w, n)
    assert scaler.run_once() == []  # no telemetry: no rate, no decision
    # 240 requests in the rate window (60 s, lagged 20 s): 4 per second for one replica.
    seed.requests(database, inst, n, clock.now - timedelta(seconds=50), seed.histogram(b3=240))
    [up] = scaler.run_once()  # telemetry is not in the change feed: rate targets are polled
    assert (up.current, up.desired) == (1, 4)
    assert "4.0 requests/s per replica" in up.message
    set_instance(database, inst.metadata.id, state=InstanceState.FAILED)
    clock.advance(timedelta(seconds=61))
    assert scaler.run_once() == []  # no running replica: no rate to judge by
