"""``/api/v1/edge/nodes``: register, list, read, reconfigure and remove edge nodes."""

from fastapi import APIRouter, Depends, Query, Response, status

from edgeorch.api.auth import (
    Principal,
    get_database,
    require_read,
    require_write,
    tenant_for_read,
    tenant_for_write,
)
from edgeorch.api.events import record_about
from edgeorch.api.params import PageParams, label_selector, page_params, tenant_query
from edgeorch.api.responses import json_model
from edgeorch.domain.enums import EdgeType, NodeState
from edgeorch.schemas.envelope import ListMeta, ObjectList
from edgeorch.schemas.node import Node, NodeConfigUpdate, NodeCreate
from edgeorch.store import (
    Database,
    LabelSelector,
    create_node,
    delete_node,
    list_nodes,
    read_node,
    update_node_config,
)

router = APIRouter(prefix="/edge/nodes", tags=["nodes"])


@router.get("", response_model=ObjectList[Node], response_model_by_alias=True)
def get_nodes(
    region: str | None = Query(None, description="only nodes in this region"),
    edge_type: EdgeType | None = Query(None, description="only nodes of this edge type"),
    status_: NodeState | None = Query(None, alias="status", description="only nodes in state"),
    selector: LabelSelector | None = Depends(label_selector),
    page: PageParams = Depends(page_params),
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """List nodes, filtered and paginated (ordered by name)."""
    with database.session() as session:
        result = list_nodes(
            session=session,
            tenant=tenant_for_read(principal, tenant),
            region=region,
            edge_type=edge_type,
            state=status_,
            label_selector=selector,
            limit=page.limit,
            continue_token=page.continue_token,
        )
    body = ObjectList[Node](
        kind="NodeList",
        metadata=ListMeta(revision=result.revision, continue_=result.continue_token),
        items=result.items,
    )
    return json_model(body)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Node)
def post_node(
    body: NodeCreate,
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> Response:
    """Register a node. It stays ``pending`` until an agent joins as it."""
    tenant = tenant_for_write(principal, body.metadata.tenant)
    with database.write() as session:
        node = create_node(session=session, node=body, tenant=tenant)
        record_about(
            session,
            node,
            reason="NodeRegistered",
            message=f"node {node.metadata.name} registered in {node.spec.region} "
            f"({node.spec.edge_type.value}, {node.spec.country}); pending until its agent joins",
        )
    answer = json_model(node, status.HTTP_201_CREATED)
    answer.headers["Location"] = f"/api/v1/edge/nodes/{node.metadata.id}"
    return answer


@router.get("/{ref}", response_model=Node)
def get_node(
    ref: str,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Node:
    """Read one node by id, name or unambiguous id prefix."""
    with database.session() as session:
        return read_node(session=session, ref=ref, tenant=tenant_for_read(principal, tenant))


@router.put("/{ref}/config", response_model=Node)
def put_node_config(
    ref: str,
    body: NodeConfigUpdate,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> Node:
    """Replace a node's spec (and labels when given); a stale ``resource_version`` is a 409."""
    with database.write() as session:
        node = update_node_config(
            session=session,
            ref=ref,
            tenant=tenant_for_read(principal, tenant),
            spec=body.spec,
            labels=body.labels,
            expected_version=body.resource_version,
        )
        record_about(
            session,
            node,
            reason="NodeReconfigured",
            message=f"node {node.metadata.name} configuration updated "
            f"(scheduling {node.spec.scheduling.value})",
        )
    return node


@router.delete("/{ref}", response_model=Node)
def remove_node(
    ref: str,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> Node:
    """Remove a node; answers with the node as it was."""
    with database.write() as session:
        node = delete_node(session=session, ref=ref, tenant=tenant_for_read(principal, tenant))
        record_about(
            session,
            node,
            reason="NodeRemoved",
            message=f"node {node.metadata.name} removed",
        )
    return node
