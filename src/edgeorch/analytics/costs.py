"""``GET /analytics/costs``: what each instance costs, summed per workload, tenant and region.

For every instance bound to a node and desired running::

    share          = max(cpu / node.capacity.cpu, memory_mb / node.capacity.memory_mb)
    cost_per_hour  = node.cost_per_hour * min(share, 1)            (USD per hour, now)
    hours          = (now - max(window start, instance created_at)) in hours
    cost           = cost_per_hour * hours                          (USD over the window)

The share is the instance's *dominant* share of the node (the larger of its CPU and memory
shares, as in Dominant Resource Fairness): a replica that takes half a node's memory keeps half
the node from other work, however little CPU it uses. An instance is bound to one node for its
whole life (moving a replica creates a new instance), so ``created_at`` is when its binding
began. Instances deleted before ``now`` are no longer in the store and are not counted: the
window total is what the replicas running now have cost so far within it.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.orm import Session

from edgeorch.analytics.listing import read_all
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.node import Node
from edgeorch.schemas.workload import Workload
from edgeorch.store import list_instances, list_nodes, list_workloads

CURRENCY = "USD"
SHARE_BASIS = "dominant share: max(cpu / node cpu, memory_mb / node memory_mb), capped at 1"


class InstanceCost(BaseModel):
    """One instance's share of its node and what it costs."""

    instance: str
    instance_id: str
    workload: str
    tenant: str
    node: str
    region: str
    node_cost_per_hour: float
    share: float
    cost_per_hour: float
    hours: float
    cost: float


class CostTotal(BaseModel):
    """A sum of instance costs: ``cost_per_hour`` now, ``cost`` over the window."""

    name: str
    instances: int
    cost_per_hour: float
    cost: float


class CostReport(BaseModel):
    """Body of ``GET /analytics/costs``."""

    since: datetime
    until: datetime
    window_seconds: float
    currency: str
    share_basis: str
    total: CostTotal
    workloads: list[CostTotal]
    tenants: list[CostTotal]
    regions: list[CostTotal]
    instances: list[InstanceCost]


def share_of(instance_cpu: float, instance_memory_mb: int, node: Node) -> float:
    """The dominant share of ``node`` that the requested resources take, in [0, 1]."""
    capacity = node.spec.capacity
    shares = [
        instance_cpu / capacity.cpu if capacity.cpu > 0 else 0.0,
        instance_memory_mb / capacity.memory_mb if capacity.memory_mb > 0 else 0.0,
    ]
    return min(max(shares), 1.0)


def costs(*, session: Session, now: datetime, window: timedelta, tenant: str | None) -> CostReport:
    """Costs of the instances bound now, over ``[now - window, now]``."""
    since = now - window
    nodes = {n.metadata.id: n for n in read_all(list_nodes, session=session, tenant=None)}
    workloads = {w.metadata.id: w for w in read_all(list_workloads, session=session, tenant=tenant)}
    rows: list[InstanceCost] = []
    for instance in read_all(list_instances, session=session, tenant=tenant):
        node = nodes.get(instance.spec.node_id or "")
        workload = workloads.get(instance.spec.workload_id)
        if node is None or workload is None or instance.spec.desired_state != "running":
            continue
        rows.append(_instance_cost(instance, workload, node, since, now))
    rows.sort(key=lambda r: (r.tenant, r.workload, r.instance))
    return CostReport(
        since=since,
        until=now,
        window_seconds=window.total_seconds(),
        currency=CURRENCY,
        share_basis=SHARE_BASIS,
        total=_total("all", rows),
        workloads=_group(rows, lambda r: f"{r.tenant}/{r.workload}"),
        tenants=_group(rows, lambda r: r.tenant),
        regions=_group(rows, lambda r: r.region),
        instances=rows,
    )


def _instance_cost(
    instance: Instance, workload: Workload, node: Node, since: datetime, now: datetime
) -> InstanceCost:
    resources = workload.spec.resources
    share = share_of(resources.cpu, resources.memory_mb, node)
    per_hour = node.spec.cost_per_hour * share
    start = max(since, instance.metadata.created_at)
    hours = max((now - start).total_seconds(), 0.0) / 3600.0
    return InstanceCost(
        instance=instance.metadata.name,
        instance_id=instance.metadata.id,
        workload=workload.metadata.name,
        tenant=instance.metadata.tenant,
        node=node.metadata.name,
        region=node.spec.region,
        node_cost_per_hour=node.spec.cost_per_hour,
        share=round(share, 6),
        cost_per_hour=round(per_hour, 6),
        hours=round(hours, 6),
        cost=round(per_hour * hours, 6),
    )


def _total(name: str, rows: list[InstanceCost]) -> CostTotal:
    return CostTotal(
        name=name,
        instances=len(rows),
        cost_per_hour=round(sum(r.cost_per_hour for r in rows), 6),
        cost=round(sum(r.cost for r in rows), 6),
    )


def _group(rows: list[InstanceCost], key: Callable[[InstanceCost], str]) -> list[CostTotal]:
    groups: dict[str, list[InstanceCost]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return [_total(name, members) for name, members in sorted(groups.items())]
