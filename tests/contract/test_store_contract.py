"""The store contract: the same behaviour on SQLite and PostgreSQL (``database`` is both)."""

from datetime import timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text, update

from edgeorch.domain.enums import InstanceState, NodeState, TokenRole
from edgeorch.schemas import (
    InstanceSpec,
    InstanceStatus,
    InvolvedObject,
    NodeCreate,
    NodeStatus,
    TenantCreate,
    WorkloadCreate,
    WorkloadStatus,
    WorkloadUpdate,
)
from edgeorch.store import (
    AlreadyExists,
    AmbiguousReference,
    Conflict,
    Database,
    InvalidContinueToken,
    InvalidRequest,
    NotFound,
    authenticate_token,
    count_tokens,
    create_event,
    create_instance,
    create_node,
    create_tenant,
    create_token,
    create_workload,
    current_revision,
    delete_instance,
    delete_node,
    delete_workload,
    list_changes,
    list_events,
    list_instances,
    list_nodes,
    list_tenants,
    list_tokens,
    list_workloads,
    parse_label_selector,
    read_instance,
    read_node,
    read_tenant,
    read_workload,
    revoke_token,
    scale_workload,
    update_instance_spec,
    update_instance_status,
    update_node_config,
    update_node_status,
    update_workload,
    update_workload_status,
)
from edgeorch.store.sql.orm import Base, LabelRow, NodeRow, TokenRow

# ---------------------------------------------------------------- builders


def node_create(
    name: str,
    *,
    region: str = "eu-west",
    edge_type: str = "mec",
    labels: dict[str, str] | None = None,
    tenant: str | None = None,
) -> NodeCreate:
    return NodeCreate.model_validate(
        {
            "metadata": {"name": name, "labels": labels or {}, "tenant": tenant},
            "spec": {
                "edge_type": edge_type,
                "region": region,
                "location": {"latitude": 52.5, "longitude": 13.4},
                "country": "DE",
                "capacity": {"cpu": 8, "memory_mb": 16384},
            },
        }
    )


def workload_create(
    name: str,
    *,
    runtime: str = "process",
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    artifact = {"process": {"command": ["sleep", "60"]}, "wasm": {"digest": "sha256:" + "a" * 64}}
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"runtime": runtime, "artifact": artifact.get(runtime, {"image": "x"}), **spec},
    }


def add_node(db: Database, name: str, **kwargs: Any) -> str:
    with db.write() as s:
        return create_node(session=s, node=node_create(name, **kwargs)).metadata.id


def add_workload(db: Database, name: str, **kwargs: Any) -> str:
    body = WorkloadCreate.model_validate(workload_create(name, **kwargs))
    with db.write() as s:
        return create_workload(session=s, workload=body).metadata.id


def add_tenant(db: Database, name: str) -> None:
    with db.write() as s:
        create_tenant(session=s, tenant=TenantCreate.model_validate({"metadata": {"name": name}}))


# ---------------------------------------------------------------- migrations


def test_migrate_twice_is_a_no_op(database: Database) -> None:
    with database.session() as s:
        before = current_revision(session=s)
    database.migrate()
    with database.session() as s:
        assert current_revision(session=s) == before
        assert [t.metadata.name for t in list_tenants(session=s)] == ["default"]


def test_migrations_create_exactly_the_orm_schema(database: Database) -> None:
    with database.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


# ---------------------------------------------------------------- tenants


def test_tenants_are_created_read_and_listed(database: Database) -> None:
    add_tenant(database, "acme")
    with database.session() as s:
        acme = read_tenant(session=s, ref="acme")
        assert read_tenant(session=s, ref=acme.metadata.id).metadata.name == "acme"
        assert [t.metadata.name for t in list_tenants(session=s)] == ["acme", "default"]
        with pytest.raises(NotFound, match="'nope'"):
            read_tenant(session=s, ref="nope")
    with pytest.raises(AlreadyExists), database.write() as s:
        create_tenant(session=s, tenant=TenantCreate.model_validate({"metadata": {"name": "acme"}}))


# ---------------------------------------------------------------- nodes


def test_node_lifecycle(database: Database, clock: Any) -> None:
    with database.write() as s:
        node = create_node(session=s, node=node_create("edge-1", labels={"tier": "edge"}))
    assert node.status.state is NodeState.PENDING
    assert node.metadata.created_at == clock.now
    spec = node.spec.model_copy(update={"region": "eu-north"})
    clock.advance(timedelta(seconds=5))
    with database.write() as s:
        updated = update_node_config(
            session=s, ref="edge-1", spec=spec, labels={"tier": "core"}, expected_version=None
        )
    assert updated.spec.region == "eu-north"
    assert updated.metadata.labels == {"tier": "core"}
    assert updated.metadata.updated_at == clock.now > updated.metadata.created_at
    assert updated.metadata.resource_version > node.metadata.resource_version
    with database.write() as s:
        ready = update_node_status(
            session=s, node_id=node.metadata.id, status=NodeStatus(state=NodeState.READY)
        )
    assert ready.status.state is NodeState.READY
    with database.session() as s:
        assert list_nodes(session=s, state="ready").items[0].metadata.name == "edge-1"
        assert list_nodes(session=s, label_selector="tier=core").items[0].metadata.name == "edge-1"
        assert list_nodes(session=s, label_selector="tier=edge").items == []
    with database.write() as s:
        delete_node(session=s, ref=node.metadata.id)
    with database.session() as s, pytest.raises(NotFound, match="edge-1"):
        read_node(session=s, ref="edge-1")


def test_node_can_start_in_a_given_state(database: Database) -> None:
    with database.write() as s:
        node = create_node(session=s, node=node_create("n"), state=NodeState.READY)
    assert node.status.state is NodeState.READY


@pytest.mark.parametrize("how", ["id", "name", "prefix6", "prefix12"])
def test_nodes_are_addressed_by_id_name_or_prefix(database: Database, how: str) -> None:
    node_id = add_node(database, "edge-a")
    add_node(database, "edge-b")
    ref = {"id": node_id, "name": "edge-a", "prefix6": node_id[:6], "prefix12": node_id[:12]}[how]
    with database.session() as s:
        assert read_node(session=s, ref=ref).metadata.id == node_id


@pytest.mark.parametrize("ref", ["abc", "abcde", "zzzzzzzz", "edge-x", ""])
def test_unknown_or_too_short_references_are_not_found(database: Database, ref: str) -> None:
    add_node(database, "edge-a")
    with database.session() as s, pytest.raises(NotFound):
        read_node(session=s, ref=ref)


def test_ambiguous_prefix_names_the_candidates(database: Database) -> None:
    first, second = add_node(database, "one"), add_node(database, "two")
    with database.write() as s:
        # Give the two rows ids that share a prefix (ids are random otherwise).
        s.execute(update(NodeRow).where(NodeRow.id == first).values(id="abcdef" + "0" * 26))
        s.execute(update(NodeRow).where(NodeRow.id == second).values(id="abcdef" + "1" * 26))
    with database.session() as s:
        with pytest.raises(AmbiguousReference, match=r"one.*two|two.*one"):
            read_node(session=s, ref="abcdef")
        assert read_node(session=s, ref="abcdef1").metadata.name == "two"


def test_names_are_unique_per_tenant_and_kind(database: Database) -> None:
    add_tenant(database, "acme")
    add_node(database, "shared")
    add_node(database, "shared", tenant="acme")
    add_workload(database, "shared")  # another kind may use the name
    with pytest.raises(AlreadyExists, match="'shared' already exists in tenant 'default'"):
        add_node(database, "shared")
    with database.session() as s:
        assert read_node(session=s, ref="shared", tenant="acme").metadata.tenant == "acme"
        assert len(list_nodes(session=s, tenant=None).items) == 2
        with pytest.raises(NotFound):
            read_node(session=s, ref="shared", tenant="nobody")


def test_unknown_tenant_and_mismatched_tenant_are_refused(database: Database) -> None:
    with pytest.raises(NotFound, match="tenant 'ghost'"), database.write() as s:
        create_node(session=s, node=node_create("n"), tenant="ghost")
    with pytest.raises(InvalidRequest, match="does not match"), database.write() as s:
        create_node(session=s, node=node_create("n", tenant="default"), tenant="other")


# ---------------------------------------------------------------- pagination and filters

REGIONS = ("eu", "us", "ap")
EDGE_TYPES = ("mec", "cdn")


def _fleet(database: Database) -> list[dict[str, Any]]:
    """23 nodes with varied region, type, labels and state; returned as plain facts."""
    facts = []
    with database.write() as s:
        for i in range(23):
            labels = {"tier": "edge" if i % 3 else "core"}
            if i % 4 == 0:
                labels["gpu"] = "yes"
            node = create_node(
                session=s,
                node=node_create(
                    f"n-{i:02d}",
                    region=REGIONS[i % 3],
                    edge_type=EDGE_TYPES[i % 2],
                    labels=labels,
                ),
                state=NodeState.READY if i % 5 else NodeState.DOWN,
            )
            facts.append(
                {
                    "name": node.metadata.name,
                    "region": REGIONS[i % 3],
                    "edge_type": EDGE_TYPES[i % 2],
                    "state": node.status.state.value,
                    "labels": labels,
                }
            )
    return facts


FILTERS: list[dict[str, Any]] = [
    {},
    {"region": "eu"},
    {"edge_type": "cdn"},
    {"state": "ready"},
    {"label_selector": "tier=edge"},
    {"label_selector": "tier!=edge"},
    {"label_selector": "gpu"},
    {"label_selector": "!gpu,tier==edge"},
    {"region": "us", "edge_type": "mec", "state": "ready", "label_selector": "tier=edge"},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(map(str, f.values())) or "all")
def test_pages_cover_each_filtered_list_exactly_once(
    database: Database, filters: dict[str, Any]
) -> None:
    facts = _fleet(database)
    add_tenant(database, "other")
    add_node(database, "n-00", tenant="other")  # another tenant's node never shows up
    selector = parse_label_selector(filters.get("label_selector", ""))
    expected = sorted(
        f["name"]
        for f in facts
        if all(f[k] == v for k, v in filters.items() if k != "label_selector")
        and selector.matches(f["labels"])
    )
    seen: list[str] = []
    token = None
    pages = 0
    with database.session() as s:
        revision = current_revision(session=s)
        while True:
            page = list_nodes(session=s, limit=3, continue_token=token, **filters)
            assert page.revision == revision
            seen += [n.metadata.name for n in page.items]
            pages += 1
            token = page.continue_token
            if token is None:
                break
    assert seen == expected
    assert pages == max(1, -(-len(expected) // 3))  # no trailing empty page


@pytest.mark.parametrize("token", ["garbage!", "e30", "eyJrIjoiV29ya2xvYWQiLCJhIjpbIngiLCJ5Il19"])
def test_bad_continue_tokens_are_refused(database: Database, token: str) -> None:
    with database.session() as s, pytest.raises(InvalidContinueToken, match="continue token"):
        list_nodes(session=s, continue_token=token)


def test_a_token_from_another_kind_is_refused(database: Database) -> None:
    add_workload(database, "w1")
    add_workload(database, "w2")
    with database.session() as s:
        token = list_workloads(session=s, limit=1).continue_token
        assert token is not None
        with pytest.raises(InvalidContinueToken):
            list_nodes(session=s, continue_token=token)


# ---------------------------------------------------------------- optimistic concurrency


def _stale_node_config(db: Database, node_id: str, version: int) -> None:
    with db.write() as s:
        spec = read_node(session=s, ref=node_id).spec
        update_node_config(session=s, ref=node_id, spec=spec, expected_version=version)


def _stale_node_status(db: Database, node_id: str, version: int) -> None:
    with db.write() as s:
        update_node_status(
            session=s, node_id=node_id, status=NodeStatus(), expected_version=version
        )


def _stale_node_delete(db: Database, node_id: str, version: int) -> None:
    with db.write() as s:
        delete_node(session=s, ref=node_id, expected_version=version)


@pytest.mark.parametrize("write", [_stale_node_config, _stale_node_status, _stale_node_delete])
def test_stale_resource_version_is_a_conflict_naming_both(database: Database, write: Any) -> None:
    node_id = add_node(database, "edge-1")
    with database.write() as s:
        node = update_node_status(session=s, node_id=node_id, status=NodeStatus())
    current = node.metadata.resource_version
    stale = current - 1
    with pytest.raises(Conflict) as err:
        write(database, node_id, stale)
    assert f"resource_version {current}, you sent {stale}" in str(err.value)
    assert "read it again and retry" in str(err.value)
    write(database, node_id, current)  # the current version is accepted


def test_workload_and_instance_writes_check_versions(database: Database) -> None:
    wid = add_workload(database, "web", replicas=2)
    with database.write() as s:
        inst = create_instance(
            session=s, spec=InstanceSpec(workload_id=wid, node_id=None, replica=0)
        )
    iid, iv = inst.metadata.id, inst.metadata.resource_version
    body = WorkloadUpdate.model_validate(workload_create("web", replicas=3))
    writes = [
        lambda s: update_workload(session=s, ref="web", workload=body, expected_version=1),
        lambda s: scale_workload(session=s, ref="web", replicas=1, expected_version=1),
        lambda s: update_workload_status(
            session=s, workload_id=wid, status=WorkloadStatus(), expected_version=1
        ),
        lambda s: delete_workload(session=s, ref="web", expected_version=1),
        lambda s: update_instance_status(
            session=s, instance_id=iid, status=InstanceStatus(), expected_version=iv - 1
        ),
        lambda s: update_instance_spec(
            session=s, instance_id=iid, spec=inst.spec, expected_version=iv - 1
        ),
        lambda s: delete_instance(session=s, ref=iid, expected_version=iv - 1),
    ]
    for write in writes:
        with pytest.raises(Conflict, match="was modified"), database.write() as s:
            write(s)


# ---------------------------------------------------------------- revisions and the change feed


def test_revisions_are_monotonic_and_the_feed_lists_changes_in_order(database: Database) -> None:
    with database.session() as s:
        start = current_revision(session=s)
    node_id = add_node(database, "a")
    wid = add_workload(database, "w")
    with database.write() as s:  # one transaction, three changes, one revision
        for name in ("b", "c"):
            create_node(session=s, node=node_create(name))
        create_event(
            session=s,
            reason="Tested",
            message="a test event",
            involved=InvolvedObject(kind="Node", id=node_id, name="a"),
        )
    with database.write() as s:
        delete_node(session=s, ref="a")
    with database.session() as s:
        changes = list_changes(session=s, since=start)
        end = current_revision(session=s)
    assert [(c.kind, c.name, c.op) for c in changes] == [
        ("Node", "a", "created"),
        ("Workload", "w", "created"),
        ("Node", "b", "created"),
        ("Node", "c", "created"),
        ("Event", "node/a", "created"),
        ("Node", "a", "deleted"),
    ]
    revisions = [c.revision for c in changes]
    assert revisions == sorted(revisions) and revisions[-1] == end == start + 4
    assert len({revisions[2], revisions[3], revisions[4]}) == 1
    assert changes[1].object_id == wid
    with database.session() as s:
        # limit is soft: the three changes of one revision are never split.
        assert len(list_changes(session=s, since=start + 2, limit=1)) == 3
        assert [c.kind for c in list_changes(session=s, since=start, kinds=["Workload"])] == [
            "Workload"
        ]
        assert list_changes(session=s, since=end) == []
        assert list_changes(session=s, since=start, tenant="other") == []


def test_resource_version_is_the_revision_of_the_last_write(database: Database) -> None:
    node_id = add_node(database, "a")
    with database.write() as s:
        node = update_node_status(session=s, node_id=node_id, status=NodeStatus())
    with database.session() as s:
        assert node.metadata.resource_version == current_revision(session=s)
        assert list_changes(session=s, since=0)[-1].revision == node.metadata.resource_version


def test_a_failed_write_leaves_no_trace(database: Database) -> None:
    with database.session() as s:
        before = current_revision(session=s)
    with pytest.raises(RuntimeError, match="boom"), database.write() as s:
        create_node(session=s, node=node_create("ghost"))
        raise RuntimeError("boom")
    with database.session() as s:
        assert current_revision(session=s) == before
        assert list_nodes(session=s).items == []


def test_writes_outside_a_write_session_are_refused(database: Database) -> None:
    with database.session() as s, pytest.raises(RuntimeError, match=r"Database\.write"):
        create_node(session=s, node=node_create("n"))


# ---------------------------------------------------------------- workloads


def test_workload_crud_and_generation(database: Database) -> None:
    add_workload(database, "web", labels={"app": "web"}, replicas=2)
    add_workload(database, "fn", runtime="wasm")
    with database.session() as s:
        web = read_workload(session=s, ref="web")
        assert (web.status.generation, web.status.desired_replicas) == (1, 2)
        assert [w.metadata.name for w in list_workloads(session=s, runtime="wasm").items] == ["fn"]
        assert [w.metadata.name for w in list_workloads(session=s, label_selector="app").items] == [
            "web"
        ]
    same_spec = WorkloadUpdate.model_validate(
        workload_create("web", labels={"app": "v2"}, replicas=2)
    )
    with database.write() as s:
        relabelled = update_workload(session=s, ref="web", workload=same_spec)
    assert relabelled.status.generation == 1 and relabelled.metadata.labels == {"app": "v2"}
    new_spec = WorkloadUpdate.model_validate(workload_create("web", replicas=4))
    with database.write() as s:
        changed = update_workload(session=s, ref="web", workload=new_spec)
    assert (changed.status.generation, changed.status.desired_replicas) == (2, 4)
    with database.write() as s:
        observed = update_workload_status(
            session=s,
            workload_id=changed.metadata.id,
            status=WorkloadStatus(observed_generation=2, running_replicas=4, generation=99),
        )
    assert (observed.status.generation, observed.status.running_replicas) == (2, 4)
    renamed = WorkloadUpdate.model_validate(workload_create("api", replicas=4))
    with pytest.raises(Conflict, match="renamed"), database.write() as s:
        update_workload(session=s, ref="web", workload=renamed)


SCALE_CASES: list[tuple[dict[str, Any], int, str | None]] = [
    ({"replicas": 2}, 5, None),
    ({"replicas": 2}, 0, None),
    ({"scaling": {"min": 2, "max": 6}}, 4, None),
    ({"scaling": {"min": 2, "max": 6}}, 7, "between 2 and 6"),
    ({"scaling": {"min": 2, "max": 6}}, 1, "between 2 and 6"),
    ({"replicas": 1, "singleton": True}, 1, None),
    ({"replicas": 1, "singleton": True}, 2, "singleton"),
]


@pytest.mark.parametrize(("spec", "replicas", "error"), SCALE_CASES)
def test_scale(database: Database, spec: dict[str, Any], replicas: int, error: str | None) -> None:
    add_workload(database, "w", **spec)
    if error is not None:
        with pytest.raises(InvalidRequest, match=error), database.write() as s:
            scale_workload(session=s, ref="w", replicas=replicas)
        return
    with database.write() as s:
        scaled = scale_workload(session=s, ref="w", replicas=replicas)
    assert scaled.status.desired_replicas == replicas
    if "scaling" in spec:
        assert scaled.spec.replicas is None and scaled.status.generation == 1
    else:
        assert scaled.spec.replicas == replicas
        assert scaled.status.generation == (1 if replicas == spec["replicas"] else 2)


# ---------------------------------------------------------------- instances


def test_instances_crud_filters_and_cascade(database: Database) -> None:
    node_a, node_b = add_node(database, "a"), add_node(database, "b")
    web, other = add_workload(database, "web", replicas=3), add_workload(database, "other")
    with database.write() as s:
        made = [
            create_instance(session=s, spec=InstanceSpec(workload_id=web, node_id=node, replica=i))
            for i, node in enumerate([node_a, node_a, node_b])
        ]
        create_instance(session=s, spec=InstanceSpec(workload_id=other, node_id=None, replica=0))
    assert made[0].metadata.name.startswith("web-0-")
    with database.write() as s:
        moved = update_instance_spec(
            session=s,
            instance_id=made[1].metadata.id,
            spec=made[1].spec.model_copy(update={"node_id": node_b}),
        )
        update_instance_status(
            session=s,
            instance_id=made[2].metadata.id,
            status=InstanceStatus(state=InstanceState.RUNNING, endpoint="http://b:8080"),
        )
    assert moved.spec.node_id == node_b
    with database.session() as s:
        assert len(list_instances(session=s, workload_id=web).items) == 3
        assert len(list_instances(session=s, node_id=node_b).items) == 2
        running = list_instances(session=s, state="running").items
        assert [i.status.endpoint for i in running] == ["http://b:8080"]
        assert read_instance(session=s, ref=made[0].metadata.name).spec.node_id == node_a
        since = current_revision(session=s)
    with database.write() as s:
        delete_workload(session=s, ref="web")
    with database.session() as s:
        assert [i.spec.workload_id for i in list_instances(session=s).items] == [other]
        deleted = [(c.kind, c.op) for c in list_changes(session=s, since=since)]
        assert sorted(deleted) == [("Instance", "deleted")] * 3 + [("Workload", "deleted")]
        assert s.scalars(select(LabelRow.object_id).where(LabelRow.kind == "Instance")).all() == []


def test_instances_refuse_unknown_references(database: Database) -> None:
    wid = add_workload(database, "w")
    cases = [
        InstanceSpec(workload_id="0" * 32, node_id=None, replica=0),
        InstanceSpec(workload_id=wid, node_id="0" * 32, replica=0),
    ]
    for spec in cases:
        with pytest.raises(NotFound), database.write() as s:
            create_instance(session=s, spec=spec)
    with database.write() as s:
        inst = create_instance(
            session=s, spec=InstanceSpec(workload_id=wid, node_id=None, replica=0)
        )
    other = add_workload(database, "w2")
    with pytest.raises(Conflict, match="cannot move"), database.write() as s:
        update_instance_spec(
            session=s,
            instance_id=inst.metadata.id,
            spec=inst.spec.model_copy(update={"workload_id": other}),
        )


def test_deleting_a_node_unbinds_its_instances_as_lost(database: Database) -> None:
    node_id = add_node(database, "a")
    wid = add_workload(database, "w")
    with database.write() as s:
        inst = create_instance(
            session=s, spec=InstanceSpec(workload_id=wid, node_id=node_id, replica=0)
        )
    with database.write() as s:
        delete_node(session=s, ref="a")
    with database.session() as s:
        after = read_instance(session=s, ref=inst.metadata.id)
    assert after.spec.node_id is None
    assert after.status.state is InstanceState.LOST
    assert after.metadata.resource_version > inst.metadata.resource_version


# ---------------------------------------------------------------- events


def test_events_are_listed_by_object_and_revision(database: Database, clock: Any) -> None:
    node_id = add_node(database, "a")
    about = InvolvedObject(kind="Node", id=node_id, name="a")
    other = InvolvedObject(kind="Workload", id="f" * 32, name="w")
    with database.write() as s:
        first = create_event(
            session=s, reason="Registered", message="node a registered", involved=about
        )
    for i in range(4):
        with database.write() as s:
            create_event(
                session=s,
                type="Warning",
                reason="Missed",
                message=f"heartbeat {i} missed",
                involved=about if i % 2 else other,
            )
    assert first.time == clock.now and first.revision > 0
    with database.session() as s:
        for_node = list_events(session=s, involved_kind="Node", involved_id=node_id).items
        assert [e.reason for e in for_node] == ["Registered", "Missed", "Missed"]
        newer = list_events(session=s, since_revision=first.revision).items
        assert len(newer) == 4 and all(e.revision > first.revision for e in newer)
        seen, token = [], None
        while True:
            page = list_events(session=s, limit=2, continue_token=token)
            seen += [e.id for e in page.items]
            token = page.continue_token
            if token is None:
                break
        assert len(seen) == len(set(seen)) == 5
        assert list_events(session=s, tenant=None).items[0].id == first.id


# ---------------------------------------------------------------- tokens


def test_tokens_store_only_a_hash(database: Database) -> None:
    with database.write() as s:
        made = create_token(session=s, role=TokenRole.ADMIN, name="ops")
    assert made.secret.startswith("eo_") and len(made.secret) == 46
    with database.session() as s:
        row = s.execute(select(TokenRow)).scalar_one()
        stored = [str(v) for v in s.execute(text("SELECT * FROM tokens")).one()]
        assert all(made.secret not in v and made.secret[3:] not in v for v in stored)
        assert len(row.token_hash) == 64 and row.id == made.id
        found = authenticate_token(session=s, secret=made.secret)
        assert found is not None and found.role is TokenRole.ADMIN and found.name == "ops"
        assert not hasattr(found, "secret")


def test_tokens_refused_when_unknown_revoked_or_expired(database: Database, clock: Any) -> None:
    with database.write() as s:
        short = create_token(session=s, role=TokenRole.JOIN, ttl=timedelta(hours=1))
        revoked = create_token(session=s, role=TokenRole.READER)
        kept = create_token(session=s, role=TokenRole.OPERATOR)
    with database.write() as s:
        assert revoke_token(session=s, ref=revoked.id).revoked_at == clock.now
        revoke_token(session=s, ref=revoked.id)  # idempotent
    clock.advance(timedelta(hours=1))
    with database.session() as s:
        for secret in (short.secret, revoked.secret, "eo_" + "x" * 43, "", kept.secret[:-1]):
            assert authenticate_token(session=s, secret=secret) is None
        assert authenticate_token(session=s, secret=kept.secret) is not None
        assert count_tokens(session=s) == 1
        assert count_tokens(session=s, active_only=False) == 3
        assert count_tokens(session=s, role=TokenRole.OPERATOR) == 1
        assert {t.id for t in list_tokens(session=s)} == {short.id, revoked.id, kept.id}
        assert [t.id for t in list_tokens(session=s, role=TokenRole.JOIN)] == [short.id]


def test_bootstrap_secret_is_used_as_given(database: Database) -> None:
    secret = "eo_" + "b" * 43
    with database.write() as s:
        made = create_token(session=s, role=TokenRole.ADMIN, name="bootstrap", secret=secret)
    assert made.secret == secret
    with database.session() as s:
        assert authenticate_token(session=s, secret=secret) is not None
    with pytest.raises(AlreadyExists), database.write() as s:
        create_token(session=s, role=TokenRole.ADMIN, secret=secret)
    with pytest.raises(InvalidRequest, match="32 to 512"), database.write() as s:
        create_token(session=s, role=TokenRole.ADMIN, secret="short")


def test_last_used_is_refreshed_at_most_once_a_minute(database: Database, clock: Any) -> None:
    with database.write() as s:
        made = create_token(session=s, role=TokenRole.READER)
    start = clock.now
    expectations = [(0, start), (30, start), (61, start + timedelta(seconds=61))]
    for seconds, expected in expectations:
        clock.now = start + timedelta(seconds=seconds)
        with database.session() as s:
            assert authenticate_token(session=s, secret=made.secret) is not None
        with database.session() as s:
            assert list_tokens(session=s)[0].last_used_at == expected


def test_node_tokens_die_with_their_node(database: Database) -> None:
    node_id = add_node(database, "a")
    with database.write() as s:
        made = create_token(session=s, role=TokenRole.NODE, node_id=node_id)
    assert made.node_id == node_id
    with database.write() as s:
        delete_node(session=s, ref=node_id)
    with database.session() as s:
        assert authenticate_token(session=s, secret=made.secret) is None
    with pytest.raises(NotFound), database.write() as s:
        create_token(session=s, role=TokenRole.NODE, node_id=node_id)


def test_revoke_addresses_tokens_by_id_or_prefix(database: Database) -> None:
    with database.write() as s:
        made = create_token(session=s, role=TokenRole.READER)
    with pytest.raises(NotFound), database.write() as s:
        revoke_token(session=s, ref=made.id[:3])
    with database.write() as s:
        assert revoke_token(session=s, ref=made.id[:6]).id == made.id


def test_lists_return_the_same_objects_as_reads(database: Database) -> None:
    node_id = add_node(database, "a", labels={"x": "y"})
    wid = add_workload(database, "w", labels={"app": "w"})
    with database.write() as s:
        update_node_status(session=s, node_id=node_id, status=NodeStatus(state=NodeState.READY))
        iid = create_instance(
            session=s, spec=InstanceSpec(workload_id=wid, node_id=node_id, replica=0)
        ).metadata.id
    with database.session() as s:
        assert list_nodes(session=s).items == [read_node(session=s, ref=node_id)]
        assert list_workloads(session=s).items == [read_workload(session=s, ref=wid)]
        assert list_instances(session=s).items == [read_instance(session=s, ref=iid)]
