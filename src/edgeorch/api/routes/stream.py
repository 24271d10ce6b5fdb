"""``GET /api/v1/stream``: the change feed as server-sent events, for the dashboard.

One message per pass of the shared reader (``edgeorch.api.feedhub``)::

    id: 1234
    event: changes
    data: {"revision": 1234, "changes": [{"kind": "Node", "op": "updated", "id": "...",
           "name": "...", "revision": 1233, "object": {...compact record...}}, ...]}

``id`` is the revision: a client reconnects with ``?since=`` (or the ``Last-Event-ID`` header
EventSource sends) and misses nothing. A client too far behind gets ``event: reset`` with the
revision to reload at, and the stream ends. A comment line (``: keepalive``) every
``HEARTBEAT_SECONDS`` keeps proxies from closing an idle stream.

The stream needs the same bearer token as the rest of the API (header, never the URL, so it
never reaches an access log); the dashboard reads it with ``fetch()`` and a stream reader, since
EventSource cannot send headers.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from edgeorch.api.auth import Principal, require_read, tenant_for_read
from edgeorch.api.feedhub import (
    ResetNeeded,
    StreamHub,
    TooManyClients,
    max_clients_from_env,
    visible,
)
from edgeorch.api.problems import ApiProblem

router = APIRouter(tags=["stream"])

HEARTBEAT_SECONDS = 15.0
MAX_RECORDS_PER_MESSAGE = 5000


def stream_hub(request: Request) -> StreamHub:
    """The app's hub, made on first use (on the server's event loop)."""
    state = request.app.state
    hub: StreamHub | None = getattr(state, "stream_hub", None)
    if hub is None:
        hub = state.stream_hub = StreamHub(state.database, max_clients=max_clients_from_env())
    return hub


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def get_stream(
    since: int | None = Query(
        None, ge=0, description="resume after this revision (default: from now on)"
    ),
    last_event_id: str | None = Header(None, description="what EventSource sends on reconnect"),
    principal: Principal = Depends(require_read),
    hub: StreamHub = Depends(stream_hub),
) -> StreamingResponse:
    """Node, instance, workload, event (and any other kind's) changes as they are committed."""
    if since is None and last_event_id:
        if not last_event_id.strip().isdigit():
            raise ApiProblem(
                422,
                "Invalid request",
                f"Last-Event-ID {last_event_id!r} is not a revision; it must be a whole number",
            )
        since = int(last_event_id)
    if hub.clients >= hub.max_clients:
        raise ApiProblem(
            503,
            "Too many streams",
            f"this server already serves {hub.clients} streams (EDGEORCH_STREAM_MAX_CLIENTS="
            f"{hub.max_clients}); retry later",
            headers={"Retry-After": "10"},
        )
    tenant = tenant_for_read(principal, None)
    return StreamingResponse(
        _events(hub, since, tenant),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(hub: StreamHub, since: int | None, tenant: str | None) -> AsyncIterator[str]:
    try:
        async with hub.subscribe(since) as start:
            cursor: int = start
            yield f"retry: 2000\nevent: hello\ndata: {json.dumps({'revision': cursor})}\n\n"
            while True:
                try:
                    batches = hub.after(cursor)
                except ResetNeeded as exc:
                    yield _message("reset", exc.head, {"revision": exc.head, "detail": str(exc)})
                    return
                if batches:
                    for frame in _frames(batches, tenant, cursor):
                        yield frame
                    cursor = batches[-1].revision
                elif not await hub.wait(cursor, HEARTBEAT_SECONDS):
                    yield ": keepalive\n\n"
    except TooManyClients as exc:  # lost the race for the last slot after the check above
        yield _message("reset", 0, {"revision": None, "detail": str(exc)})


def _frames(batches: list[Any], tenant: str | None, cursor: int) -> list[str]:
    frames: list[str] = []
    pending: list[dict[str, Any]] = []
    for batch in batches:
        pending.extend(visible(batch.records, tenant, cursor))
        if len(pending) >= MAX_RECORDS_PER_MESSAGE:
            frames.append(_changes(batch.revision, pending))
            pending = []
    last = batches[-1].revision
    if pending or not frames:
        # An empty message still moves the client's resume point past revisions it may not see.
        frames.append(_changes(last, pending))
    return frames


def _changes(revision: int, records: list[dict[str, Any]]) -> str:
    return _message("changes", revision, {"revision": revision, "changes": records})


def _message(event: str, revision: int, data: dict[str, Any]) -> str:
    body = json.dumps(data, separators=(",", ":"))
    return f"id: {revision}\nevent: {event}\ndata: {body}\n\n"
