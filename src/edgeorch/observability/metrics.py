"""Process-wide Prometheus metrics of the control plane.

Counters and histograms that code all over the server increments live here, on ``REGISTRY``, a
registry this module owns (never prometheus_client's global one, so a library that registers
its own metrics there cannot collide with ours). They are created once, at import, so several
apps in one process (the tests) share them and never register a name twice; what is per app
(gauges computed at scrape time from the app's store and memory) lives in
:mod:`edgeorch.observability.collector`, on a registry of its own per app.

Naming follows the Prometheus conventions: ``edgeorch_`` prefix, base units (seconds),
``_total`` for counters. Label values come from closed vocabularies (placement filter names,
route templates, enum values), so the number of series stays bounded.
"""

from __future__ import annotations

import gc
import os
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)

from edgeorch import __version__

if TYPE_CHECKING:  # placement imports this module to count its decisions
    from edgeorch.placement.explain import Decision

# ``*_created`` series double the series count and Prometheus does not use them.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

# Migration downtime is milliseconds for a live migration and seconds for a cold one.
MIGRATION_DOWNTIME_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
# A decision over 10,000 nodes takes a few milliseconds; a batch of a whole fleet, seconds.
DECISION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip
# Agents heartbeat every 5 s by default; nodes turn suspect after 15 s and down after 30 s.
HEARTBEAT_LAG_BUCKETS = (0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0)
HTTP_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip

# Placement modes: ``place`` decisions reserve capacity (the workload controller's
# ``place_batch``); ``dry_run`` ones only answer a question (``analyze``, ``plan``).
MODE_PLACE = "place"
MODE_DRY_RUN = "dry_run"

BUILD_INFO = Gauge(
    "edgeorch_build_info",
    "Always 1; the version label says which edgeorch serves these metrics.",
    ["version"],
    registry=REGISTRY,
)
BUILD_INFO.labels(version=__version__).set(1)

MIGRATIONS = Counter(
    "edgeorch_migrations_total",
    "Instance migrations by type (live, cold, snapshot) and result (succeeded, failed, "
    "rolled_back).",
    ["type", "result"],
    registry=REGISTRY,
)

MIGRATION_DOWNTIME = Histogram(
    "edgeorch_migration_downtime_seconds",
    "Time an instance served no traffic during a migration, by migration type.",
    ["type"],
    buckets=MIGRATION_DOWNTIME_BUCKETS,
    registry=REGISTRY,
)

PLACEMENT_DECISIONS = Counter(
    "edgeorch_placement_decisions_total",
    "Placement decisions (one per workload per request) by mode (place, dry_run) and result "
    "(placed: every replica found a node, partial: some did, unplaceable: none did).",
    ["mode", "result"],
    registry=REGISTRY,
)

PLACEMENT_DECISION_SECONDS = Histogram(
    "edgeorch_placement_decision_seconds",
    "Time to filter, score and select nodes for one workload's replicas, by mode.",
    ["mode"],
    buckets=DECISION_BUCKETS,
    registry=REGISTRY,
)

UNPLACEABLE = Counter(
    "edgeorch_unplaceable_total",
    "Placements (mode place) that left replicas without a node, once per blocking constraint: "
    "a filter name whose relaxation alone would free nodes, 'combined' when no single one "
    "would, 'fleet' when there are no nodes.",
    ["reason"],
    registry=REGISTRY,
)

EVENT_LOOP_LAG = Histogram(
    "edgeorch_event_loop_lag_seconds",
    "How late the API server's event loop ran a 100 ms timer (heartbeats wait this long to be "
    "read); sampled ten times a second.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
GC_PAUSE = Histogram(
    "edgeorch_python_gc_pause_seconds",
    "How long each of Python's cyclic garbage collections stopped a process (every thread), "
    "by process (server, controllers) and generation; a generation-2 collection walks every "
    "tracked object of the heap.",
    ["process", "generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)


def _time_collections() -> None:
    """Observe every collection's pause in ``GC_PAUSE`` (``gc.callbacks``; once per process)."""
    # The controller process is the one started with a multiprocess directory
    # (controllers/process.py); its samples are added to the server's exposition.
    process = "controllers" if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else "server"
    pauses = [GC_PAUSE.labels(process, str(generation)) for generation in range(3)]
    started = 0.0

    def callback(phase: str, info: dict[str, Any]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            pauses[info["generation"]].observe(time.perf_counter() - started)

    gc.callbacks.append(callback)


_time_collections()
HEARTBEAT_LAG = Histogram(
    "edgeorch_heartbeat_lag_seconds",
    "Time since the same node's previous heartbeat, observed at each heartbeat this server "
    "receives (the first one after a server start is not observed).",
    buckets=HEARTBEAT_LAG_BUCKETS,
    registry=REGISTRY,
)

HTTP_REQUEST_DURATION = Histogram(
    "edgeorch_http_request_duration_seconds",
    "API request duration by method, route template (never the raw path) and status code.",
    ["method", "route", "status"],
    buckets=HTTP_BUCKETS,
    registry=REGISTRY,
)


def decision_result(decision: Decision) -> str:
    """``placed``, ``partial`` or ``unplaceable``."""
    if decision.ok:
        return "placed"
    return "partial" if decision.placed else "unplaceable"


def observe_decision(decision: Decision, mode: str) -> None:
    """Count one engine decision; decisions with nothing to place are not counted."""
    if decision.requested <= 0:
        return
    result = decision_result(decision)
    PLACEMENT_DECISIONS.labels(mode=mode, result=result).inc()
    PLACEMENT_DECISION_SECONDS.labels(mode=mode).observe(decision.decision_ms / 1000.0)
    if mode == MODE_PLACE and result != "placed":
        for reason in decision.blocking or ("combined",):
            UNPLACEABLE.labels(reason=reason).inc()
