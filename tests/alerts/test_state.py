"""The engine's incremental rule answers equal a full evaluation after any sequence of changes."""

import random
from datetime import timedelta
from typing import Any

import pytest
from tests.analytics import seed
from tests.conftest import FakeClock

from edgeorch.alerts import rules
from edgeorch.alerts.engine import AlertEngine
from edgeorch.alerts.settings import AlertSettings
from edgeorch.analytics.listing import read_all
from edgeorch.domain.enums import InstanceState, NodeState
from edgeorch.schemas.node import Utilization
from edgeorch.schemas.workload import WorkloadUpdate
from edgeorch.store import (
    Database,
    delete_instance,
    list_instances,
    list_nodes,
    list_workloads,
    read_instance,
    update_instance_status,
    update_workload,
)
from edgeorch.store.sql.telemetry import request_totals

SETTINGS = AlertSettings(window=60, min_requests=5, capacity_threshold=0.6)
USERS = [{"latitude": 40.71, "longitude": -74.0, "weight": 1}]  # New York


def full(database: Database, clock: FakeClock) -> dict[str, Any]:
    """What rules.evaluate says over a fresh read of the whole store."""
    with database.session() as s:
        totals = request_totals(
            session=s, since=clock.now - timedelta(seconds=60), until=clock.now, by="workload"
        )
        snap = rules.Snapshot(
            nodes={n.metadata.id: n for n in read_all(list_nodes, session=s, tenant=None)},
            workloads={w.metadata.id: w for w in read_all(list_workloads, session=s, tenant=None)},
            instances=read_all(list_instances, session=s, tenant=None),
            requests={t.key[1]: t for t in totals},
        )
    return {fp: (a.summary, a.value) for fp, a in rules.evaluate(snap, SETTINGS).items()}


def incremental(engine: AlertEngine, database: Database, clock: FakeClock) -> dict[str, Any]:
    with database.session() as s:
        wanted = engine.wanted(s, clock.now)
    return {fp: (a.summary, a.value) for fp, a in wanted.items()}


@pytest.mark.parametrize("seed_value", [1, 2])
def test_incremental_answers_match_a_full_evaluation(
    database: Database, clock: FakeClock, seed_value: int
) -> None:
    rng = random.Random(seed_value)
    cities = ["paris", "frankfurt", "nyc"]
    nodes = [seed.node(database, f"n{k}", region=f"r{k % 2}", city=cities[k % 3]) for k in range(6)]
    workloads = [
        seed.workload(database, "gdpr", placement={"residency": {"regulation": "GDPR"}}),
        seed.workload(database, "sla", placement={"users": USERS, "max_latency_ms": 60}),
        seed.workload(database, "plain"),
    ]
    instances = [seed.instance(database, w, nodes[k % 6], k) for k, w in enumerate(workloads * 2)]
    engine = AlertEngine(database, SETTINGS, clock)
    assert incremental(engine, database, clock) == full(database, clock)

    def node_state() -> None:
        n = rng.choice(nodes)
        state = rng.choice([NodeState.READY, NodeState.DOWN, NodeState.SUSPECT])
        seed.set_node(database, n.metadata.id, state, Utilization(cpu=rng.random(), memory=0.1))

    def instance_state() -> None:
        inst = rng.choice(instances)
        with database.write() as s:
            current = read_instance(session=s, ref=inst.metadata.id, tenant=None)
            state = rng.choice([InstanceState.RUNNING, InstanceState.FAILED])
            status = current.status.model_copy(update={"state": state})
            update_instance_status(session=s, instance_id=inst.metadata.id, status=status)

    def residency() -> None:
        w = workloads[0]
        spec = w.spec.model_dump(mode="json")
        spec["placement"]["residency"] = rng.choice(
            [{"countries": ["DE"]}, {"regulation": "GDPR"}, {"countries": ["US"]}]
        )
        with database.write() as s:
            body = WorkloadUpdate.model_validate({"metadata": {"name": "gdpr"}, "spec": spec})
            update_workload(session=s, ref=w.metadata.id, workload=body)

    def add_or_remove() -> None:
        if len(instances) > 2 and rng.random() < 0.5:
            gone = instances.pop(rng.randrange(len(instances)))
            with database.write() as s:
                delete_instance(session=s, ref=gone.metadata.id, tenant=None)
        else:
            w, n = rng.choice(workloads), rng.choice(nodes)
            instances.append(seed.instance(database, w, n, len(instances) + 10))

    def traffic() -> None:
        inst = rng.choice(instances)
        node = next(n for n in nodes if n.metadata.id == inst.spec.node_id)
        slow = rng.choice([seed.histogram(b9=10), seed.histogram(b2=10)])
        seed.requests(
            database, inst, node, clock.now - timedelta(seconds=5), slow, rng.randint(0, 3)
        )

    def time_passes() -> None:
        clock.advance(timedelta(seconds=rng.choice([5, 30, 70])))

    steps = [node_state, instance_state, residency, add_or_remove, traffic, time_passes]
    for _ in range(25):
        for _ in range(rng.randint(1, 3)):
            rng.choice(steps)()
        assert incremental(engine, database, clock) == full(database, clock)


def test_a_pass_rejudges_only_what_changed(
    database: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = [seed.node(database, f"paris-{k}", city="paris") for k in range(3)]
    w = seed.workload(database, "records", placement={"residency": {"countries": ["DE"]}})
    insts = [seed.instance(database, w, n, k) for k, n in enumerate(nodes)]
    engine = AlertEngine(database, SETTINGS, clock)
    assert len(engine.evaluate_once()) == 3  # every replica runs outside Germany
    judged: list[str] = []
    real = rules.residency_violation

    def counting(instance: Any, node: Any, workload: Any) -> Any:
        judged.append(instance.metadata.name)
        return real(instance, node, workload)

    monkeypatch.setattr(rules, "residency_violation", counting)
    assert engine.evaluate_once() == [] and judged == []  # nothing changed: nothing judged
    # A heartbeat's status write changes no placement fact: the node's instances stay judged.
    seed.set_node(database, nodes[0].metadata.id, NodeState.READY, Utilization(cpu=0.3))
    assert engine.evaluate_once() == [] and judged == []
    with database.write() as s:
        status = insts[1].status.model_copy(update={"state": InstanceState.FAILED})
        update_instance_status(session=s, instance_id=insts[1].metadata.id, status=status)
    [resolved] = engine.evaluate_once()
    assert resolved.state == "resolved" and judged == [insts[1].metadata.name]
