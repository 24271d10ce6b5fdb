"""The alert rules: each a pure function from a :class:`Snapshot` to the alerts that should be
firing now. The engine (``alerts/engine.py``) compares them with what is firing.

- ``ResponseTimeHigh`` (warning): a workload's p95 response time over the window > 100 ms;
- ``ErrorRateHigh`` (critical): a workload's errors / requests over the window > 5 %;
- ``NodeDown`` (critical): a node's status is ``down``;
- ``SlaViolation`` (warning): a user population's latency > ``placement.max_latency_ms``;
- ``ResidencyViolation`` (critical): a replica runs in a country its residency forbids;
- ``RegionCapacityHigh`` (warning): a region's CPU or memory utilization > 85 %.

The two telemetry rules judge only workloads with at least ``min_requests`` requests in the
window; with fewer, or none, they do not fire (and a firing alert resolves). The SLA rule's
latency is, per user population of the workload, the modelled round trip to the nearest running
replica (``placement/latency.py``: distance over fibre, access network, measured RTTs where
agents reported them) plus the workload's observed p95 response time when there are enough
requests to judge it. The fingerprint of every alert is ``rule:subject-kind/subject-id``, stable
across evaluations.

Each rule is a function of one subject (a workload and its request totals, a node, an instance
and its node, a region's summed load), so the engine re-judges only the subjects that changed
(``alerts/state.py``); :func:`evaluate` judges a whole :class:`Snapshot` the same way.
"""

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from edgeorch.alerts.settings import AlertSettings
from edgeorch.domain.enums import InstanceState, NodeState
from edgeorch.placement.latency import (
    ACCESS_RTT_MS_BY_EDGE_TYPE,
    ACCESS_RTT_MS_BY_SLICE,
    rtt_ms,
)
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.node import Node
from edgeorch.schemas.workload import Workload
from edgeorch.store.sql.alerts import AlertFiring
from edgeorch.store.sql.telemetry import RequestTotals
from edgeorch.telemetry.histogram import quantile

WARNING, CRITICAL = "warning", "critical"
_ACTIVE = (InstanceState.RUNNING, InstanceState.STARTING)


@dataclass(frozen=True)
class Snapshot:
    """What the rules look at: the objects, and request totals per workload id in the window."""

    nodes: dict[str, Node]
    workloads: dict[str, Workload]
    instances: list[Instance]
    requests: dict[str, RequestTotals]


def _about(
    rule: str, severity: str, obj: Node | Workload | Instance, **rest: object
) -> AlertFiring:
    meta = obj.metadata
    return AlertFiring(
        fingerprint=f"{rule}:{obj.kind}/{meta.id}",
        rule=rule,
        severity=severity,
        tenant=meta.tenant,
        subject_kind=obj.kind,
        subject_id=meta.id,
        subject_name=meta.name,
        **rest,  # type: ignore[arg-type]
    )


def _p95(totals: RequestTotals | None, settings: AlertSettings) -> float | None:
    if totals is None or totals.requests < settings.min_requests:
        return None
    found = quantile(totals.buckets, 0.95)
    return None if found is None else found.value_ms


def telemetry_alerts(
    workload: Workload, totals: RequestTotals, settings: AlertSettings
) -> Iterator[AlertFiring]:
    """``ResponseTimeHigh`` and ``ErrorRateHigh`` of one workload from its request totals."""
    if totals.requests < settings.min_requests:
        return
    p95 = _p95(totals, settings)
    if p95 is not None and p95 > settings.response_time_ms:
        yield _about(
            "ResponseTimeHigh",
            WARNING,
            workload,
            summary=f"workload {workload.metadata.name}: p95 response time {p95:.1f} ms over "
            f"{totals.requests} requests in the last {settings.window:g} s exceeds "
            f"{settings.response_time_ms:g} ms",
            value=round(p95, 3),
            threshold=settings.response_time_ms,
            unit="ms",
        )
    rate = totals.errors / totals.requests
    if rate > settings.error_rate:
        yield _about(
            "ErrorRateHigh",
            CRITICAL,
            workload,
            summary=f"workload {workload.metadata.name}: {totals.errors} of {totals.requests} "
            f"requests failed ({rate:.1%}) in the last {settings.window:g} s, over "
            f"{settings.error_rate:.0%}",
            value=round(rate, 6),
            threshold=settings.error_rate,
            unit="ratio",
        )


def node_down(node: Node) -> AlertFiring | None:
    """``NodeDown`` when the node's status is ``down``."""
    if node.status.state is not NodeState.DOWN:
        return None
    seen = node.status.last_heartbeat
    return _about(
        "NodeDown",
        CRITICAL,
        node,
        summary=f"node {node.metadata.name} ({node.spec.region}) is down; last heartbeat "
        f"{seen.isoformat() if seen else 'never'}",
        value=1.0,
        threshold=0.0,
        unit="down",
    )


def is_active(instance: Instance) -> bool:
    """Whether the instance counts as running for the placement rules."""
    return instance.status.state in _ACTIVE


def residency_violation(
    instance: Instance, node: Node, workload: Workload | None
) -> AlertFiring | None:
    """``ResidencyViolation`` when an active replica runs in a country its workload's residency
    rule does not allow."""
    residency = None if workload is None else workload.spec.placement.residency
    if residency is None or not is_active(instance):
        return None
    allowed = residency.allowed()
    if node.spec.country in allowed:
        return None
    return _about(
        "ResidencyViolation",
        CRITICAL,
        instance,
        summary=f"instance {instance.metadata.name} runs on node {node.metadata.name} in "
        f"{node.spec.country}, outside the residency of its workload "
        f"(allowed: {', '.join(sorted(allowed)) or 'none'})",
        value=1.0,
        threshold=0.0,
        unit="violation",
    )


def _access_ms(workload: Workload, node: Node) -> float:
    wanted = workload.spec.placement.network_slice
    if wanted is not None and wanted in node.spec.network_slices:
        return ACCESS_RTT_MS_BY_SLICE[wanted]
    return ACCESS_RTT_MS_BY_EDGE_TYPE[node.spec.edge_type]


def sla_violation(
    workload: Workload,
    nodes: Sequence[Node],
    totals: RequestTotals | None,
    settings: AlertSettings,
) -> AlertFiring | None:
    """``SlaViolation`` when a user population of the workload, served by its active replicas
    on ``nodes``, sees more than ``max_latency_ms``."""
    placement = workload.spec.placement
    users = [u for u in placement.users if u.weight > 0]
    if placement.max_latency_ms is None or not users or not nodes:
        return None
    p95 = _p95(totals, settings) or 0.0
    worst, where = 0.0, users[0]
    for user in users:
        network = min(
            rtt_ms(
                user.latitude,
                user.longitude,
                n.spec.location.latitude,
                n.spec.location.longitude,
                _access_ms(workload, n),
            )
            for n in nodes
        )
        if network + p95 > worst:
            worst, where = network + p95, user
    if worst <= placement.max_latency_ms:
        return None
    return _about(
        "SlaViolation",
        WARNING,
        workload,
        summary=f"workload {workload.metadata.name}: users at ({where.latitude:.2f}, "
        f"{where.longitude:.2f}) see {worst:.1f} ms (modelled round trip to the nearest "
        f"replica + observed p95 {p95:.1f} ms), over max_latency_ms "
        f"{placement.max_latency_ms:g}",
        value=round(worst, 3),
        threshold=placement.max_latency_ms,
        unit="ms",
    )


@dataclass
class RegionLoad:
    """Capacity-weighted use of a region's ready nodes, summed (added to and taken from as
    nodes change, so a pass never walks the whole fleet)."""

    cpu_used: float = 0.0
    cpu: float = 0.0
    memory_used: float = 0.0
    memory: float = 0.0
    tenants: Counter[str] = field(default_factory=Counter)

    def add(self, node: Node, sign: int = 1) -> None:
        """Count ``node`` in (``sign`` 1) or out (-1)."""
        cap, use = node.spec.capacity, node.status.utilization
        self.cpu_used += sign * use.cpu * cap.cpu
        self.cpu += sign * cap.cpu
        self.memory_used += sign * use.memory * cap.memory_mb
        self.memory += sign * cap.memory_mb
        self.tenants[node.metadata.tenant] += sign
        self.tenants = +self.tenants  # drop zero counts

    @property
    def nodes(self) -> int:
        """Ready nodes counted."""
        return sum(self.tenants.values())


def counts_for_region(node: Node) -> bool:
    """Whether ``node`` counts in its region's capacity (ready nodes only)."""
    return node.status.state is NodeState.READY


def region_capacity_high(
    regions: Mapping[str, RegionLoad], settings: AlertSettings
) -> Iterator[AlertFiring]:
    """``RegionCapacityHigh`` for regions whose CPU or memory use exceeds the threshold; the
    alert's tenant is the (alphabetically first) tenant of the region's ready nodes."""
    for region, load in sorted(regions.items()):
        if not load.nodes:
            continue
        shares = {
            "cpu": load.cpu_used / load.cpu if load.cpu else 0.0,
            "memory": load.memory_used / load.memory if load.memory else 0.0,
        }
        resource = max(shares, key=lambda k: shares[k])
        value = shares[resource]
        if value <= settings.capacity_threshold:
            continue
        yield AlertFiring(
            fingerprint=f"RegionCapacityHigh:Region/{region}",
            rule="RegionCapacityHigh",
            severity=WARNING,
            tenant=min(load.tenants),
            subject_kind="Region",
            subject_id=region,
            subject_name=region,
            summary=f"region {region}: {resource} utilization {value:.0%} of the ready nodes' "
            f"capacity exceeds {settings.capacity_threshold:.0%}",
            value=round(value, 6),
            threshold=settings.capacity_threshold,
            unit="ratio",
        )


def evaluate(snap: Snapshot, settings: AlertSettings) -> dict[str, AlertFiring]:
    """Every alert that should be firing, by fingerprint, from a whole snapshot (the engine
    keeps the same answer up to date incrementally: ``alerts/state.py``)."""
    found: list[AlertFiring] = []
    for workload_id, totals in snap.requests.items():
        workload = snap.workloads.get(workload_id)
        if workload is not None:
            found.extend(telemetry_alerts(workload, totals, settings))
    regions: dict[str, RegionLoad] = {}
    for node in snap.nodes.values():
        if (alert := node_down(node)) is not None:
            found.append(alert)
        if counts_for_region(node):
            regions.setdefault(node.spec.region, RegionLoad()).add(node)
    serving: dict[str, list[Node]] = {}
    for instance in snap.instances:
        host = snap.nodes.get(instance.spec.node_id or "")
        if host is None or not is_active(instance):
            continue
        serving.setdefault(instance.spec.workload_id, []).append(host)
        workload = snap.workloads.get(instance.spec.workload_id)
        if (alert := residency_violation(instance, host, workload)) is not None:
            found.append(alert)
    for workload_id, nodes in serving.items():
        workload = snap.workloads.get(workload_id)
        if workload is None:
            continue
        alert = sla_violation(workload, nodes, snap.requests.get(workload_id), settings)
        if alert is not None:
            found.append(alert)
    found.extend(region_capacity_high(regions, settings))
    return {a.fingerprint: a for a in found}
