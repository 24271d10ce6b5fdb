"""One node-lifecycle pass over a healthy fleet, in memory (``controllers/nodes.py``).

Builds N ready nodes (``edgeorch.sim.fleet``) heard from a second ago, then times
``lifecycle_plan`` and ``note_applied`` as ``NodeLifecycle.node_pass`` calls them twice a second
in the API server, with a handful of nodes changed since the last pass (persisted heartbeats).

Usage: PYTHONPATH=. .venv/bin/python bench/lifecycle_pass.py [--nodes 10000] [--changed 20]
"""

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from edgeorch.agent.presence import Presence
from edgeorch.controllers.nodes import NodeTracker, lifecycle_plan, note_applied
from edgeorch.controllers.settings import ControllerSettings
from edgeorch.domain.enums import NodeState
from edgeorch.schemas.envelope import Metadata
from edgeorch.schemas.node import Node, NodeStatus
from edgeorch.sim.fleet import generate_fleet


def main() -> None:
    """Print the median and the fastest of 50 passes, whole and by part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=20, help="nodes changed between passes")
    args = parser.parse_args()
    now = datetime.now(UTC)
    nodes: dict[str, Node] = {}
    for i, sim in enumerate(generate_fleet(args.nodes, ["us-west", "us-east", "eu-west"], seed=1)):
        node_id = f"n{i:06d}"
        meta = Metadata(
            id=node_id, name=sim.name, tenant="default", resource_version=i,
            created_at=now, updated_at=now,
        )  # fmt: skip
        status = NodeStatus(state=NodeState.READY, joined_at=now - timedelta(hours=1))
        nodes[node_id] = Node(metadata=meta, spec=sim.node.spec, status=status)
    presence = Presence(persist_interval=300)
    for node_id in nodes:
        presence.seen(node_id, now)
    tracker = NodeTracker(started=now - timedelta(hours=1))
    settings = ControllerSettings()
    later = now + timedelta(seconds=1)
    changed = list(nodes)[: args.changed]
    tracker.note_changed(None)
    note_applied(
        tracker,
        frozenset(),
        nodes,
        lifecycle_plan(nodes, tracker, presence.last_seen, later, settings, 1)[0],
    )
    plans, notes = [], []
    for _ in range(50):
        started = time.perf_counter()
        plan, cut = lifecycle_plan(nodes, tracker, presence.lookup(), later, settings, 1)
        planned = time.perf_counter()
        tracker.note_changed(changed)
        note_applied(tracker, cut, nodes, plan)
        plans.append(planned - started)
        notes.append(time.perf_counter() - planned)
    whole = [a + b for a, b in zip(plans, notes, strict=True)]
    for name, times in (("lifecycle_plan", plans), ("note_applied", notes), ("whole pass", whole)):
        print(f"{name}: median {statistics.median(times) * 1e3:.2f} ms, "
              f"fastest {min(times) * 1e3:.2f} ms ({args.nodes} nodes)")  # fmt: skip


if __name__ == "__main__":
    main()
