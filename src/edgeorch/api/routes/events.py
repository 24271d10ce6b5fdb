"""``/api/v1/events``: what the system did and why, newest last."""

from fastapi import APIRouter, Depends, Query, Response

from edgeorch.api.auth import Principal, get_database, require_read, tenant_for_read
from edgeorch.api.params import PageParams, page_params, tenant_query
from edgeorch.api.responses import page_json
from edgeorch.schemas.envelope import ObjectList
from edgeorch.schemas.event import Event
from edgeorch.store import Database, list_events

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=ObjectList[Event])
def get_events(
    kind: str | None = Query(None, description="only events about this kind (Node, Workload…)"),
    object_id: str | None = Query(None, description="only events about this object id"),
    since_revision: int | None = Query(None, ge=0, description="only events after revision"),
    page: PageParams = Depends(page_params),
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """List events in revision order."""
    with database.session() as session:
        result = list_events(
            session=session,
            tenant=tenant_for_read(principal, tenant),
            involved_kind=kind,
            involved_id=object_id,
            since_revision=since_revision,
            limit=page.limit,
            continue_token=page.continue_token,
        )
    return page_json("EventList", result)
