"""Builders for analytics and alert tests: real rows through the store functions."""

from datetime import datetime, timedelta
from typing import Any

from edgeorch.domain.enums import InstanceState, NodeState
from edgeorch.schemas.instance import Instance, InstanceSpec
from edgeorch.schemas.node import Node, NodeCreate, Utilization
from edgeorch.schemas.workload import Workload, WorkloadCreate
from edgeorch.store import (
    Database,
    create_instance,
    create_node,
    create_workload,
    read_instance,
    read_node,
    update_instance_status,
    update_node_status,
)
from edgeorch.store.sql.telemetry import (
    NodeUsage,
    RequestSample,
    record_node_usage,
    record_request_samples,
)
from edgeorch.telemetry.histogram import BUCKETS

CITIES = {
    "paris": (48.85, 2.35, "FR"),
    "frankfurt": (50.11, 8.68, "DE"),
    "nyc": (40.71, -74.0, "US"),
}


def node(
    database: Database,
    name: str,
    *,
    region: str = "eu-west",
    city: str = "paris",
    cpu: float = 8,
    memory_mb: int = 16384,
    cost: float = 1.0,
    state: NodeState = NodeState.READY,
    utilization: Utilization | None = None,
) -> Node:
    lat, lon, country = CITIES[city]
    body = {
        "metadata": {"name": name},
        "spec": {
            "edge_type": "mec",
            "region": region,
            "location": {"latitude": lat, "longitude": lon},
            "country": country,
            "capacity": {"cpu": cpu, "memory_mb": memory_mb},
            "cost_per_hour": cost,
        },
    }
    with database.write() as s:
        created = create_node(session=s, node=NodeCreate.model_validate(body))
        return set_node(database, created.metadata.id, state, utilization, session=s)


def set_node(
    database: Database,
    node_id: str,
    state: NodeState,
    utilization: Utilization | None = None,
    *,
    session: Any = None,
) -> Node:
    def apply(s: Any) -> Node:
        current = read_node(session=s, ref=node_id, tenant=None)
        status = current.status.model_copy(
            update={"state": state, "utilization": utilization or current.status.utilization}
        )
        return update_node_status(session=s, node_id=node_id, status=status)

    if session is not None:
        return apply(session)
    with database.write() as s:
        return apply(s)


def workload(database: Database, name: str, **spec: Any) -> Workload:
    body: dict[str, Any] = {"runtime": "wasm", "artifact": {"digest": "sha256:" + "a" * 64}}
    body.update(spec)
    with database.write() as s:
        return create_workload(
            session=s,
            workload=WorkloadCreate.model_validate({"metadata": {"name": name}, "spec": body}),
        )


def instance(database: Database, w: Workload, n: Node, replica: int = 0) -> Instance:
    with database.write() as s:
        created = create_instance(
            session=s,
            spec=InstanceSpec(workload_id=w.metadata.id, node_id=n.metadata.id, replica=replica),
        )
        current = read_instance(session=s, ref=created.metadata.id)
        status = current.status.model_copy(update={"state": InstanceState.RUNNING})
        return update_instance_status(session=s, instance_id=created.metadata.id, status=status)


def histogram(**at: int) -> tuple[int, ...]:
    out = [0] * BUCKETS
    for key, count in at.items():
        out[int(key.removeprefix("b"))] = count
    return tuple(out)


def requests(
    database: Database,
    inst: Instance,
    n: Node,
    at: datetime,
    buckets: tuple[int, ...],
    errors: int = 0,
    workload_name: str = "w",
) -> None:
    total = sum(buckets)
    sample = RequestSample(
        time=at,
        seconds=10,
        tenant=inst.metadata.tenant,
        workload_id=inst.spec.workload_id,
        workload=workload_name,
        instance_id=inst.metadata.id,
        node_id=n.metadata.id,
        region=n.spec.region,
        requests=total,
        errors=errors,
        latency_sum_ms=float(total),
        buckets=buckets,
    )
    with database.write() as s:
        record_request_samples(session=s, samples=[sample])


def usage_series(
    database: Database, n: Node, start: datetime, values: list[float], step: int = 60
) -> None:
    rows = [
        NodeUsage(
            time=start + timedelta(seconds=step * i),
            seconds=step,
            tenant=n.metadata.tenant,
            node_id=n.metadata.id,
            region=n.spec.region,
            cpu=v,
            memory=v / 2,
            storage=0.1,
            cpu_capacity=n.spec.capacity.cpu,
            memory_mb_capacity=n.spec.capacity.memory_mb,
            samples=12,
        )
        for i, v in enumerate(values)
    ]
    with database.write() as s:
        record_node_usage(session=s, usage=rows)
