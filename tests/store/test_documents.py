"""The JSON documents list endpoints answer as stored, and their upkeep across model changes.

``list_node_documents`` / ``list_workload_documents`` splice the stored spec/status JSON into the
answer without validating it; these tests pin that the result is exactly the models' JSON, and
that ``Database.migrate`` rewrites rows whose stored JSON lacks a field the models now have.
"""

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from edgeorch.domain.enums import NodeState
from edgeorch.domain.resources import Resources
from edgeorch.schemas.envelope import MetadataIn
from edgeorch.schemas.event import InvolvedObject
from edgeorch.schemas.node import NodeCreate, NodeSpec, NodeStatus, Utilization
from edgeorch.schemas.workload import WorkloadCreate
from edgeorch.store import (
    Database,
    create_event,
    create_node,
    create_workload,
    current_revision,
    list_changes,
    list_nodes,
    read_node,
    read_workload,
    update_node_status,
)
from edgeorch.store.pagination import DocumentPage
from edgeorch.store.sql import documents
from edgeorch.store.sql.nodes import list_node_documents
from edgeorch.store.sql.objects import _rows_page, _sqlite_page
from edgeorch.store.sql.orm import NodeRow, StoreMetaRow
from edgeorch.store.sql.workloads import list_workload_documents


def _node(name: str, **labels: str) -> NodeCreate:
    return NodeCreate(
        metadata=MetadataIn(name=name, labels=labels),
        spec=NodeSpec.model_validate(
            {
                "edge_type": "mec",
                "region": "eu-central",
                "location": {"latitude": 50.1, "longitude": 8.7},
                "country": "DE",
                "capacity": {"cpu": 16, "memory_mb": 65536, "storage_gb": 500},
                "cost_per_hour": 0.35,
            }
        ),
    )


def _workload(name: str) -> WorkloadCreate:
    return WorkloadCreate.model_validate(
        {
            "metadata": {"name": name, "labels": {"team": "ops", "tier": "edge"}},
            "spec": {
                "runtime": "process",
                "artifact": {"command": ["sleep", "60"]},
                "replicas": 2,
                "resources": {"cpu": 0.5, "memory_mb": 256},
            },
        }
    )


def _items(page: DocumentPage) -> list[Any]:
    items: list[Any] = json.loads(f"[{page.documents}]")
    assert page.count == len(items)
    return items


def _model_json(model: Any) -> Any:
    return json.loads(model.model_dump_json(by_alias=True))


def test_list_documents_are_exactly_the_models_json(database: Database, clock: Any) -> None:
    with database.write() as s:
        plain = create_node(session=s, node=_node("edge-a"))
        labelled = create_node(session=s, node=_node("edge-b", rack="r1", site="fra"))
        create_workload(session=s, workload=_workload("wl-a"))
    clock.advance(timedelta(seconds=3, microseconds=123456))
    with database.write() as s:  # a status with datetimes, floats and nested models
        status = NodeStatus(
            state=NodeState.READY,
            allocated=Resources(cpu=1.5, memory_mb=512),
            utilization=Utilization(cpu=0.25, memory=0.5),
            last_heartbeat=clock.now,
            joined_at=clock.now - timedelta(minutes=5),
            measured_rtt_ms={"region-a": 12.5},
            agent={"version": "1.2.3"},
            message="ready: 'quoted' \"text\" and ünïcode",
        )
        update_node_status(session=s, node_id=labelled.metadata.id, status=status)
    with database.session() as s:
        page = list_node_documents(session=s, tenant=None, limit=10)
        nodes = [read_node(session=s, ref=n.metadata.id) for n in (plain, labelled)]
        workloads = list_workload_documents(session=s, tenant=None, limit=10)
        workload = read_workload(session=s, ref="wl-a")
        validated = list_nodes(session=s, tenant=None, limit=10)
    assert _items(page) == [_model_json(n) for n in nodes]
    assert _items(workloads) == [_model_json(workload)]
    assert validated.items == nodes  # the validated path reads the same documents
    assert page.revision == validated.revision


def test_created_objects_stamp_the_change_feed_in_call_order(database: Database) -> None:
    with database.write() as s:
        start = current_revision(session=s)
    with database.write() as s:  # one transaction: a node, its event, a workload
        node = create_node(session=s, node=_node("edge-c", rack="r2"))
        event = create_event(
            session=s,
            reason="NodeRegistered",
            message="registered",
            involved=InvolvedObject(kind="Node", id=node.metadata.id, name="edge-c"),
        )
        workload = create_workload(session=s, workload=_workload("wl-c"))
    assert node.metadata.resource_version == start + 1
    assert workload.metadata.resource_version == event.revision == start + 1
    with database.session() as s:
        changes = list_changes(session=s, since=start)
        assert read_node(session=s, ref="edge-c") == node
        assert read_workload(session=s, ref="wl-c") == workload
        by_label = list_node_documents(session=s, label_selector="rack=r2")
    assert [(c.kind, c.object_id, c.op, c.revision) for c in changes] == [
        ("Node", node.metadata.id, "created", start + 1),
        ("Event", event.id, "created", start + 1),
        ("Workload", workload.metadata.id, "created", start + 1),
    ]
    assert [d["metadata"]["id"] for d in _items(by_label)] == [node.metadata.id]


def test_migrate_rewrites_documents_written_by_older_models(database: Database) -> None:
    with database.write() as s:
        node = create_node(session=s, node=_node("edge-old"))
        fresh = create_node(session=s, node=_node("edge-new"))
    # What an older server would have stored: the spec without a defaulted field, the status
    # without another one.
    with database.write() as s:
        row = s.scalars(select(NodeRow).where(NodeRow.id == node.metadata.id)).one()
        old_spec = {k: v for k, v in row.spec.items() if k != "scheduling"}
        old_status = {k: v for k, v in row.status.items() if k != "message"}
        s.execute(
            update(NodeRow)
            .where(NodeRow.id == node.metadata.id)
            .values(spec=old_spec, status=old_status)
        )
        revision = current_revision(session=s)
    # Unchanged models: the fingerprint matches and nothing is re-read.
    with database.write() as s:
        assert documents.ensure_current(s) == 0
        s.execute(
            update(StoreMetaRow)
            .where(StoreMetaRow.key == documents.FINGERPRINT_KEY)
            .values(value="models-of-an-older-release")
        )
    database.migrate()
    with database.session() as s:
        stored = s.scalars(select(NodeRow).where(NodeRow.id == node.metadata.id)).one()
        assert stored.spec["scheduling"] == "enabled"
        assert stored.status["message"] == ""
        assert documents.stored_fingerprint(s) == documents.fingerprint()
        assert current_revision(session=s) == revision  # no object changed for the API
        page = list_node_documents(session=s, limit=10)
        expected = [read_node(session=s, ref=n.metadata.id) for n in (fresh, node)]
    assert _items(page) == [_model_json(n) for n in expected]


def test_sqlite_one_row_pages_equal_row_by_row_pages(sqlite_db: Database, clock: Any) -> None:
    with sqlite_db.write() as s:
        for i in range(23):
            create_node(session=s, node=_node(f"edge-{i:02d}", rack=f"r{i % 3}", note="a.b_c-d"))
            clock.advance(timedelta(microseconds=250_001 * (i % 2)))
    with sqlite_db.session() as s:
        for limit in (1, 5, 22, 23, 24):
            keys = select(NodeRow.id).order_by(NodeRow.name, NodeRow.id).limit(limit + 1)
            one_row = _sqlite_page(s, NodeRow, "Node", keys, limit)
            by_rows = _rows_page(s, NodeRow, "Node", keys, limit)
            assert one_row is not None
            assert json.loads(f"[{one_row[0]}]") == json.loads(f"[{by_rows[0]}]")
            assert one_row[1:] == by_rows[1:]
        # Walking every page through the public function visits each node once, in order.
        names: list[str] = []
        token = None
        while True:
            page = list_node_documents(session=s, limit=4, continue_token=token)
            names += [d["metadata"]["name"] for d in _items(page)]
            token = page.continue_token
            if token is None:
                break
        assert names == [f"edge-{i:02d}" for i in range(23)]
        empty = list_node_documents(session=s, region="nowhere")
        assert (empty.documents, empty.count, empty.continue_token) == ("", 0, None)
