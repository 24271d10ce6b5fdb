"""LiveFleet kept in step with the change feed equals a fresh read of the store."""

import random

from edgeorch.domain.enums import NodeState
from edgeorch.placement.live import LiveFleet
from edgeorch.schemas.instance import InstanceSpec
from edgeorch.schemas.node import NodeCreate
from edgeorch.schemas.workload import WorkloadCreate, WorkloadUpdate
from edgeorch.store import (
    Database,
    create_instance,
    create_node,
    create_workload,
    delete_instance,
    delete_node,
    list_instances,
    update_instance_spec,
    update_workload,
)


def _node(name: str) -> NodeCreate:
    spec = {
        "edge_type": "mec", "region": "eu", "country": "DE",
        "location": {"latitude": 50, "longitude": 8},
        "capacity": {"cpu": 64, "memory_mb": 65536},
    }  # fmt: skip
    return NodeCreate.model_validate({"metadata": {"name": name}, "spec": spec})


def _workload(name: str, cpu: float) -> WorkloadCreate:
    spec = {
        "runtime": "process", "artifact": {"command": ["true"]}, "replicas": 1,
        "resources": {"cpu": cpu, "memory_mb": 64},
    }  # fmt: skip
    return WorkloadCreate.model_validate({"metadata": {"name": name}, "spec": spec})


def _booked(fleet: LiveFleet) -> dict[tuple[str, str], tuple[float, ...]]:
    view = fleet.view()
    snap = view.snapshot
    out = {}
    for node_id, row in snap.index.items():
        if snap.alive[row]:
            out[(node_id, "cpu")] = (round(float(snap.booked[row][0]), 6),)
            out[(node_id, "n")] = (int(snap.booked_instances[row]),)
    return out


def test_incremental_view_equals_a_rebuild_after_random_writes(database: Database) -> None:
    rng = random.Random(7)
    with database.write() as s:
        nodes = [
            create_node(session=s, node=_node(f"n{i}"), state=NodeState.READY) for i in range(6)
        ]
        workloads = [create_workload(session=s, workload=_workload(f"w{i}", 0.5)) for i in range(4)]
    node_ids = [n.metadata.id for n in nodes]
    fleet = LiveFleet(database)
    fleet.view()
    replica = 0
    for step in range(60):
        op = rng.choice(["create", "create", "move", "delete", "resize", "drop_node"])
        with database.write() as s:
            instances = list_instances(session=s, tenant=None, limit=1000).items
            if op == "create" or not instances:
                w = rng.choice(workloads)
                replica += 1
                create_instance(
                    session=s,
                    spec=InstanceSpec(
                        workload_id=w.metadata.id, node_id=rng.choice(node_ids), replica=replica
                    ),
                )
            elif op == "move":
                inst = rng.choice(instances)
                update_instance_spec(
                    session=s,
                    instance_id=inst.metadata.id,
                    spec=inst.spec.model_copy(update={"node_id": rng.choice(node_ids)}),
                )
            elif op == "delete":
                delete_instance(session=s, ref=rng.choice(instances).metadata.id, tenant=None)
            elif op == "resize":
                w = rng.choice(workloads)
                body = WorkloadUpdate.model_validate(
                    _workload(w.metadata.name, rng.choice([0.25, 0.5, 1.0])).model_dump(
                        by_alias=True
                    )
                )
                updated = update_workload(session=s, ref=w.metadata.id, workload=body)
                workloads = [updated if x.metadata.id == w.metadata.id else x for x in workloads]
            elif op == "drop_node" and len(node_ids) > 3:
                victim = node_ids.pop(rng.randrange(len(node_ids)))
                delete_node(session=s, ref=victim, tenant=None)
        if step % 7 == 0:
            assert _booked(fleet) == _booked(LiveFleet(database)), f"step {step} ({op})"
    assert _booked(fleet) == _booked(LiveFleet(database))
