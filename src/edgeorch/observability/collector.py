"""Gauges of one control plane, computed when Prometheus scrapes, and the per-app registry.

The state gauges (nodes by state and region, instances by state, per-node utilization, the
oldest heartbeat silence, unplaced replicas) are not updated as things happen: a collector
reads them at scrape time from what the app already has, so they can never drift from the
store. Cost per scrape: one ``SELECT id, state, region FROM nodes``, one ``GROUP BY state`` over
instances, the live fleet's change-feed refresh (for workload statuses), and a pass over the
in-memory heartbeat book. ``bench/bench_metrics.py`` measures it at 10,000 nodes
(docs/benchmarks.md).

Each app gets its own :class:`ServerMetrics`: a :class:`~prometheus_client.CollectorRegistry`
holding its :class:`FleetCollector` and a view of the process-wide :data:`~.metrics.REGISTRY`,
so two apps in one process (the tests) never register the same name twice on one registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from edgeorch.domain.enums import InstanceState, NodeState
from edgeorch.observability.metrics import HEARTBEAT_LAG, REGISTRY
from edgeorch.placement.live import LiveFleet
from edgeorch.schemas.node import Node, Utilization
from edgeorch.store import Database
from edgeorch.store.sql.orm import InstanceRow, NodeRow

RESOURCES = ("cpu", "memory", "storage", "bandwidth")


UTILIZATION = "edgeorch_node_utilization_ratio"
_UTILIZATION_HEAD = (
    f"# HELP {UTILIZATION} Utilization (0..1) each ready node reported in its latest heartbeat, "
    f"by resource.\n# TYPE {UTILIZATION} gauge\n"
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@dataclass
class _Beat:
    at: datetime
    utilization: Utilization
    # The sample line up to the resource's value, formatted once per heartbeat.
    prefix: str


class HeartbeatBook:
    """The latest heartbeat this server received from each node: when, and the utilization."""

    def __init__(self) -> None:
        self._beats: dict[str, _Beat] = {}
        self._lock = threading.Lock()

    def record(self, node: Node, utilization: Utilization, at: datetime) -> float | None:
        """Note a heartbeat of ``node`` at ``at``; observes and returns the lag since the
        previous one (None for the first this process sees)."""
        labels = (
            f'node="{_escape(node.metadata.name)}",node_id="{_escape(node.metadata.id)}",'
            f'region="{_escape(node.spec.region)}"'
        )
        beat = _Beat(at, utilization, f"{UTILIZATION}{{{labels},resource=")
        with self._lock:
            previous = self._beats.get(node.metadata.id)
            self._beats[node.metadata.id] = beat
        if previous is None:
            return None
        lag = max(0.0, (at - previous.at).total_seconds())
        HEARTBEAT_LAG.observe(lag)
        return lag

    def entries(self, keep: set[str]) -> dict[str, _Beat]:
        """The beats of the nodes in ``keep``; forgets nodes that no longer exist."""
        with self._lock:
            for node_id in [n for n in self._beats if n not in keep]:
                del self._beats[node_id]
            return dict(self._beats)


class FleetCollector(Collector):
    """Scrape-time gauges of one app's fleet."""

    def __init__(
        self,
        database: Database,
        fleet: LiveFleet,
        book: HeartbeatBook,
        clock: Callable[[], datetime],
    ) -> None:
        self._database = database
        self._fleet = fleet
        self._book = book
        self._clock = clock
        # A ready node not heard since this server started counts as silent since the start:
        # a control-plane restart is not a node failure.
        self._started = clock()
        self.ready_beats: list[tuple[str, _Beat]] = []

    def collect(self) -> Iterator[Metric]:
        with self._database.session() as session:
            nodes = session.execute(select(NodeRow.id, NodeRow.state, NodeRow.region)).all()
            instances = session.execute(
                select(InstanceRow.state, func.count()).group_by(InstanceRow.state)
            ).all()
        ready = {row.id for row in nodes if row.state == NodeState.READY.value}
        beats = self._book.entries({row.id for row in nodes})
        yield _nodes_family([(row.state, row.region) for row in nodes])
        yield _instances_family([(state, int(count)) for state, count in instances])
        # Rendered by utilization_text(), after this collection.
        self.ready_beats = sorted((k, v) for k, v in beats.items() if k in ready)
        yield self._silence_family(ready, beats)
        yield self._unplaced_family()

    def _silence_family(self, ready: set[str], beats: dict[str, _Beat]) -> Metric:
        now = self._clock()
        oldest = max(
            ((now - (beats[n].at if n in beats else self._started)).total_seconds() for n in ready),
            default=0.0,
        )
        family = GaugeMetricFamily(
            "edgeorch_heartbeat_silence_max_seconds",
            "Longest time since the last heartbeat among nodes in state ready (0 without any).",
        )
        family.add_metric([], max(0.0, oldest))
        return family

    def _unplaced_family(self) -> Metric:
        workloads = self._fleet.view().workloads.values()
        missing = sum(
            max(0, w.status.desired_replicas - w.status.placed_replicas) for w in workloads
        )
        family = GaugeMetricFamily(
            "edgeorch_unplaced_replicas",
            "Replicas the workloads want that have no node, as of the last reconcile.",
        )
        family.add_metric([], float(missing))
        return family


def _nodes_family(rows: list[tuple[str, str]]) -> Metric:
    counts: dict[tuple[str, str], int] = {}
    for region in {region for _, region in rows}:
        for known in NodeState:  # every state per region, 0 included, so alerts see a series
            counts[(known.value, region)] = 0
    for state, region in rows:
        counts[(state, region)] = counts.get((state, region), 0) + 1
    family = GaugeMetricFamily(
        "edgeorch_nodes", "Registered nodes by health state and region.", labels=["state", "region"]
    )
    for (state, region), count in sorted(counts.items()):
        family.add_metric([state, region], float(count))
    return family


def _instances_family(rows: list[tuple[str, int]]) -> Metric:
    counts = {state.value: 0 for state in InstanceState}
    for state, count in rows:
        counts[state] = counts.get(state, 0) + count
    family = GaugeMetricFamily(
        "edgeorch_instances", "Instances (replicas) by actual state.", labels=["state"]
    )
    for state, count in sorted(counts.items()):
        family.add_metric([state], float(count))
    return family


def _utilization_lines(beats: list[tuple[str, _Beat]]) -> str:
    lines = [_UTILIZATION_HEAD]
    for _, beat in beats:
        u, prefix = beat.utilization, beat.prefix
        values = (u.cpu, u.memory, u.storage, u.bandwidth)
        lines.extend(
            f'{prefix}"{resource}"}} {float(value)!r}\n'
            for resource, value in zip(RESOURCES, values, strict=True)
        )
    return "".join(lines)


class _Shared(Collector):
    """The process-wide registry, seen from a per-app registry, with the counters and
    histograms of the controller process (``controllers/process.py``) added in when there is
    one: a family both processes have (placement decisions: the API's dry runs, the
    controllers' placements) is one family whose samples are the sums."""

    def __init__(self) -> None:
        self.child_dir: Path | None = None

    def collect(self) -> Iterator[Metric]:
        if self.child_dir is None:
            yield from REGISTRY.collect()
            return
        child = MultiProcessCollector(None, str(self.child_dir))  # type: ignore[no-untyped-call]
        families: Iterator[Metric] = child.collect()  # type: ignore[no-untyped-call]
        theirs = {f.name: f for f in families if f.type in ("counter", "histogram")}
        for family in REGISTRY.collect():
            other = theirs.pop(family.name, None)
            yield family if other is None else _merged(family, other)
        yield from theirs.values()


def _merged(ours: Metric, theirs: Metric) -> Metric:
    """``ours`` with each sample of ``theirs`` added to the sample of the same name and labels
    (or appended when ours has none)."""
    merged = Metric(ours.name, ours.documentation, ours.type, ours.unit)
    extra: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for sample in theirs.samples:
        key = (sample.name, tuple(sorted(sample.labels.items())))
        extra[key] = extra.get(key, 0.0) + sample.value
    for sample in ours.samples:
        key = (sample.name, tuple(sorted(sample.labels.items())))
        value = sample.value + extra.pop(key, 0.0)
        merged.add_sample(sample.name, sample.labels, value, sample.timestamp, sample.exemplar)
    for (name, labels), value in extra.items():
        merged.add_sample(name, dict(labels), value)
    return merged


class ServerMetrics:
    """One app's metrics: a registry with its fleet gauges and the process-wide counters, plus
    the per-node utilization, which is formatted here rather than by prometheus-client.

    Why: at 10,000 nodes that family is 40,000 samples, and building and formatting them
    through ``GaugeMetricFamily`` took over 1.5 s a scrape; lines whose label part is formatted
    once per heartbeat take a few tens of milliseconds (bench/metrics_scrape.py).
    """

    def __init__(self, collector: FleetCollector) -> None:
        self.collector = collector
        self.registry = CollectorRegistry(auto_describe=False)
        self._shared = _Shared()
        self.registry.register(self._shared)
        self.registry.register(collector)
        self._lock = threading.Lock()  # the utilization lines belong to the last collection

    def include_process(self, directory: Path) -> None:
        """Add the counters and histograms another process writes to ``directory``
        (prometheus-client's multiprocess files) to this app's exposition."""
        self._shared.child_dir = directory

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition for an ``Accept`` header, and its content type."""
        encoder, content_type = choose_encoder(accept)
        with self._lock:
            body = encoder(self.registry)
            extra = _utilization_lines(self.collector.ready_beats).encode()
        eof = b"# EOF\n"
        if body.endswith(eof):  # OpenMetrics ends with # EOF; the samples go before it
            return body[: -len(eof)] + extra + eof, content_type
        return body + extra, content_type
