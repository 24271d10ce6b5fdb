"""``/api/v1/edge/nodes``: register, list, read, reconfigure and remove edge nodes."""

import asyncio
import email.message
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from edgeorch.api.auth import (
    WRITE,
    Principal,
    authorize,
    get_database,
    require_read,
    require_write,
    tenant_for_read,
    tenant_for_write,
)
from edgeorch.api.events import record_about
from edgeorch.api.params import PageParams, label_selector, page_params, tenant_query
from edgeorch.api.responses import page_documents
from edgeorch.controllers.rollout import drain_progress
from edgeorch.domain.enums import EdgeType, NodeScheduling, NodeState
from edgeorch.schemas.envelope import ObjectList
from edgeorch.schemas.instance import Instance
from edgeorch.schemas.node import Node, NodeConfigUpdate, NodeCreate
from edgeorch.schemas.workload import Workload
from edgeorch.store import (
    Database,
    LabelSelector,
    create_node,
    delete_node,
    list_instances,
    read_node,
    read_workload,
    update_node_config,
)
from edgeorch.store.database import GROUP_MAX
from edgeorch.store.sql.nodes import list_node_documents

router = APIRouter(prefix="/edge/nodes", tags=["nodes"])


# The list and the registration are ``async`` routes whose dependencies are ``async`` too, and
# the store work runs in ONE worker thread: a plain ``def`` route and its plain dependencies
# each cost a trip through the thread pool (a GIL hand-over each way, up to the 5 ms switch
# interval apiece while the controllers compute), which made most of their latency tail.


@router.get("", response_model=ObjectList[Node], response_model_by_alias=True)
async def get_nodes(
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
    scope = tenant_for_read(principal, tenant)

    def read() -> Response:
        with database.session() as session:
            result = list_node_documents(
                session=session,
                tenant=scope,
                region=region,
                edge_type=edge_type,
                state=status_,
                label_selector=selector,
                limit=page.limit,
                continue_token=page.continue_token,
            )
        return page_documents("NodeList", result)

    return await run_in_threadpool(read)


async def _register_lane(request: Request) -> Response:
    """``POST /api/v1/edge/nodes`` served by hand: the same answers as :func:`post_node`, whose
    route documents the call, without FastAPI's dependency solving and body field machinery.

    Registered on the router ahead of that route, so it is the one that matches. A valid JSON
    registration is parsed and validated in one pass; any other body is read as FastAPI reads
    it, keeping FastAPI's order (a malformed body is a 400 before the token is looked at, an
    invalid one a 422 after it) and its errors, raised as the same ``RequestValidationError``
    to the same problem+json handlers (``tests/api/test_registration_lane.py`` compares).
    ``scope["route"]`` names the documented route, so the request metrics label the call with
    its template and a problem lists its fields.
    """
    request.scope["route"] = _POST_NODE
    raw = await request.body()
    content_type = request.headers.get("content-type")
    body = _valid_node_create(raw, content_type)
    if body is None:  # anything else is read FastAPI's way, in FastAPI's order:
        data = _json_body(raw, content_type)  # a malformed body is a 400 before the token,
        principal = await authorize(request, WRITE)
        body = _node_create(data)  # an invalid one a 422 after it
    else:
        principal = await authorize(request, WRITE)
    return await _register(request, principal, body)


router.add_route(router.prefix, _register_lane, methods=["POST"], include_in_schema=False)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Node)
async def post_node(
    request: Request,
    body: NodeCreate,
    principal: Principal = Depends(require_write),
) -> Response:
    """Register a node. It stays ``pending`` until an agent joins as it."""
    return await _register(request, principal, body)


_POST_NODE = next(r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is post_node)


# Registrations wait for their commit in threads of their own: the event loop's hand-off to a
# plain executor costs about 30 µs of CPU where anyio's ``run_in_threadpool`` (cancel scopes,
# limiter, a Condition-based queue) costs about 47 µs (measured on uvloop, 2026-11-22). As many
# threads as writes may share one group commit (``store/database.py``).
_WRITERS = ThreadPoolExecutor(max_workers=GROUP_MAX, thread_name_prefix="edgeorch-register")


async def _register(request: Request, principal: Principal, body: NodeCreate) -> Response:
    tenant = tenant_for_write(principal, body.metadata.tenant)
    database: Database = request.app.state.database

    def write() -> Node:
        with database.write() as session:
            node = create_node(session=session, node=body, tenant=tenant)
            record_about(
                session,
                node,
                reason="NodeRegistered",
                message=f"node {node.metadata.name} registered in {node.spec.region} "
                f"({node.spec.edge_type.value}, {node.spec.country}); pending until its agent "
                "joins",
            )
        return node

    node = await asyncio.get_running_loop().run_in_executor(_WRITERS, write)
    return Response(
        content=node.model_dump_json(by_alias=True),
        status_code=status.HTTP_201_CREATED,
        headers={"Location": f"/api/v1/edge/nodes/{node.metadata.id}"},
        media_type="application/json",
    )


_MISSING = object()  # an empty body


def _valid_node_create(raw: bytes, content_type: str | None) -> NodeCreate | None:
    """The body as a registration if it is one: JSON parsed and validated in one pass (what
    nearly every request is). None for anything else, which :func:`_json_body` and
    :func:`_node_create` then answer exactly as FastAPI would."""
    if not raw or not _is_json(content_type):
        return None
    try:
        return NodeCreate.model_validate_json(raw)
    except ValidationError:
        return None


def _json_body(raw: bytes, content_type: str | None) -> Any:
    """The request body as FastAPI reads a JSON body parameter: parsed when the content type
    is JSON (400 when that fails), the raw bytes otherwise (which no model accepts), and
    ``_MISSING`` when empty."""
    if not raw:
        return _MISSING
    if not _is_json(content_type):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except Exception as exc:  # undecodable bytes, as FastAPI answers them
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


def _node_create(data: Any) -> NodeCreate:
    """``data`` validated as FastAPI validates a body parameter (the same errors, under
    ``body``)."""
    if data is _MISSING:
        missing = ValidationError.from_exception_data(
            "Field required", [{"type": "missing", "loc": ("body",), "input": {}}]
        ).errors(include_url=False)[0]
        raise RequestValidationError([{**missing, "input": None}])
    try:
        return NodeCreate.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=data) from None


def _is_json(content_type: str | None) -> bool:
    if content_type == "application/json":
        return True
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


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


# -- operations: cordon, uncordon, drain (docs/operations.md) --------------------------------


class DrainStatus(BaseModel):
    """Progress of a node's drain: how many wanted instances are left and why each waits."""

    node_id: str
    node_name: str
    scheduling: NodeScheduling
    left: int
    done: bool
    waiting: list[dict[str, str]]


def _set_scheduling(
    database: Database, ref: str, tenant: str | None, to: NodeScheduling, reason: str, text: str
) -> Node:
    with database.write() as session:
        node = read_node(session=session, ref=ref, tenant=tenant)
        before = node.spec.scheduling
        if before is to:
            return node
        node = update_node_config(
            session=session,
            ref=node.metadata.id,
            tenant=node.metadata.tenant,
            spec=node.spec.model_copy(update={"scheduling": to}),
            expected_version=node.metadata.resource_version,
        )
        record_about(
            session,
            node,
            reason=reason,
            message=f"node {node.metadata.name} {text} (scheduling {before.value} -> {to.value})",
        )
    return node


@router.post("/{ref}/cordon", response_model=Node)
def post_cordon(
    ref: str,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> Node:
    """No new instances on the node; the ones it runs stay. Idempotent."""
    text = "cordoned: no new instances will be placed on it; running ones stay"
    scope = tenant_for_read(principal, tenant)
    return _set_scheduling(database, ref, scope, NodeScheduling.CORDONED, "NodeCordoned", text)


@router.post("/{ref}/uncordon", response_model=Node)
def post_uncordon(
    ref: str,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> Node:
    """Accept new instances again (also ends a drain). Idempotent."""
    text = "uncordoned: new instances may be placed on it again"
    scope = tenant_for_read(principal, tenant)
    return _set_scheduling(database, ref, scope, NodeScheduling.ENABLED, "NodeUncordoned", text)


@router.post("/{ref}/drain", response_model=DrainStatus)
def post_drain(
    ref: str,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> DrainStatus:
    """Cordon the node and move its instances elsewhere, make before break, never taking a
    workload below its ``disruption.min_available``. Answers the progress; poll
    ``GET .../drain`` (or ``edgeorch node drain --wait``) until ``done``."""
    text = (
        "draining: its instances move to other nodes, each replacement started before the "
        "original stops, within every workload's disruption.min_available"
    )
    scope = tenant_for_read(principal, tenant)
    node = _set_scheduling(database, ref, scope, NodeScheduling.DRAINING, "NodeDrainStarted", text)
    return _drain_status(database, node)


@router.get("/{ref}/drain", response_model=DrainStatus)
def get_drain(
    ref: str,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> DrainStatus:
    """What is left on the node and why each instance is still there."""
    with database.session() as session:
        node = read_node(session=session, ref=ref, tenant=tenant_for_read(principal, tenant))
    return _drain_status(database, node)


def _drain_status(database: Database, node: Node) -> DrainStatus:
    with database.session() as session:

        def instances(**where: str) -> list[Instance]:
            out: list[Instance] = []
            token: str | None = None
            while True:
                page = list_instances(
                    session=session, tenant=None, limit=1000, continue_token=token, **where
                )
                out.extend(page.items)
                token = page.continue_token
                if token is None:
                    return out

        here = instances(node_id=node.metadata.id)
        workloads: dict[str, Workload] = {}
        peers: dict[str, list[Instance]] = {}
        for wid in {i.spec.workload_id for i in here if i.spec.desired_state == "running"}:
            workloads[wid] = read_workload(session=session, ref=wid, tenant=None)
            peers[wid] = instances(workload_id=wid)
    progress = drain_progress(node.metadata.id, node.metadata.name, here, workloads, peers)
    return DrainStatus(
        node_id=node.metadata.id,
        node_name=node.metadata.name,
        scheduling=node.spec.scheduling,
        left=progress.left,
        done=progress.done and node.spec.scheduling is NodeScheduling.DRAINING,
        waiting=list(progress.waiting),
    )
