"""Benchmark: what one idle pass of each periodic controller costs at 10,000 nodes + workloads.

Run: ``.venv/bin/python bench/controllers_idle.py [--nodes 10000] [--workloads 10000]
[--repeat 200]``.

Builds a SQLite store in a temporary directory through the store functions (one transaction
per kind): ``--nodes`` ready nodes in 20 regions, ``--workloads`` workloads of one replica each
(one in ten autoscaled on CPU at its 70 % target, one in ten with users and a latency SLA),
and one running instance per workload bound to a node. Then it constructs the server's controllers
(:class:`~edgeorch.controllers.manager.ControllerManager`, which holds the operations
controllers and the alert engine) and times, after one warm-up pass each:

- **idle**: a pass with nothing changed since the previous one;
- **churn**: a pass after ``--churn`` node status writes (333: what 10,000 agents persisting
  every 30 s write in one second; 33: every 300 s, the default since 2026-11-22) and a tenth as
  many instance status writes.

Rows: the operations pass (rollbacks + autoscaler + drain watcher, as the manager's
``operations`` thread runs it every second), each of its three parts, one alert evaluation
(every 5 s), one scrape-time collection of the fleet gauges (``/metrics``), and the passes that
wake on changes: the workload reconciler, the node lifecycle, the migration controller (steps and
evacuation of draining nodes), and the placement snapshot's refresh.
Prints a markdown table of median and p99 milliseconds.
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from edgeorch.controllers import ControllerManager, ControllerSettings
from edgeorch.domain.enums import InstanceState, NodeState
from edgeorch.observability.collector import FleetCollector, HeartbeatBook
from edgeorch.placement.live import LiveFleet
from edgeorch.schemas.instance import InstanceSpec, InstanceStatus
from edgeorch.schemas.node import NodeCreate, Utilization
from edgeorch.schemas.workload import WorkloadCreate
from edgeorch.store import (
    Database,
    create_instance,
    create_node,
    create_workload,
    default_sqlite_url,
    read_instance,
    read_node,
    update_instance_status,
    update_node_status,
)

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def build(db: Database, nodes: int, workloads: int) -> tuple[list[str], list[str]]:
    """Create the fleet; returns the node ids and instance ids."""
    node_ids: list[str] = []
    with db.write() as s:
        for i in range(nodes):
            body = {
                "metadata": {"name": f"n{i:05d}"},
                "spec": {
                    "edge_type": "mec", "region": f"r{i % 20}", "country": "DE",
                    "location": {"latitude": 40 + i % 20, "longitude": i % 30},
                    "capacity": {"cpu": 64, "memory_mb": 262144},
                },
            }  # fmt: skip
            node = create_node(
                session=s, node=NodeCreate.model_validate(body), state=NodeState.READY
            )
            node_ids.append(node.metadata.id)
    instance_ids: list[str] = []
    with db.write() as s:
        for w in range(workloads):
            spec: dict[str, object] = {
                "runtime": "process",
                "artifact": {"command": ["true"]},
                "resources": {"cpu": 1.0, "memory_mb": 64},
            }
            if w % 10 == 1:
                spec["scaling"] = {"min": 1, "max": 5, "target_cpu_utilization": 70}
            else:
                spec["replicas"] = 1
            if w % 10 == 2:
                spec["placement"] = {
                    "users": [{"latitude": 48.8, "longitude": 2.3, "weight": 1}],
                    "max_latency_ms": 500,
                }
            workload = create_workload(
                session=s,
                workload=WorkloadCreate.model_validate(
                    {"metadata": {"name": f"w{w:05d}"}, "spec": spec}
                ),
            )
            instance = create_instance(
                session=s,
                spec=InstanceSpec(
                    workload_id=workload.metadata.id, node_id=node_ids[w % nodes], replica=0
                ),
                # 70 % of the request: autoscaled workloads sit at their target (idle).
                status=InstanceStatus(state=InstanceState.RUNNING, cpu_cores=0.7),
            )
            instance_ids.append(instance.metadata.id)
    return node_ids, instance_ids


def churn(db: Database, node_ids: list[str], instance_ids: list[str], n: int, k: int) -> None:
    """``n`` node status writes and ``n // 10`` instance status writes, as heartbeats do."""
    with db.write() as s:
        for j in range(n):
            node_id = node_ids[(k * n + j) % len(node_ids)]
            node = read_node(session=s, ref=node_id, tenant=None)
            status = node.status.model_copy(
                update={"utilization": Utilization(cpu=(k % 7) / 10, memory=0.2)}
            )
            update_node_status(session=s, node_id=node_id, status=status)
        for j in range(n // 10):
            instance_id = instance_ids[(k * n + j) % len(instance_ids)]
            inst = read_instance(session=s, ref=instance_id, tenant=None)
            usage = inst.status.model_copy(update={"cpu_cores": 0.7 + (k % 3) / 100})
            update_instance_status(session=s, instance_id=instance_id, status=usage)


def timed(step: Callable[[], object], repeat: int, before: Callable[[int], None]) -> list[float]:
    """Milliseconds of ``repeat`` calls of ``step``, each after ``before(k)`` (not timed)."""
    out = []
    for k in range(repeat):
        before(k)
        start = time.perf_counter()
        step()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p99(values: list[float]) -> float:
    """The 99th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> None:
    """Print a markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--workloads", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--churn", type=int, default=333)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(default_sqlite_url(Path(tmp)), clock=lambda: NOW)
        db.migrate()
        start = time.perf_counter()
        node_ids, instance_ids = build(db, args.nodes, args.workloads)
        print(f"built in {time.perf_counter() - start:.1f} s")
        fleet = LiveFleet(db)
        manager = ControllerManager(db, fleet, lambda _: NOW, ControllerSettings(), lambda: NOW)
        collector = FleetCollector(db, fleet, HeartbeatBook(), lambda: NOW)
        steps: list[tuple[str, Callable[[], object]]] = [
            ("operations pass (all three)", manager.operations_pass),
            ("  rollbacks", manager.rollouts.run_once),
            ("  autoscaler", manager.autoscaler.run_once),
            ("  drain watcher", manager.drains.run_once),
            ("alert evaluation", manager.alerts.evaluate_once),
            ("metrics collection (scrape)", lambda: list(collector.collect())),
            ("workload reconcile pass", manager.workloads.run_once),
            ("node lifecycle pass", manager.node_pass),
            ("migration pass (steps + evacuation)", manager.migrations.controller.run_once),
            ("placement snapshot refresh (LiveFleet.view)", fleet.view),
        ]
        rows = []
        for name, step in steps:
            start = time.perf_counter()
            step()  # warm-up: the first pass reads what it keeps in memory
            first = (time.perf_counter() - start) * 1000
            while step == manager.workloads.run_once and manager.workloads.backlog:
                step()  # the first passes reconcile every workload, 500 per pass
            idle = timed(step, args.repeat, lambda _k: None)
            busy_repeat = max(3, args.repeat // 10)
            busy = timed(
                step,
                busy_repeat,
                lambda k: churn(db, node_ids, instance_ids, args.churn, k),
            )
            rows.append((name, first, idle, busy))
            print(f"{name.strip()}: done", flush=True)
        manager.stop()
        db.dispose()
    print()
    print(f"{args.nodes} nodes, {args.workloads} workloads, {len(instance_ids)} instances")
    print(
        f"| pass | first (ms) | idle median (ms) | idle p99 (ms) | "
        f"after {args.churn} node + {args.churn // 10} instance writes: median (ms) | p99 (ms) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, first, idle, busy in rows:
        print(
            f"| {name.strip()} | {first:.0f} | {statistics.median(idle):.2f} | {p99(idle):.2f} | "
            f"{statistics.median(busy):.2f} | {p99(busy):.2f} |"
        )


if __name__ == "__main__":
    main()
