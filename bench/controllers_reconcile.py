"""Benchmark: reconciler throughput at 10,000 workloads.

Run: ``.venv/bin/python bench/controllers_reconcile.py [--workloads 10000] [--nodes 1000]``.
Two numbers: the pure reconcile function over every workload (2 running replicas each, one
node down so some are lost), and one full controller pass on a SQLite store that places one
replica of each workload and applies the plan in one transaction.
"""

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edgeorch.controllers import ControllerManager, ControllerSettings, NodeView
from edgeorch.controllers.reconcile import reconcile_workload
from edgeorch.domain.enums import NodeState
from edgeorch.placement.live import LiveFleet
from edgeorch.schemas.envelope import Metadata
from edgeorch.schemas.instance import Instance, InstanceSpec, InstanceStatus
from edgeorch.schemas.node import NodeCreate
from edgeorch.schemas.workload import Workload, WorkloadCreate, WorkloadSpec, WorkloadStatus
from edgeorch.store import Database, create_node, create_workload, default_sqlite_url

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SPEC = WorkloadSpec.model_validate(
    {"runtime": "process", "artifact": {"command": ["true"]}, "replicas": 2}
)


def _meta(object_id: str) -> Metadata:
    return Metadata(
        id=object_id, name=object_id, tenant="default", resource_version=1,
        created_at=T0, updated_at=T0,
    )  # fmt: skip


def pure(workloads: int, nodes: int) -> float:
    """Seconds to reconcile every workload once."""
    views = {f"n{i}": NodeView(f"n{i}", NodeState.READY) for i in range(nodes)}
    views["n0"] = NodeView("n0", NodeState.DOWN, down_since=T0)
    items = []
    for w in range(workloads):
        wl = Workload(metadata=_meta(f"w{w}"), spec=SPEC, status=WorkloadStatus())
        insts = [
            Instance(
                metadata=_meta(f"w{w}-{r}"),
                spec=InstanceSpec(workload_id=f"w{w}", node_id=f"n{(w + r) % nodes}", replica=r),
                status=InstanceStatus(state="running", score=0.5),
            )
            for r in range(2)
        ]
        items.append((wl, insts))
    now = T0 + timedelta(minutes=5)
    start = time.perf_counter()
    for wl, insts in items:
        reconcile_workload(wl, insts, views, now)
    return time.perf_counter() - start


def applied(workloads: int, nodes: int) -> tuple[float, float]:
    """Seconds to set up, and seconds of one controller pass placing one replica each."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(default_sqlite_url(Path(tmp)))
        db.migrate()
        with db.write() as s:
            for i in range(nodes):
                body = {
                    "metadata": {"name": f"n{i}"},
                    "spec": {
                        "edge_type": "mec", "region": f"r{i % 10}", "country": "DE",
                        "location": {"latitude": 40 + i % 20, "longitude": i % 30},
                        "capacity": {"cpu": 64, "memory_mb": 262144},
                    },
                }  # fmt: skip
                create_node(session=s, node=NodeCreate.model_validate(body), state=NodeState.READY)
            for w in range(workloads):
                spec = {"runtime": "process", "artifact": {"command": ["true"]}, "replicas": 1}
                create_workload(
                    session=s,
                    workload=WorkloadCreate.model_validate(
                        {"metadata": {"name": f"w{w}"}, "spec": spec}
                    ),
                )
        manager = ControllerManager(db, LiveFleet(db), lambda _: None, ControllerSettings())
        start = time.perf_counter()
        manager.workloads.run_once()
        elapsed = time.perf_counter() - start
        start = time.perf_counter()
        manager.workloads.run_once()  # steady state: nothing to do
        idle = time.perf_counter() - start
        manager.stop()
        db.dispose()
        return elapsed, idle


def main() -> None:
    """Print a markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--workloads", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=1000)
    args = parser.parse_args()
    seconds = pure(args.workloads, args.nodes)
    placed, idle = applied(args.workloads, args.nodes)
    n = args.workloads
    print("| step | workloads | seconds | workloads/s |")
    print("|---|---:|---:|---:|")
    print(f"| reconcile (pure, 2 replicas each) | {n} | {seconds:.3f} | {n / seconds:,.0f} |")
    print(f"| pass: place + apply 1 replica each | {n} | {placed:.3f} | {n / placed:,.0f} |")
    print(f"| pass: steady state (nothing to do) | {n} | {idle:.3f} | {n / idle:,.0f} |")


if __name__ == "__main__":
    main()
