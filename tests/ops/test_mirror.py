"""FeedMirror: the objects and indexes follow the store; each reader learns what changed."""

import pytest
from tests.analytics import seed

from edgeorch.domain.enums import NodeState
from edgeorch.store import (
    Database,
    delete_instance,
    delete_node,
    read_instance,
    update_instance_spec,
)
from edgeorch.store import mirror as mirror_module
from edgeorch.store.mirror import FeedMirror


def move(database: Database, instance_id: str, node_id: str) -> None:
    with database.write() as s:
        current = read_instance(session=s, ref=instance_id, tenant=None)
        spec = current.spec.model_copy(update={"node_id": node_id})
        update_instance_spec(session=s, instance_id=instance_id, spec=spec)


def test_changes_and_indexes_follow_the_store(database: Database) -> None:
    a, b = seed.node(database, "a"), seed.node(database, "b")
    w = seed.workload(database, "web")
    inst = seed.instance(database, w, a)
    mirror = FeedMirror(database)
    assert mirror.changes_since(-1) is None  # never refreshed: rescan
    start = mirror.refresh()
    assert mirror.changes_since(start - 1) is None  # the first read is a rebuild: rescan
    assert [i.metadata.id for i in mirror.instances_on(a.metadata.id)] == [inst.metadata.id]
    rev = mirror.refresh()
    assert not mirror.changes_since(rev)  # nothing happened since

    move(database, inst.metadata.id, b.metadata.id)
    mirror.refresh()
    changes = mirror.changes_since(rev)
    assert changes is not None
    assert changes.instances == {inst.metadata.id} and not changes.nodes
    assert changes.instance_nodes == {a.metadata.id, b.metadata.id}  # left one, joined one
    assert changes.instance_workloads == {w.metadata.id}
    assert mirror.instances_on(a.metadata.id) == []
    assert [i.spec.node_id for i in mirror.instances_of(w.metadata.id)] == [b.metadata.id]

    rev = mirror.revision
    seed.set_node(database, a.metadata.id, NodeState.DOWN)
    with database.write() as s:
        delete_instance(session=s, ref=inst.metadata.id, tenant=None)
        delete_node(session=s, ref=a.metadata.id, tenant=None)
    mirror.refresh()
    changes = mirror.changes_since(rev)
    assert changes is not None and changes.nodes == {a.metadata.id}
    assert a.metadata.id not in mirror.nodes and inst.metadata.id not in mirror.instances
    assert mirror.instances_of(w.metadata.id) == [] and mirror.instances_on(b.metadata.id) == []
    # Two readers at different revisions each get their own answer from the one mirror.
    assert mirror.changes_since(mirror.revision) == mirror_module.Changes()


def test_a_large_backlog_rebuilds_and_tells_readers_to_rescan(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = FeedMirror(database)
    rev = mirror.refresh()
    monkeypatch.setattr(mirror_module, "REBUILD_AFTER", 3)
    nodes = [seed.node(database, f"n{k}") for k in range(4)]
    mirror.refresh()
    assert mirror.changes_since(rev) is None
    assert set(mirror.nodes) == {n.metadata.id for n in nodes}


def test_a_reader_behind_the_trimmed_log_rescans(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror_module, "LOG_LIMIT", 4)
    mirror = FeedMirror(database)
    rev = mirror.refresh()
    first = seed.node(database, "n0")
    mirror.refresh()
    changes = mirror.changes_since(rev)
    assert changes is not None and changes.nodes == {first.metadata.id}
    for k in range(1, 6):
        seed.node(database, f"n{k}")
        mirror.refresh()
    assert mirror.changes_since(rev) is None  # its changes left the log
    recent = mirror.changes_since(mirror.revision - 1)
    assert recent is not None and len(recent.nodes) == 1
