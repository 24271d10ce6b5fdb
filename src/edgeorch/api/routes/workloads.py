"""``/api/v1/workloads``: deploy, list, read, update, scale and remove workloads."""

from typing import Any

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

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
from edgeorch.api.problems import ApiProblem
from edgeorch.api.responses import json_model, page_documents
from edgeorch.controllers.rollout import (
    previous_revision,
    revision_of,
    roll_back,
    template_hash,
)
from edgeorch.controllers.rollout import summary as rollout_summary
from edgeorch.domain.enums import NodeState, Runtime
from edgeorch.schemas.envelope import ObjectList
from edgeorch.schemas.workload import (
    RolloutStatus,
    ScaleRequest,
    Workload,
    WorkloadCreate,
    WorkloadUpdate,
)
from edgeorch.store import (
    Database,
    LabelSelector,
    NotFound,
    create_workload,
    delete_workload,
    list_instances,
    read_node,
    read_workload,
    scale_workload,
    update_workload,
)
from edgeorch.store.sql.workloads import list_workload_documents

router = APIRouter(prefix="/workloads", tags=["workloads"])


# The list and the create are ``async`` routes with ``async`` dependencies, running the store
# work in one worker thread (see routes/nodes.py for why).


@router.get("", response_model=ObjectList[Workload])
async def get_workloads(
    runtime: Runtime | None = Query(None, description="only workloads of this runtime"),
    selector: LabelSelector | None = Depends(label_selector),
    page: PageParams = Depends(page_params),
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> Response:
    """List workloads, filtered and paginated (ordered by name)."""
    scope = tenant_for_read(principal, tenant)

    def read() -> Response:
        with database.session() as session:
            result = list_workload_documents(
                session=session,
                tenant=scope,
                runtime=runtime,
                label_selector=selector,
                limit=page.limit,
                continue_token=page.continue_token,
            )
        return page_documents("WorkloadList", result)

    return await run_in_threadpool(read)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Workload)
async def post_workload(
    body: WorkloadCreate,
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> Response:
    """Deploy a workload."""
    tenant = tenant_for_write(principal, body.metadata.tenant)

    def write() -> Workload:
        with database.write() as session:
            created = create_workload(session=session, workload=body, tenant=tenant)
            record_about(
                session,
                created,
                reason="WorkloadCreated",
                message=f"workload {created.metadata.name} created "
                f"({created.spec.runtime.value}, {created.status.desired_replicas} replica(s))",
            )
        return created

    workload = await run_in_threadpool(write)
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


# -- rollouts (docs/operations.md) ------------------------------------------------------------


class RolloutView(BaseModel):
    """``GET /workloads/{id}/rollout``: the current revision, the counts, the latest rollout
    and the revision history (newest last)."""

    workload: str
    generation: int
    observed_generation: int
    revision: int
    desired: int
    updated: int
    available: int
    unavailable: int
    old: int
    rollout: RolloutStatus | None
    revisions: list[dict[str, Any]]


class UndoRequest(BaseModel):
    """Body of ``POST /workloads/{id}/rollout/undo``; without ``to_revision``, the previous one."""

    model_config = ConfigDict(extra="forbid")

    to_revision: int | None = Field(default=None, ge=1)


@router.get("/{ref}/rollout", response_model=RolloutView)
def get_rollout(
    ref: str,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> RolloutView:
    """The workload's rollout status: generation, updated/available/unavailable counts, state."""
    with database.session() as session:
        workload = read_workload(
            session=session, ref=ref, tenant=tenant_for_read(principal, tenant)
        )
        instances = list_instances(
            session=session, tenant=None, workload_id=workload.metadata.id, limit=1000
        ).items
        ready = {}
        for node_id in {i.spec.node_id for i in instances if i.spec.node_id is not None}:
            try:
                node = read_node(session=session, ref=node_id, tenant=None)
            except NotFound:
                continue  # removed meanwhile: its instances are not available
            ready[node_id] = node.status.state is NodeState.READY
    counts = rollout_summary(workload, instances, ready)
    status = workload.status
    return RolloutView(
        workload=workload.metadata.name,
        generation=status.generation,
        observed_generation=status.observed_generation,
        revision=status.revision,
        rollout=status.rollout,
        revisions=[
            {
                "number": r.number,
                "created_at": r.created_at,
                "artifact": r.template.get("artifact", {}),
                "current": r.number == status.revision,
            }
            for r in status.revisions
        ],
        **counts,
    )


@router.post("/{ref}/rollout/undo", response_model=Workload)
def post_rollout_undo(
    ref: str,
    body: UndoRequest | None = None,
    tenant: str | None = Depends(tenant_query),
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> Workload:
    """Go back to the previous revision (or ``to_revision``): the spec's template is written
    back and rolled out like any change; a 409 when there is nothing to go back to."""
    wanted = body.to_revision if body is not None else None
    with database.write() as session:
        workload = read_workload(
            session=session, ref=ref, tenant=tenant_for_read(principal, tenant)
        )
        target = previous_revision(workload) if wanted is None else revision_of(workload, wanted)
        if target is None:
            kept = ", ".join(str(r.number) for r in workload.status.revisions) or "none"
            what = "no earlier revision" if wanted is None else f"no revision {wanted}"
            raise ApiProblem(
                409,
                "Conflict",
                f"workload {workload.metadata.name!r} has {what} to go back to (revisions kept: "
                f"{kept}; current: {workload.status.revision})",
            )
        if target.hash == template_hash(workload.spec):
            raise ApiProblem(
                409,
                "Conflict",
                f"workload {workload.metadata.name!r} already runs revision {target.number}'s "
                "template; pick another revision",
            )
        return roll_back(
            session,
            workload,
            target,
            why=f"undo requested (to revision {target.number})",
            automatic=False,
        )
