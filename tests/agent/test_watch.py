"""The assignment watch: one hub per process answers at once on a difference, notices writes by
other processes by polling, and wakes only the nodes a change concerns."""

import asyncio
import threading
import time
from pathlib import Path

import pytest

from edgeorch.agent import watch
from edgeorch.agent.watch import AssignmentHub, wait_for_assignments
from edgeorch.domain.enums import InstanceState
from edgeorch.schemas.instance import InstanceSpec
from edgeorch.schemas.node import NodeCreate
from edgeorch.schemas.workload import WorkloadCreate
from edgeorch.store import (
    Assignments,
    Database,
    create_instance,
    create_node,
    create_workload,
    default_sqlite_url,
    scale_workload,
    update_instance_status,
)


def _node(db: Database, name: str = "n") -> str:
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
            node=NodeCreate.model_validate({"metadata": {"name": name}, "spec": spec}),
        )
    return node.metadata.id


def _assign(db: Database, node_id: str, name: str = "w") -> None:
    body = {
        "metadata": {"name": name},
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
    hub = AssignmentHub(db, poll_interval=0.1, hint_interval=None)

    async def scenario() -> None:
        first, changed = await wait_for_assignments(
            db, hub, node_id=node_id, digest=None, timeout=5
        )
        assert changed and first.items == []
        same, changed = await wait_for_assignments(
            db, hub, node_id=node_id, digest=first.digest, timeout=0.3
        )
        assert not changed and same.digest == first.digest
        # Another Database (engine): its commits do not reach this hub's commit hook, so only
        # the hub's feed polling can notice the write.
        other = Database(default_sqlite_url(tmp_path))
        threading.Timer(0.3, _assign, args=(other, node_id)).start()
        started = time.monotonic()
        fresh, changed = await wait_for_assignments(
            db, hub, node_id=node_id, digest=first.digest, timeout=5
        )
        assert changed and len(fresh.items) == 1 and fresh.revision > first.revision
        assert time.monotonic() - started < 2

    try:
        asyncio.run(scenario())
    finally:
        hub.close()


def test_sqlite_commit_counter_notices_another_connection_without_feed_polls(
    tmp_path: Path,
) -> None:
    db = Database(default_sqlite_url(tmp_path))
    db.migrate()
    node_id = _node(db)
    # The feed is read only when PRAGMA data_version moves (or once a second): a write by
    # another engine, which no commit hook of this one sees, is noticed within milliseconds.
    hub = AssignmentHub(db, poll_interval=30, hint_interval=0.005)
    feed_reads = 0
    step = hub.step

    def counted_step() -> None:
        nonlocal feed_reads
        feed_reads += 1
        step()

    hub.step = counted_step  # type: ignore[method-assign]

    async def scenario() -> None:
        first, _ = await wait_for_assignments(db, hub, node_id=node_id, digest=None, timeout=0)
        quiet_since = feed_reads
        _, changed = await wait_for_assignments(
            db, hub, node_id=node_id, digest=first.digest, timeout=0.5
        )
        assert not changed
        # 0.5 s of 5 ms hints with nothing committed: at most the once-a-second safety read.
        assert feed_reads - quiet_since <= 1
        other = Database(default_sqlite_url(tmp_path))
        threading.Timer(0.2, _assign, args=(other, node_id)).start()
        started = time.monotonic()
        fresh, changed = await wait_for_assignments(
            db, hub, node_id=node_id, digest=first.digest, timeout=5
        )
        assert changed and len(fresh.items) == 1
        assert time.monotonic() - started < 0.2 + 0.5
        other.dispose()

    try:
        asyncio.run(scenario())
    finally:
        hub.close()


def test_a_write_by_this_process_wakes_only_the_node_it_concerns(tmp_path: Path) -> None:
    db = Database(default_sqlite_url(tmp_path))
    db.migrate()
    busy, idle = _node(db, "busy"), _node(db, "idle")
    # no polling: only the commit hook wakes the hub
    hub = AssignmentHub(db, poll_interval=30, hint_interval=None)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        base = {}
        for node in (busy, idle):
            base[node], _ = await wait_for_assignments(
                db, hub, node_id=node, digest=None, timeout=0
            )
        idle_wait = asyncio.create_task(
            wait_for_assignments(db, hub, node_id=idle, digest=base[idle].digest, timeout=1.5)
        )
        started = loop.time()
        loop.call_later(0.2, _assign, db, busy)
        fresh, changed = await wait_for_assignments(
            db, hub, node_id=busy, digest=base[busy].digest, timeout=5
        )
        assert changed and len(fresh.items) == 1
        assert loop.time() - started < 1.0
        same, changed = await idle_wait
        assert not changed and same.digest == base[idle].digest

    try:
        asyncio.run(scenario())
    finally:
        hub.close()


def test_status_writes_wake_nobody_and_spec_changes_do(tmp_path: Path) -> None:
    db = Database(default_sqlite_url(tmp_path))
    db.migrate()
    node = _node(db)
    _assign(db, node)
    hub = AssignmentHub(db, poll_interval=30, hint_interval=None)

    async def scenario() -> None:
        base, _ = await wait_for_assignments(db, hub, node_id=node, digest=None, timeout=0)
        instance = base.items[0].instance
        workload = base.items[0].workload

        def report_running() -> None:
            with db.write() as session:
                update_instance_status(
                    session=session,
                    instance_id=instance.metadata.id,
                    status=instance.status.model_copy(update={"state": InstanceState.RUNNING}),
                )

        def scale() -> None:
            with db.write() as session:
                scale_workload(session=session, ref=workload.metadata.id, tenant=None, replicas=3)

        loop = asyncio.get_running_loop()
        loop.call_later(0.1, report_running)
        _, changed = await wait_for_assignments(
            db, hub, node_id=node, digest=base.digest, timeout=0.8
        )
        assert not changed
        loop.call_later(0.1, scale)
        fresh, changed = await wait_for_assignments(
            db, hub, node_id=node, digest=base.digest, timeout=5
        )
        assert changed and fresh.items[0].workload.spec.replicas == 3

    try:
        asyncio.run(scenario())
    finally:
        hub.close()


def test_a_watch_answers_from_the_kept_set_until_a_change_concerns_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(default_sqlite_url(tmp_path))
    db.migrate()
    node, other = _node(db, "n"), _node(db, "other")
    hub = AssignmentHub(db, poll_interval=30, hint_interval=None)  # woken by commits only
    reads: list[str] = []
    real = watch.read_node_assignments

    def counting(database: Database, node_id: str) -> Assignments:
        reads.append(node_id)
        return real(database, node_id)

    monkeypatch.setattr(watch, "read_node_assignments", counting)

    async def scenario() -> None:
        base, _ = await wait_for_assignments(db, hub, node_id=node, digest=None, timeout=0)
        assert reads == [node]  # an agent starting (no digest) always reads
        for _ in range(2):  # watches that time out: answered from the kept set
            same, changed = await wait_for_assignments(
                db, hub, node_id=node, digest=base.digest, timeout=0.1
            )
            assert not changed and same.digest == base.digest
        assert reads == [node]
        _assign(db, other, "elsewhere")  # concerns the other node only
        await asyncio.sleep(0.2)  # the hub has dispatched it
        same, changed = await wait_for_assignments(
            db, hub, node_id=node, digest=base.digest, timeout=0.1
        )
        assert not changed and reads == [node]
        assert same.revision > base.revision  # current as of the hub's revision
        _assign(db, node, "here")
        fresh, changed = await wait_for_assignments(
            db, hub, node_id=node, digest=base.digest, timeout=5
        )
        assert changed and [a.workload.metadata.name for a in fresh.items] == ["here"]
        assert reads == [node, node]  # the change dropped the kept set: read again
        again, changed = await wait_for_assignments(
            db, hub, node_id=node, digest=fresh.digest, timeout=0.1
        )
        assert not changed and again.digest == fresh.digest and reads == [node, node]

    try:
        asyncio.run(scenario())
    finally:
        hub.close()


def test_a_stopping_server_answers_parked_watches_at_once(tmp_path: Path) -> None:
    db = Database(default_sqlite_url(tmp_path))
    db.migrate()
    nodes = [_node(db, f"n{i}") for i in range(3)]
    hub = AssignmentHub(db, poll_interval=0.1, hint_interval=None)

    async def scenario() -> None:
        async def watch(node_id: str) -> tuple[Assignments, bool]:
            first, _ = await wait_for_assignments(db, hub, node_id=node_id, digest=None, timeout=5)
            return await wait_for_assignments(
                db, hub, node_id=node_id, digest=first.digest, timeout=30
            )

        parked = [asyncio.create_task(watch(n)) for n in nodes]
        await asyncio.sleep(0.3)
        assert not any(t.done() for t in parked)
        started = time.monotonic()
        assert hub.release() == 3
        answers = await asyncio.gather(*parked)
        assert all(not changed for _, changed in answers)  # unchanged, as at a timeout
        late = await watch(nodes[0])  # a watch arriving while the server stops: no wait
        assert not late[1]
        assert time.monotonic() - started < 1

    try:
        asyncio.run(scenario())
    finally:
        hub.close()
