"""``/api/v1/instances``: the replicas of workloads and where they run."""

from fastapi import APIRouter, Depends, Query, Response

from edgeorch.api.auth import Principal, get_database, require_read, tenant_for_read
from edgeorch.api.params import PageParams, page_params, tenant_query
from edgeorch.api.responses import page_json
from edgeorch.domain.enums import InstanceState
from edgeorch.schemas.envelope import ObjectList
from edgeorch.schemas.instance import Instance
from edgeorch.store import Database, list_instances, read_node, read_workload

router = APIRouter(prefix="/instances", tags=["instances"])


@router.get("", response_model=ObjectList[Instance])
def get_instances(
    workload: str | None = Query(None, description="workload id or name"),
    node: str | None = Query(None, description="node id or name"),
    state: InstanceState | None = Query(None, description="only instances in this state"),
    page: PageParams = Depends(page_params),
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """List instances, filtered by workload, node and state."""
    scope = tenant_for_read(principal, tenant)
    with database.session() as session:
        workload_id = (
            read_workload(session=session, ref=workload, tenant=scope).metadata.id
            if workload
            else None
        )
        node_id = read_node(session=session, ref=node, tenant=scope).metadata.id if node else None
        result = list_instances(
            session=session,
            tenant=scope,
            workload_id=workload_id,
            node_id=node_id,
            state=state,
            limit=page.limit,
            continue_token=page.continue_token,
        )
    return page_json("InstanceList", result)
