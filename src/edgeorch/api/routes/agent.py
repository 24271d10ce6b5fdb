"""``/api/v1/agent``: the edge agent's outbound API (see ``edgeorch.agent.protocol``).

``POST /agent/join`` needs a ``join`` token; every other endpoint needs the ``node`` credential of
the node in the path (another node's id is a 403). Operator tokens are refused here, and node
credentials are refused by the operator API (``api/auth.py``).
"""

import os
import re
import threading
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import QueryParams
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from edgeorch.agent.presence import Presence, ready_status
from edgeorch.agent.protocol import (
    AssignmentItem,
    AssignmentSet,
    Heartbeat,
    HeartbeatAck,
    JoinRequest,
    JoinResponse,
)
from edgeorch.agent.watch import AssignmentHub, wait_for_assignments
from edgeorch.api.auth import (
    Principal,
    authenticate_async,
    get_database,
)
from edgeorch.api.events import record
from edgeorch.api.heartbeats import HeartbeatState, NodeView, changed_reports, wait_durable
from edgeorch.api.problems import ApiProblem, body_problem
from edgeorch.controllers.rollout import spec_for_instance
from edgeorch.domain.enums import TokenRole
from edgeorch.schemas.node import NodeCreate, NodeStatus
from edgeorch.store import (
    Assignments,
    Database,
    join_node,
)
from edgeorch.telemetry.recorder import TelemetryRecorder

router = APIRouter(prefix="/agent", tags=["agent"])

DEFAULT_MAX_WATCH_SECONDS = 60.0
_SINGLETONS_LOCK = threading.Lock()


def max_watch_seconds() -> float:
    """The longest a watch may wait: ``EDGEORCH_AGENT_MAX_WATCH_SECONDS`` or 60 s."""
    text = os.environ.get("EDGEORCH_AGENT_MAX_WATCH_SECONDS", "")
    try:
        return float(text) if text else DEFAULT_MAX_WATCH_SECONDS
    except ValueError as exc:
        raise ValueError(
            f"EDGEORCH_AGENT_MAX_WATCH_SECONDS={text!r} is not a number of seconds"
        ) from exc


def _forbidden(detail: str) -> ApiProblem:
    return ApiProblem(403, "Forbidden", detail)


async def require_join(principal: Principal = Depends(authenticate_async)) -> Principal:
    """Only a join token may join. ``async``: a plain ``def`` dependency costs a worker-thread
    round trip per request; a join token is looked up in the store (one trip) anyway."""
    if principal.role is not TokenRole.JOIN:
        raise _forbidden(
            f"a {principal.role.value} token may not join a node; create a join token with "
            "'edgeorch token create --join'"
        )
    return principal


async def require_node(node_id: str, request: Request) -> Principal:
    """Only the node credential of ``node_id`` may act as that node. ``async``, so a cached
    credential is checked on the event loop, without a worker-thread round trip per beat."""
    principal = await authenticate_async(request)
    if principal.role is not TokenRole.NODE:
        raise _forbidden(
            f"a {principal.role.value} token may not use the agent API; it needs the node "
            "credential the agent received when it joined"
        )
    if principal.node_id != node_id:
        raise _forbidden(
            f"this credential belongs to node {principal.node_id}; it may not act as node {node_id}"
        )
    return principal


def _app_singletons(request: Request) -> tuple[Presence, AssignmentHub]:
    state = request.app.state
    with _SINGLETONS_LOCK:
        if getattr(state, "agent_presence", None) is None:
            # The app's lifespan closes the hub and the heartbeat state (api/app.py).
            state.agent_hub = AssignmentHub(state.database)
            state.agent_presence = Presence()
            state.heartbeats = HeartbeatState(state.database, state.agent_presence)
    return state.agent_presence, state.agent_hub


@router.post("/join", response_model=JoinResponse)
def post_join(
    body: JoinRequest,
    request: Request,
    principal: Principal = Depends(require_join),
    database: Database = Depends(get_database),
) -> JoinResponse:
    """Bind to the pre-registered node of this name, or register a new one, and answer the
    node's credential. The join token is used up."""
    new_node = None
    missing = body.facts.missing_for_new_node()
    with database.write() as session:
        if not missing:
            new_node = _new_node(body)
        result = join_node(
            session=session,
            tenant=principal.tenant,
            name=body.name,
            join_token_id=principal.token_id,
            new_node=new_node,
            measured=body.measured.model_dump(mode="json"),
            agent=body.agent,
        )
        node = result.node
        how = "registered and joined" if result.created else "joined"
        record(
            session,
            tenant=node.metadata.tenant,
            kind="Node",
            object_id=node.metadata.id,
            name=node.metadata.name,
            reason="NodeJoined",
            message=f"agent {how} as node {node.metadata.name} "
            f"({node.spec.arch.value}, capabilities: {', '.join(node.spec.capabilities)})",
        )
    request.app.state.token_cache.forget(result.revoked)
    return JoinResponse(
        node_id=node.metadata.id,
        node_name=node.metadata.name,
        tenant=node.metadata.tenant,
        created=result.created,
        credential=result.credential.secret,
        credential_id=result.credential.id,
    )


def _new_node(body: JoinRequest) -> NodeCreate:
    facts = body.facts
    spec: dict[str, Any] = {
        "edge_type": facts.edge_type,
        "region": facts.region,
        "location": {"latitude": facts.latitude, "longitude": facts.longitude},
        "country": facts.country,
        "cost_per_hour": facts.cost_per_hour or 0.0,
        **body.measured.model_dump(mode="json"),
    }
    if facts.zone is not None:
        spec["zone"] = facts.zone
    return NodeCreate.model_validate(
        {"metadata": {"name": body.name, "labels": body.labels}, "spec": spec}
    )


HEARTBEAT_PATH = "/agent/nodes/{node_id}/heartbeat"


@router.post(HEARTBEAT_PATH.removeprefix("/agent"), response_model=HeartbeatAck)
async def post_heartbeat(
    node_id: str,
    body: Heartbeat,
    request: Request,
    principal: Principal = Depends(require_node),
) -> Response:
    """Record the node's utilization and its instances' states.

    Served from memory (``edgeorch.api.heartbeats``): the store is read on the node's first
    beat after a start or after another writer changed it, and written only when something
    changed (answered once durable) or every few minutes (group-committed, answered at once).

    This route documents the call (OpenAPI); the app serves it through :func:`lane_routes`,
    ahead of the router, with the same code (:func:`_beat`)."""
    return await _beat(request, node_id, body)


async def _heartbeat_lane(request: Request) -> Response:
    node_id = str(request.path_params["node_id"])
    await require_node(node_id, request)
    raw = await request.body()
    try:
        body = Heartbeat.model_validate_json(raw)
    except ValidationError as exc:
        raise body_problem(exc, Heartbeat) from None
    return await _beat(request, node_id, body)


def lane_routes(prefix: str) -> list[BaseRoute]:
    """The heartbeat and the assignment watch as plain Starlette routes, to be placed ahead of
    the API router.

    At 10,000 agents beating every 10 s the heartbeat is 1,000 requests a second; FastAPI's
    route matching over fifteen included routers and its dependency solving cost about a third
    of each (docs/benchmarks.md). This route matches first and does the same work by hand:
    the node credential check (:func:`require_node`), the body parsed straight into the
    :class:`Heartbeat` model (an invalid body is the same problem+json as elsewhere). The
    middlewares (body size limit, metrics) and exception handlers still apply.

    Each agent also keeps a watch parked for up to a minute, 10,000 at a time. Through FastAPI
    each also held its dependency solving's exit stacks, a second request object and more
    coroutines: a census of the server's heap counted ~315 tracked objects per agent before
    this lane and ~270 after (``bench/server_heap.py``, docs/benchmarks.md)."""
    return [
        _LaneRoute(prefix + HEARTBEAT_PATH, _heartbeat_lane, methods=["POST"]),
        _WatchLaneRoute(prefix + ASSIGNMENTS_PATH, _watch_lane, methods=["GET"]),
    ]


class _LaneRoute(Route):
    """A Starlette route that names itself in ``scope["route"]`` as FastAPI's routes do, so
    the request metrics label it with its template (``observability/server.py``)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self
        return match, child


_WHOLE = re.compile(r"[0-9]{1,18}")
_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{0,9})?")
_WATCH_QUERY = "edgeorch.watch_query"  # scope key: (since, digest, timeout) parsed by the lane


class _WatchLaneRoute(_LaneRoute):
    """The watch lane takes only requests whose ``since`` and ``timeout`` are plain decimal
    numbers (what agents send), parsed once here into the scope; any other query goes on to
    the documented FastAPI route, which parses it and answers its errors as every other route
    does."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.FULL:
            query = _plain_watch_query(scope.get("query_string", b""))
            if query is None:
                return Match.NONE, {}
            child[_WATCH_QUERY] = query
        return match, child


def _plain_watch_query(raw: bytes) -> tuple[int, str | None, float] | None:
    """``(since, digest, timeout)`` of a plain watch query, None for any other."""
    query = QueryParams(raw)
    since, timeout = query.get("since", "0"), query.get("timeout", "0")
    if _WHOLE.fullmatch(since) is None or _DECIMAL.fullmatch(timeout) is None:
        return None
    return int(since), query.get("digest"), float(timeout)


async def _beat(request: Request, node_id: str, body: Heartbeat) -> Response:
    presence, _ = _app_singletons(request)
    state = request.app.state
    beats: HeartbeatState = state.heartbeats
    now = state.clock()
    presence.seen(node_id, now)
    view = beats.view(node_id)
    reported = [r.id for r in body.instances]
    if view is None or _unknown(view, reported):
        view = await run_in_threadpool(beats.load, node_id, reported=reported)
    node, bound = view.node, view.bound
    state.heartbeat_book.record(node, body.utilization, now)  # metrics
    changed = changed_reports(body.instances, bound)
    stored = node.status
    ingress = body.ingress or ""
    agent_facts = stored.agent
    if agent_facts.get("ingress") != ingress:
        agent_facts = {**agent_facts, "ingress": ingress}
    fresh = ready_status(
        stored, now=now, utilization=body.utilization, instances=len(bound), agent=agent_facts
    )
    telemetry: TelemetryRecorder = state.telemetry
    telemetry.heartbeat(
        node=node, utilization=body.utilization, stats=body.telemetry, bound=bound, now=now
    )
    persist = presence.should_persist(node_id, stored, fresh)
    updated = 0
    if persist or changed:
        urgent = bool(changed) or _changes_state(stored, fresh)
        waiter = beats.submit(
            node_id,
            node_name=node.metadata.name,
            status=fresh if persist else None,
            base_version=node.metadata.resource_version,
            reports=[report for report, _ in changed],
            urgent=urgent,
        )
        if persist:
            presence.persisted(node_id)
        if waiter is not None:
            updated = await wait_durable(waiter)
    if telemetry.due():
        await run_in_threadpool(telemetry.maybe_flush, state.database, now)
    ack = HeartbeatAck(state=fresh.state, persisted=persist, instances_updated=updated)
    # Already an ack: answered as is, not validated a second time against response_model.
    return Response(ack.model_dump_json(), media_type="application/json")


def _unknown(view: NodeView, reported: list[str]) -> bool:
    """Whether the agent reports an instance the view neither holds nor found missing when it
    was read: it may have been bound here since, so the node is read again."""
    return any(iid not in view.bound and iid not in view.ignored for iid in reported)


def _changes_state(stored: NodeStatus, fresh: NodeStatus) -> bool:
    """A change controllers react to (not just a newer timestamp or utilization)."""
    return (
        stored.state is not fresh.state
        or stored.instances != fresh.instances
        or stored.agent != fresh.agent
    )


ASSIGNMENTS_PATH = "/agent/nodes/{node_id}/assignments"


@router.get(ASSIGNMENTS_PATH.removeprefix("/agent"), response_model=AssignmentSet)
async def get_assignments(
    node_id: str,
    request: Request,
    since: int = Query(0, ge=0, description="the revision of the set the agent has"),
    digest: str | None = Query(None, description="the digest of the set the agent has"),
    timeout: float = Query(0.0, ge=0, description="seconds to wait for a change"),
    principal: Principal = Depends(require_node),
) -> Response:
    """The node's assignments. With ``digest``, waits up to ``timeout`` seconds (capped by the
    server) for them to differ from it; ``changed`` says whether they do.

    This route documents the call and answers the requests the lane leaves to it (a query it
    does not parse, see :class:`_WatchLaneRoute`); the same code (:func:`_assignments`)."""
    return await _assignments(request, node_id, since, digest, timeout)


async def _watch_lane(request: Request) -> Response:
    node_id = str(request.path_params["node_id"])
    await require_node(node_id, request)
    since, digest, timeout = request.scope[_WATCH_QUERY]  # parsed by _WatchLaneRoute.matches
    return await _assignments(request, node_id, since, digest, timeout)


async def _assignments(
    request: Request, node_id: str, since: int, digest: str | None, timeout: float
) -> Response:
    _, hub = _app_singletons(request)
    database: Database = request.app.state.database
    current, changed = await wait_for_assignments(
        database,
        hub,
        node_id=node_id,
        digest=digest,
        timeout=min(timeout, max_watch_seconds()),
    )
    if current.revision < since:
        # The agent has seen a newer store than this one (e.g. a restored backup): answer the
        # set anyway, the agent decides; never hide a divergence.
        changed = True
    if changed and current.items:
        answer = await run_in_threadpool(_to_set, node_id, current, changed)
    else:  # most answers: a watch that timed out, or an empty set (no thread hop for these)
        answer = _to_set(node_id, current, changed)
    if answer.items:
        # A migration target learns which hand-off to wait for (docs/migrations.md). Imported
        # here because the migrations routes import this module's require_node.
        from edgeorch.api.routes.migrations import target_directives

        ids = [item.instance_id for item in answer.items]
        directives = await run_in_threadpool(target_directives, database, ids)
        for item in answer.items:
            item.migration = directives.get(item.instance_id)
    # Built from validated models: answered as is, not validated again against response_model.
    return Response(answer.model_dump_json(), media_type="application/json")


def _to_set(node_id: str, current: Assignments, changed: bool) -> AssignmentSet:
    items = [
        AssignmentItem(
            instance_id=a.instance.metadata.id,
            instance_name=a.instance.metadata.name,
            replica=a.instance.spec.replica,
            generation=a.instance.spec.generation,
            desired_state=a.instance.spec.desired_state,
            workload_id=a.workload.metadata.id,
            workload_name=a.workload.metadata.name,
            # The template of the instance's own revision (rolling updates, rollout.py).
            workload_spec=spec_for_instance(a.workload, a.instance.spec.generation),
        )
        for a in (current.items if changed else [])
    ]
    return AssignmentSet(
        node_id=node_id,
        revision=current.revision,
        digest=current.digest,
        changed=changed,
        items=items,
    )
