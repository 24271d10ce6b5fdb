"""``/api/v1/workloads``: deploy, list, read, update, scale and remove workloads."""

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
from edgeorch.domain.enums import Runtime
from edgeorch.schemas.envelope import ListMeta, ObjectList
from edgeorch.schemas.workload import ScaleRequest, Workload, WorkloadCreate, WorkloadUpdate
from edgeorch.store import (
    Database,
    LabelSelector,
    create_workload,
    delete_workload,
    list_workloads,
    read_workload,
    scale_workload,
    update_workload,
)

router = APIRouter(prefix="/workloads", tags=["workloads"])


@router.get("", response_model=ObjectList[Workload])
def get_workloads(
    runtime: Runtime | None = Query(None, description="only workloads of this runtime"),
    selector: LabelSelector | None = Depends(label_selector),
    page: PageParams = Depends(page_params),
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """List workloads, filtered and paginated (ordered by name)."""
    with database.session() as session:
        result = list_workloads(
            session=session,
            tenant=tenant_for_read(principal, tenant),
            runtime=runtime,
            label_selector=selector,
            limit=page.limit,
            continue_token=page.continue_token,
        )
    body = ObjectList[Workload](
        kind="WorkloadList",
        metadata=ListMeta(revision=result.revision, continue_=result.continue_token),
        items=result.items,
    )
    return json_model(body)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Workload)
def post_workload(
    body: WorkloadCreate,
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> Response:
    """Deploy a workload."""
    tenant = tenant_for_write(principal, body.metadata.tenant)
    with database.write() as session:
        workload = create_workload(session=session, workload=body, tenant=tenant)
        record_about(
            session,
            workload,
            reason="WorkloadCreated",
            message=f"workload {workload.metadata.name} created "
            f"({workload.spec.runtime.value}, {workload.status.desired_replicas} replica(s))",
        )
    answer = json_model(workload, status.HTTP_201_CREATED)
    answer.headers["Location"] = f"/api/v1/workloads/{workload.metadata.id}"
    return answer


@router.get("/{ref}", response_model=Workload)
def get_workload(
    ref: str,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Workload:
    """Read one workload by id, name or unambiguous id prefix."""
    with database.session() as session:
        return read_workload(session=session, ref=ref, tenant=tenant_for_read(principal, tenant))


@router.put("/{ref}", response_model=Workload)
def put_workload(
    ref: str,
    body: WorkloadUpdate,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> Workload:
    """Replace a workload's spec and labels; a stale ``metadata.resource_version`` is a 409."""
    with database.write() as session:
        workload = update_workload(
            session=session,
            ref=ref,
            tenant=tenant_for_read(principal, tenant or body.metadata.tenant),
            workload=body,
            expected_version=body.metadata.resource_version,
        )
        record_about(
            session,
            workload,
            reason="WorkloadUpdated",
            message=f"workload {workload.metadata.name} updated "
            f"(generation {workload.status.generation})",
        )
    return workload


@router.put("/{ref}/scale", response_model=Workload)
def put_workload_scale(
    ref: str,
    body: ScaleRequest,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> Workload:
    """Set a workload's replica count."""
    with database.write() as session:
        before = read_workload(session=session, ref=ref, tenant=tenant_for_read(principal, tenant))
        workload = scale_workload(
            session=session,
            ref=before.metadata.id,
            tenant=before.metadata.tenant,
            replicas=body.replicas,
            expected_version=body.resource_version,
        )
        record_about(
            session,
            workload,
            reason="WorkloadScaled",
            message=f"workload {workload.metadata.name} scaled from "
            f"{before.status.desired_replicas} to {workload.status.desired_replicas} replica(s)",
        )
    return workload


@router.delete("/{ref}", response_model=Workload)
def remove_workload(
    ref: str,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> Workload:
    """Remove a workload and its instances; answers with the workload as it was."""
    with database.write() as session:
        workload = delete_workload(
            session=session, ref=ref, tenant=tenant_for_read(principal, tenant)
        )
        record_about(
            session,
            workload,
            reason="WorkloadDeleted",
            message=f"workload {workload.metadata.name} deleted",
        )
    return workload
