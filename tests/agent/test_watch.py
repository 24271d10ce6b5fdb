"""The assignment watch answers at once on a difference and notices writes by polling."""

import asyncio
import threading
from pathlib import Path

from edgeorch.agent.watch import ChangeSignal, wait_for_assignments
from edgeorch.schemas.instance import InstanceSpec
from edgeorch.schemas.node import NodeCreate
from edgeorch.schemas.workload import WorkloadCreate
from edgeorch.store import (
    Database,
    create_instance,
    create_node,
    create_workload,
    default_sqlite_url,
)


def _node(db: Database) -> str:
    spec = {
        "edge_type": "mec",
        "region": "eu",
        "location": {"latitude": 1, "longitude": 2},
        "country": "DE",
        "capacity": {"cpu": 1, "memory_mb": 100},
    }
    with db.write() as session:
        node = create_node(
            session=session,
            node=NodeCreate.model_validate({"metadata": {"name": "n"}, "spec": spec}),
        )
    return node.metadata.id


def _assign(db: Database, node_id: str) -> None:
    body = {
        "metadata": {"name": "w"},
        "spec": {"runtime": "process", "artifact": {"command": ["x"]}},
    }
    with db.write() as session:
        workload = create_workload(session=session, workload=WorkloadCreate.model_validate(body))
        create_instance(
            session=session,
            spec=InstanceSpec(workload_id=workload.metadata.id, node_id=node_id, replica=0),
        )


def test_watch_times_out_then_sees_a_write_from_another_connection(tmp_path: Path) -> None:
    db = Database(default_sqlite_url(tmp_path))
    db.migrate()
    node_id = _node(db)
    signal = ChangeSignal()  # not attached: only the change-feed polling can notice the write

    async def scenario() -> None:
        first, changed = await wait_for_assignments(
            db, signal, node_id=node_id, digest=None, timeout=5
        )
        assert changed and first.items == []
        same, changed = await wait_for_assignments(
            db, signal, node_id=node_id, digest=first.digest, timeout=0.3
        )
        assert not changed and same.digest == first.digest
        other = Database(default_sqlite_url(tmp_path))
        threading.Timer(0.3, _assign, args=(other, node_id)).start()
        fresh, changed = await wait_for_assignments(
            db, signal, node_id=node_id, digest=first.digest, timeout=5, poll_interval=0.1
        )
        assert changed and len(fresh.items) == 1 and fresh.revision > first.revision

    asyncio.run(scenario())
