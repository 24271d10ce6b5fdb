"""Node repository: register, address, list, reconfigure, report status, delete."""

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from edgeorch.domain.enums import EdgeType, InstanceState, NodeState
from edgeorch.schemas.node import Node, NodeCreate, NodeSpec, NodeStatus
from edgeorch.schemas.tenant import DEFAULT_TENANT
from edgeorch.store.pagination import DocumentPage, Page
from edgeorch.store.selectors import LabelSelector
from edgeorch.store.sql import objects
from edgeorch.store.sql.objects import stamp
from edgeorch.store.sql.orm import InstanceRow, NodeRow

KIND = "Node"


def to_node(row: NodeRow) -> Node:
    """The API model of a row."""
    return Node(
        metadata=objects.metadata(row),
        spec=NodeSpec.model_validate(row.spec),
        status=NodeStatus.model_validate(row.status),
    )


def create_node(
    *,
    session: Session,
    node: NodeCreate,
    tenant: str | None = None,
    state: NodeState = NodeState.PENDING,
) -> Node:
    """Register a node; its status starts in ``state`` (``pending`` until an agent joins)."""
    tenant = objects.resolve_tenant(tenant, node.metadata.tenant, DEFAULT_TENANT)
    objects.require_tenant(session, tenant)
    objects.check_name_free(session, NodeRow, KIND, node.metadata.name, tenant)
    status = NodeStatus(state=state)
    values = {
        "id": objects.new_id(),
        "tenant": tenant,
        "name": node.metadata.name,
        "labels": dict(node.metadata.labels),
        "spec": node.spec.model_dump(mode="json"),
        "status": status.model_dump(mode="json"),
        "region": node.spec.region,
        "edge_type": node.spec.edge_type.value,
        "state": status.state.value,
    }
    meta = objects.insert_new(session, NodeRow, KIND, values)
    # The spec was validated as the request's; the stored JSON is its dump, so it is reused.
    return Node(metadata=meta, spec=node.spec, status=status)


def read_node(*, session: Session, ref: str, tenant: str | None = DEFAULT_TENANT) -> Node:
    """The node named by id, name or unambiguous id prefix; ``tenant=None`` searches all."""
    return to_node(objects.find(session, NodeRow, KIND, ref, tenant))


def list_nodes(
    *,
    session: Session,
    tenant: str | None = DEFAULT_TENANT,
    region: str | None = None,
    edge_type: EdgeType | str | None = None,
    state: NodeState | str | None = None,
    label_selector: LabelSelector | str | None = None,
    limit: int = 100,
    continue_token: str | None = None,
) -> Page[Node]:
    """A page of nodes in (name, id) order; every filter given must hold."""
    return objects.list_page(
        session,
        model=NodeRow,
        output=Node,
        kind=KIND,
        tenant=tenant,
        where=_filters(region, edge_type, state),
        label_selector=label_selector,
        limit=limit,
        continue_token=continue_token,
    )


def list_node_documents(
    *,
    session: Session,
    tenant: str | None = DEFAULT_TENANT,
    region: str | None = None,
    edge_type: EdgeType | str | None = None,
    state: NodeState | str | None = None,
    label_selector: LabelSelector | str | None = None,
    limit: int = 100,
    continue_token: str | None = None,
) -> DocumentPage:
    """:func:`list_nodes` as the JSON texts the API answers (``objects.list_documents``)."""
    return objects.list_documents(
        session,
        model=NodeRow,
        kind=KIND,
        tenant=tenant,
        where=_filters(region, edge_type, state),
        label_selector=label_selector,
        limit=limit,
        continue_token=continue_token,
    )


def _filters(
    region: str | None, edge_type: EdgeType | str | None, state: NodeState | str | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if region is not None:
        where.append(NodeRow.region == region)
    if edge_type is not None:
        where.append(NodeRow.edge_type == str(edge_type))
    if state is not None:
        where.append(NodeRow.state == str(state))
    return where


def update_node_config(
    *,
    session: Session,
    ref: str,
    tenant: str | None = DEFAULT_TENANT,
    spec: NodeSpec,
    labels: dict[str, str] | None = None,
    expected_version: int | None = None,
) -> Node:
    """Replace a node's spec, and its labels unless ``labels`` is None."""
    row = objects.find(session, NodeRow, KIND, ref, tenant)
    objects.check_version(KIND, row, expected_version)
    row.spec = spec.model_dump(mode="json")
    row.region = spec.region
    row.edge_type = spec.edge_type.value
    labels_changed = labels is not None and labels != row.labels
    if labels is not None:
        row.labels = dict(labels)
    stamp(session, KIND, row, "updated", labels_changed=labels_changed)
    return to_node(row)


def update_node_status(
    *,
    session: Session,
    node_id: str,
    status: NodeStatus,
    expected_version: int | None = None,
) -> Node:
    """Replace a node's status (agents and the node-lifecycle controller)."""
    row = objects.find(session, NodeRow, KIND, node_id, None)
    objects.check_version(KIND, row, expected_version)
    row.status = status.model_dump(mode="json")
    row.state = status.state.value
    stamp(session, KIND, row, "updated")
    return to_node(row)


def delete_node(
    *,
    session: Session,
    ref: str,
    tenant: str | None = DEFAULT_TENANT,
    expected_version: int | None = None,
) -> Node:
    """Delete a node. Its instances are unbound and marked ``lost`` so that the reconciler
    replaces them; its tokens are deleted with it."""
    row = objects.find(session, NodeRow, KIND, ref, tenant)
    objects.check_version(KIND, row, expected_version)
    node = to_node(row)
    _unbind_instances(session, row)
    stamp(session, KIND, row, "deleted")
    return node


def _unbind_instances(session: Session, node: NodeRow) -> None:
    bound = session.scalars(select(InstanceRow).where(InstanceRow.node_id == node.id)).all()
    for inst in bound:
        inst.node_id = None
        inst.spec = {**inst.spec, "node_id": None}
        message = f"node {node.name!r} was deleted"
        inst.status = {**inst.status, "state": InstanceState.LOST.value, "message": message}
        inst.state = InstanceState.LOST.value
        stamp(session, "Instance", inst, "updated")
