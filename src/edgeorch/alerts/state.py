"""What the alert rules say now, kept up to date from the changes since the previous pass.

:class:`RuleState` holds the answer of every per-subject rule (``alerts/rules.py``) and, at each
pass, re-judges only the subjects whose inputs changed, as told by the
:class:`~edgeorch.store.mirror.FeedMirror`:

- ``NodeDown`` and a region's load: the changed nodes (a node's share of its region's load is
  taken out and put back, so a region's sums never need the whole fleet);
- ``ResidencyViolation``: changed instances, the instances of changed workloads, and the
  instances on nodes whose *placement facts* changed (name, country, location, edge type,
  slices: not the status a heartbeat rewrites every few minutes);
- ``SlaViolation``: workloads that changed, whose instances changed, that run on a node whose
  facts changed, or whose telemetry is (or was, last pass) judged;
- ``ResponseTimeHigh`` / ``ErrorRateHigh`` and ``RegionCapacityHigh``: every pass, from the
  request totals (one aggregate query, done by the engine) and the region sums.

Invariant: after :meth:`RuleState.update` the answer equals ``rules.evaluate`` over the mirror's
objects and the same totals (tests/alerts/test_state.py checks it after random changes).
"""

from collections.abc import Iterable

from edgeorch.alerts import rules
from edgeorch.alerts.settings import AlertSettings
from edgeorch.schemas.node import Node
from edgeorch.store.mirror import Changes, FeedMirror
from edgeorch.store.sql.alerts import AlertFiring
from edgeorch.store.sql.telemetry import RequestTotals

_Facts = tuple[object, ...]


def _facts(node: Node) -> _Facts:
    """What of a node the placement rules read, besides its presence."""
    spec = node.spec
    return (
        node.metadata.name,
        spec.country,
        spec.location.latitude,
        spec.location.longitude,
        spec.edge_type,
        tuple(spec.network_slices),
    )


class RuleState:
    """The per-subject answers of the rules; see the module docstring."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.nodes: dict[str, AlertFiring] = {}
        self.instances: dict[str, AlertFiring] = {}
        self.sla: dict[str, AlertFiring] = {}
        self.regions: dict[str, rules.RegionLoad] = {}
        self._counted: dict[str, Node] = {}  # nodes counted in their region's load
        self._facts: dict[str, _Facts] = {}
        self._judged: set[str] = set()  # workloads with request totals last pass

    def update(
        self,
        mirror: FeedMirror,
        changes: Changes | None,
        requests: dict[str, RequestTotals],
        settings: AlertSettings,
    ) -> dict[str, AlertFiring]:
        """Bring the answers to the mirror's revision; returns every alert that should fire.
        ``changes`` None (first pass, or the mirror was rebuilt) re-judges everything."""
        if changes is None:
            self._reset()
            changes = Changes(
                nodes=set(mirror.nodes),
                workloads=set(mirror.workloads),
                instances=set(mirror.instances),
            )
        moved = self._judge_nodes(mirror, changes.nodes)
        instances = set(changes.instances)
        workloads = changes.workloads | changes.instance_workloads
        for workload_id in changes.workloads:
            instances.update(i.metadata.id for i in mirror.instances_of(workload_id))
        for node_id in moved:
            for instance in mirror.instances_on(node_id):
                instances.add(instance.metadata.id)
                workloads.add(instance.spec.workload_id)
        self._judge_instances(mirror, instances)
        self._judge_sla(mirror, workloads | set(requests) | self._judged, requests, settings)
        self._judged = set(requests)
        wanted: list[AlertFiring] = [*self.nodes.values(), *self.instances.values()]
        wanted.extend(self.sla.values())
        wanted.extend(rules.region_capacity_high(self.regions, settings))
        for workload_id, totals in requests.items():
            workload = mirror.workloads.get(workload_id)
            if workload is not None:
                wanted.extend(rules.telemetry_alerts(workload, totals, settings))
        return {a.fingerprint: a for a in wanted}

    def _judge_nodes(self, mirror: FeedMirror, node_ids: Iterable[str]) -> set[str]:
        """Re-judge these nodes; returns those whose placement facts or presence changed."""
        moved = set()
        for node_id in node_ids:
            node = mirror.nodes.get(node_id)
            self._count(node_id, node)
            alert = None if node is None else rules.node_down(node)
            _put(self.nodes, node_id, alert)
            facts = None if node is None else _facts(node)
            if facts != self._facts.get(node_id):
                moved.add(node_id)
                if facts is None:
                    del self._facts[node_id]
                else:
                    self._facts[node_id] = facts
        return moved

    def _count(self, node_id: str, node: Node | None) -> None:
        before = self._counted.pop(node_id, None)
        if before is not None:
            load = self.regions[before.spec.region]
            load.add(before, -1)
            if not load.nodes:
                del self.regions[before.spec.region]
        if node is not None and rules.counts_for_region(node):
            self.regions.setdefault(node.spec.region, rules.RegionLoad()).add(node)
            self._counted[node_id] = node

    def _judge_instances(self, mirror: FeedMirror, instance_ids: Iterable[str]) -> None:
        for instance_id in instance_ids:
            instance = mirror.instances.get(instance_id)
            node = None if instance is None else mirror.nodes.get(instance.spec.node_id or "")
            alert = None
            if instance is not None and node is not None:
                workload = mirror.workloads.get(instance.spec.workload_id)
                alert = rules.residency_violation(instance, node, workload)
            _put(self.instances, instance_id, alert)

    def _judge_sla(
        self,
        mirror: FeedMirror,
        workload_ids: Iterable[str],
        requests: dict[str, RequestTotals],
        settings: AlertSettings,
    ) -> None:
        for workload_id in workload_ids:
            workload = mirror.workloads.get(workload_id)
            alert = None
            if workload is not None:
                nodes = [
                    node
                    for i in mirror.instances_of(workload_id)
                    if rules.is_active(i) and (node := mirror.nodes.get(i.spec.node_id or ""))
                ]
                alert = rules.sla_violation(workload, nodes, requests.get(workload_id), settings)
            _put(self.sla, workload_id, alert)


def _put(answers: dict[str, AlertFiring], key: str, alert: AlertFiring | None) -> None:
    if alert is None:
        answers.pop(key, None)
    else:
        answers[key] = alert
