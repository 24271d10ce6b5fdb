"""NodeCache follows the change feed: created, updated and deleted nodes, read in bulk."""

from edgeorch.controllers.feed import NodeCache
from edgeorch.domain.enums import NodeState
from edgeorch.schemas.node import NodeCreate
from edgeorch.store import Database, create_node, delete_node, list_nodes, update_node_status


def _node(name: str) -> NodeCreate:
    spec = {
        "edge_type": "mec", "region": "eu", "country": "DE",
        "location": {"latitude": 50, "longitude": 8},
        "capacity": {"cpu": 4, "memory_mb": 4096},
    }  # fmt: skip
    return NodeCreate.model_validate({"metadata": {"name": name}, "spec": spec})


def _stored(database: Database) -> dict[str, int]:
    with database.session() as s:
        items = list_nodes(session=s, tenant=None, limit=1000).items
    return {n.metadata.id: n.metadata.resource_version for n in items}


def test_refresh_applies_creates_updates_and_deletes(database: Database) -> None:
    with database.write() as s:
        ids = [create_node(session=s, node=_node(f"n{i}")).metadata.id for i in range(4)]
    cache = NodeCache(database)
    cache.refresh()
    with database.write() as s:
        node = create_node(session=s, node=_node("late"), state=NodeState.READY)
        for node_id in ids[:2]:  # two changes of the same node in one batch
            for state in (NodeState.READY, NodeState.SUSPECT):
                current = {n.metadata.id: n for n in list_nodes(session=s, tenant=None).items}
                status = current[node_id].status.model_copy(update={"state": state})
                update_node_status(session=s, node_id=node_id, status=status)
        delete_node(session=s, ref=ids[3], tenant=None)
    nodes = cache.refresh()
    assert {k: v.metadata.resource_version for k, v in nodes.items()} == _stored(database)
    assert node.metadata.id in nodes and ids[3] not in nodes
    assert nodes[ids[0]].status.state is NodeState.SUSPECT


def test_a_joined_only_cache_leaves_pending_nodes_out_until_they_join(database: Database) -> None:
    with database.write() as s:
        pending = create_node(session=s, node=_node("pre")).metadata.id
        ready = create_node(session=s, node=_node("up"), state=NodeState.READY).metadata.id
    cache = NodeCache(database, joined_only=True)
    assert set(cache.refresh()) == {ready}
    with database.write() as s:
        late = create_node(session=s, node=_node("late")).metadata.id  # pending too
    assert set(cache.refresh()) == {ready}
    with database.write() as s:
        for node_id in (pending, late):
            node = {n.metadata.id: n for n in list_nodes(session=s, tenant=None).items}[node_id]
            status = node.status.model_copy(update={"state": NodeState.READY})
            update_node_status(session=s, node_id=node_id, status=status)
    assert set(cache.refresh()) == {ready, pending, late}
