"""Benchmark: node death -> its replicas placed elsewhere, with short and default grace.

Run: ``.venv/bin/python bench/controllers_failover.py [--skip-default]``. In-process: the real
controller manager threads over a SQLite store and a real clock; heartbeats are simulated by
updating the presence every 0.5 s for the live nodes. The dead node stops beating at t = 0;
the time is until every one of its replicas has a replacement bound to another node
(``down_after + lost_after`` is the floor). With agents, start-up of the replacement adds the
driver's start time (see ``tests/integration/test_fault_agents.py`` for the end-to-end path).
"""

import argparse
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from edgeorch.controllers import ControllerManager, ControllerSettings
from edgeorch.domain.enums import NodeState
from edgeorch.placement.live import LiveFleet
from edgeorch.schemas.node import NodeCreate
from edgeorch.schemas.workload import WorkloadCreate
from edgeorch.store import (
    Database,
    create_node,
    create_workload,
    default_sqlite_url,
    list_instances,
)


def _node(name: str) -> NodeCreate:
    return NodeCreate.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "edge_type": "mec", "region": "eu", "country": "DE",
                "location": {"latitude": 50, "longitude": 8},
                "capacity": {"cpu": 64, "memory_mb": 262144},
            },
        }
    )  # fmt: skip


def trial(settings: ControllerSettings, lost_after: float, replicas: int = 20) -> float:
    """Seconds from the last heartbeat of a node to all its replicas re-placed."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(default_sqlite_url(Path(tmp)))
        db.migrate()
        with db.write() as s:
            ids = [
                create_node(session=s, node=_node(f"n{i}"), state=NodeState.READY).metadata.id
                for i in range(5)
            ]
            spec = {
                "runtime": "process", "artifact": {"command": ["true"]}, "replicas": replicas,
                "disconnect": {"lost_after": lost_after},
            }  # fmt: skip
            create_workload(
                session=s,
                workload=WorkloadCreate.model_validate({"metadata": {"name": "web"}, "spec": spec}),
            )
        seen: dict[str, datetime] = {}
        alive = set(ids)
        stop = threading.Event()

        def beat() -> None:
            while not stop.is_set():
                for node_id in list(alive):
                    seen[node_id] = datetime.now(UTC)
                stop.wait(0.5)

        threading.Thread(target=beat, daemon=True).start()
        manager = ControllerManager(db, LiveFleet(db), seen.get, settings)
        manager.start()
        time.sleep(1.0)
        dead = ids[0]
        alive.discard(dead)
        t0 = time.monotonic()

        def moved() -> bool:
            with db.session() as s:
                items = list_instances(session=s, tenant=None, limit=1000).items
            live = [i for i in items if i.spec.desired_state == "running"]
            on_dead = [i for i in live if i.spec.node_id == dead]
            replaced = {i.status.explanation.get("replaces") for i in live}
            return bool(on_dead) and all(i.metadata.id in replaced for i in on_dead)

        while not moved():
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        stop.set()
        manager.stop()
        db.dispose()
        return elapsed


def main() -> None:
    """Print a markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-default", action="store_true")
    args = parser.parse_args()
    cases = [
        (
            "2 s grace (suspect 1 s, down 2 s, lost_after 0)",
            ControllerSettings(suspect_after=1, down_after=2, node_tick=0.25),
            0.0,
        )
    ]
    if not args.skip_default:
        cases.append(
            ("default (suspect 15 s, down 30 s, lost_after 30 s)", ControllerSettings(), 30.0)
        )
    print("| setting | floor (down + lost_after) s | measured s |")
    print("|---|---:|---:|")
    for label, settings, lost in cases:
        seconds = trial(settings, lost)
        print(f"| {label} | {settings.down_after + lost:g} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
