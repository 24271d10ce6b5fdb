"""The agent's own Prometheus metrics, served on its ingress listener at ``/metrics``.

Every agent has its own registry (:class:`AgentMetrics`), so several agents in one process
(tests, ``edgeorch up``) never share or collide. Instances by state are read at scrape time
from the supervisor's reports; the rest is counted as it happens:

- driver start latency per runtime (:class:`TimedDriver` wraps each driver; ``restore`` from a
  snapshot counts as a start too), and failed starts;
- ingress request duration per workload and status (requests for a workload with no running
  replica here are counted apart, without the name, so probing names cannot grow the series);
- heartbeat round trips and failures, assignment polls by result, control-plane reachability.

``/metrics`` on the ingress needs no token (Prometheus cannot hold node credentials); it tells
only this node's counts and workload names, the same names ``/w/<name>`` already answers for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edgeorch import __version__
from edgeorch.agent.drivers import (
    Driver,
    DriverError,
    DriverFingerprint,
    HttpHandler,
    TaskHandle,
    TaskSpec,
    TaskStatus,
)
from edgeorch.agent.protocol import InstanceReport
from edgeorch.domain.enums import InstanceState

START_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REQUEST_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
HEARTBEAT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Reports = Callable[[], list[InstanceReport]]


class HttpDriver(Driver, HttpHandler, Protocol):
    """A driver that serves HTTP in-process."""


NodeName = Callable[[], tuple[str, str]]


class _InstancesCollector(Collector):
    """``edgeorch_agent_instances{state}`` and ``edgeorch_agent_info``, read at scrape time."""

    def __init__(self, reports: Reports, node: NodeName) -> None:
        self._reports = reports
        self._node = node

    def collect(self) -> Iterator[Metric]:
        counts = {state.value: 0 for state in InstanceState}
        for report in self._reports():
            counts[report.state.value] += 1
        instances = GaugeMetricFamily(
            "edgeorch_agent_instances",
            "Instances assigned to this node by the state the agent observes.",
            labels=["state"],
        )
        for state, count in sorted(counts.items()):
            instances.add_metric([state], float(count))
        yield instances
        name, node_id = self._node()
        info = GaugeMetricFamily(
            "edgeorch_agent_info",
            "Always 1; the labels say which agent version runs as which node (empty before it "
            "has joined).",
            labels=["version", "node", "node_id"],
        )
        info.add_metric([__version__, name, node_id], 1.0)
        yield info


class AgentMetrics:
    """One agent's metrics on a registry of its own."""

    def __init__(self, reports: Reports, node: NodeName) -> None:
        self.registry = CollectorRegistry(auto_describe=False)  # collect() only when scraped
        ProcessCollector(registry=self.registry)
        self.registry.register(_InstancesCollector(reports, node))
        r = self.registry
        self.driver_start = Histogram(
            "edgeorch_agent_driver_start_seconds",
            "Time a driver took to start (or restore) a task, by runtime.",
            ["runtime"],
            buckets=START_BUCKETS,
            registry=r,
        )
        self.driver_start_failures = Counter(
            "edgeorch_agent_driver_start_failures_total",
            "Task starts (or restores) the driver refused, by runtime.",
            ["runtime"],
            registry=r,
        )
        self.ingress_duration = Histogram(
            "edgeorch_agent_ingress_request_duration_seconds",
            "Requests the ingress served for a workload running here, by workload and status.",
            ["workload", "status"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.ingress_unrouted = Counter(
            "edgeorch_agent_ingress_unrouted_total",
            "Requests for a workload with no running replica on this node (answered 503).",
            registry=r,
        )
        self.heartbeat_duration = Histogram(
            "edgeorch_agent_heartbeat_duration_seconds",
            "Round trip of heartbeats the control plane acknowledged.",
            buckets=HEARTBEAT_BUCKETS,
            registry=r,
        )
        self.heartbeat_failures = Counter(
            "edgeorch_agent_heartbeat_failures_total",
            "Heartbeats that failed: unreachable (network, timeout, 5xx) or refused (4xx).",
            ["reason"],
            registry=r,
        )
        self.assignment_polls = Counter(
            "edgeorch_agent_assignment_polls_total",
            "Assignment long-polls by result: changed, unchanged or error.",
            ["result"],
            registry=r,
        )
        self.reachable = Gauge(
            "edgeorch_agent_control_plane_reachable",
            "1 while the last call to the control plane succeeded, else 0.",
            registry=r,
        )
        self.reachable.set(1)

    def observe_ingress(self, workload: str, status: int, seconds: float) -> None:
        """One request served for ``workload``."""
        self.ingress_duration.labels(workload, str(status)).observe(seconds)

    def timed(self, drivers: dict[str, Driver]) -> dict[str, Driver]:
        """``drivers`` with their starts timed."""
        return {name: timed_driver(driver, self) for name, driver in drivers.items()}


def timed_driver(driver: Driver, metrics: AgentMetrics) -> Driver:
    """``driver`` with ``start`` and ``restore`` timed; an in-process HTTP server stays one."""
    if isinstance(driver, HttpHandler):
        return TimedHttpDriver(driver, metrics)
    return TimedDriver(driver, metrics)


class TimedDriver:
    """A driver whose ``start`` and ``restore`` are timed; every other call goes straight to
    the driver. The protocol's methods are spelled out, not left to ``__getattr__``, because
    ``isinstance`` against a runtime protocol looks them up statically (Python 3.12+)."""

    def __init__(self, driver: Driver, metrics: AgentMetrics) -> None:
        self._driver = driver
        self._metrics = metrics

    @property
    def name(self) -> str:
        return self._driver.name

    def fingerprint(self) -> DriverFingerprint:
        return self._driver.fingerprint()

    def start(self, task: TaskSpec) -> TaskHandle:
        return self._timed(lambda: self._driver.start(task))

    def restore(self, task: TaskSpec, snapshot: bytes) -> TaskHandle:
        return self._timed(lambda: self._driver.restore(task, snapshot))

    def stop(self, task_id: str, timeout: float = 10.0) -> None:
        self._driver.stop(task_id, timeout)

    def status(self, task_id: str) -> TaskStatus:
        return self._driver.status(task_id)

    def recover(self, handle: TaskHandle) -> bool:
        return self._driver.recover(handle)

    def logs(self, task_id: str, tail: int = 100) -> list[str]:
        return self._driver.logs(task_id, tail)

    def snapshot(self, task_id: str) -> bytes:
        return self._driver.snapshot(task_id)

    def _timed(self, call: Callable[[], TaskHandle]) -> TaskHandle:
        runtime = self._driver.name
        started = time.perf_counter()
        try:
            handle = call()
        except DriverError:
            self._metrics.driver_start_failures.labels(runtime).inc()
            raise
        self._metrics.driver_start.labels(runtime).observe(time.perf_counter() - started)
        return handle

    def __getattr__(self, attribute: str) -> Any:
        # Driver-specific extras beyond the protocol.
        return getattr(self._driver, attribute)


class TimedHttpDriver(TimedDriver):
    """A timed driver that also serves HTTP in-process (``wasm``)."""

    def __init__(self, driver: HttpDriver, metrics: AgentMetrics) -> None:
        super().__init__(driver, metrics)
        self._http = driver

    def handle_http(
        self, task_id: str, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        return self._http.handle_http(task_id, method, path, headers, body)
