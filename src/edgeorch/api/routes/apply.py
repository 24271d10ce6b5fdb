"""``/api/v1/apply``: create-or-update many objects from one manifest, all or nothing.

Every document is validated first; then all of them are written in ONE transaction, so a
manifest with a bad document, or one whose write conflicts, changes nothing.
"""

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.orm import Session

from edgeorch.api.auth import Principal, get_database, require_write, tenant_for_write
from edgeorch.api.events import record
from edgeorch.api.problems import ApiProblem
from edgeorch.schemas.manifest import (
    ManifestDocument,
    ManifestError,
    parse_documents,
    validate_documents,
)
from edgeorch.schemas.node import NodeCreate
from edgeorch.schemas.tenant import TenantCreate
from edgeorch.schemas.workload import WorkloadCreate, WorkloadUpdate
from edgeorch.store import (
    Database,
    NotFound,
    create_node,
    create_tenant,
    create_workload,
    read_node,
    read_tenant,
    read_workload,
    update_node_config,
    update_workload,
)

router = APIRouter(tags=["apply"])

Action = Literal["created", "configured", "unchanged"]


class AppliedObject(BaseModel):
    """What apply did with one document."""

    kind: str
    name: str
    tenant: str
    id: str | None
    action: Action


class ApplyResult(BaseModel):
    """The outcome of an apply, in document order."""

    dry_run: bool
    items: list[AppliedObject]


_MANIFEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }
}


@router.post("/apply", response_model=ApplyResult, openapi_extra=_MANIFEST_BODY)
async def post_apply(
    request: Request,
    dry_run: bool = Query(False, description="validate and report actions without writing"),
    principal: Principal = Depends(require_write),
    database: Database = Depends(get_database),
) -> ApplyResult:
    """Create or update every object in a YAML (multi-document) or JSON manifest."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
        docs = validate_documents(
            parse_documents(text, content_type=request.headers.get("content-type", ""))
        )
    except UnicodeDecodeError as exc:
        raise ApiProblem(400, "Malformed manifest", "the manifest is not UTF-8 text") from exc
    except ManifestError as exc:
        status = 400 if not exc.errors or exc.errors[0]["field"] == "(document)" else 422
        title = "Malformed manifest" if status == 400 else "Invalid manifest"
        raise ApiProblem(status, title, str(exc), errors=exc.errors) from exc
    # The transaction runs in a worker thread: on the event loop it would stall every other
    # request (heartbeats included) for as long as a large manifest takes to write.
    return await run_in_threadpool(_apply_all, database, principal, docs, dry_run=dry_run)


def _apply_all(
    database: Database, principal: Principal, docs: list[ManifestDocument], *, dry_run: bool
) -> ApplyResult:
    # Tenants first, so objects in the same file may belong to a tenant the file creates.
    ordered = sorted(docs, key=lambda d: (d.kind != "Tenant", d.index))
    results: dict[int, AppliedObject] = {}
    with database.write() as session:
        for doc in ordered:
            results[doc.index] = _apply_one(session, principal, doc, dry_run=dry_run)
        if dry_run:
            session.rollback()
    return ApplyResult(dry_run=dry_run, items=[results[i] for i in sorted(results)])


def _same(a: BaseModel, b: BaseModel) -> bool:
    return a.model_dump(mode="json") == b.model_dump(mode="json")


def _apply_one(
    session: Session, principal: Principal, doc: ManifestDocument, *, dry_run: bool
) -> AppliedObject:
    obj = doc.obj
    if isinstance(obj, TenantCreate):
        return _apply_tenant(session, principal, obj)
    if isinstance(obj, NodeCreate):
        return _apply_node(session, tenant_for_write(principal, obj.metadata.tenant), obj)
    if isinstance(obj, WorkloadCreate):
        return _apply_workload(session, tenant_for_write(principal, obj.metadata.tenant), obj)
    raise AssertionError(f"unhandled manifest kind {doc.kind}")


def _apply_tenant(session: Session, principal: Principal, obj: TenantCreate) -> AppliedObject:
    name = obj.metadata.name
    try:
        existing = read_tenant(session=session, ref=name)
        return AppliedObject(
            kind="Tenant", name=name, tenant=name, id=existing.metadata.id, action="unchanged"
        )
    except NotFound:
        pass
    if not principal.fleet_admin:
        raise ApiProblem(403, "Forbidden", "only an admin of the default tenant creates tenants")
    created = create_tenant(session=session, tenant=obj)
    return AppliedObject(
        kind="Tenant", name=name, tenant=name, id=created.metadata.id, action="created"
    )


def _apply_node(session: Session, tenant: str, obj: NodeCreate) -> AppliedObject:
    name = obj.metadata.name
    try:
        existing = read_node(session=session, ref=name, tenant=tenant)
    except NotFound:
        node = create_node(session=session, node=obj, tenant=tenant)
        _event(session, tenant, "Node", node.metadata.id, name, "NodeRegistered", "registered")
        return AppliedObject(
            kind="Node", name=name, tenant=tenant, id=node.metadata.id, action="created"
        )
    if _same(existing.spec, obj.spec) and existing.metadata.labels == obj.metadata.labels:
        return AppliedObject(
            kind="Node", name=name, tenant=tenant, id=existing.metadata.id, action="unchanged"
        )
    update_node_config(
        session=session,
        ref=existing.metadata.id,
        tenant=tenant,
        spec=obj.spec,
        labels=obj.metadata.labels,
        expected_version=obj.metadata.resource_version,
    )
    _event(session, tenant, "Node", existing.metadata.id, name, "NodeReconfigured", "configured")
    return AppliedObject(
        kind="Node", name=name, tenant=tenant, id=existing.metadata.id, action="configured"
    )


def _apply_workload(session: Session, tenant: str, obj: WorkloadCreate) -> AppliedObject:
    name = obj.metadata.name
    try:
        existing = read_workload(session=session, ref=name, tenant=tenant)
    except NotFound:
        workload = create_workload(session=session, workload=obj, tenant=tenant)
        _event(
            session, tenant, "Workload", workload.metadata.id, name, "WorkloadCreated", "created"
        )
        return AppliedObject(
            kind="Workload", name=name, tenant=tenant, id=workload.metadata.id, action="created"
        )
    if _same(existing.spec, obj.spec) and existing.metadata.labels == obj.metadata.labels:
        return AppliedObject(
            kind="Workload",
            name=name,
            tenant=tenant,
            id=existing.metadata.id,
            action="unchanged",
        )
    update_workload(
        session=session,
        ref=existing.metadata.id,
        tenant=tenant,
        workload=WorkloadUpdate.model_validate(obj.model_dump(by_alias=True)),
        expected_version=obj.metadata.resource_version,
    )
    _event(session, tenant, "Workload", existing.metadata.id, name, "WorkloadUpdated", "updated")
    return AppliedObject(
        kind="Workload", name=name, tenant=tenant, id=existing.metadata.id, action="configured"
    )


def _event(
    session: Session, tenant: str, kind: str, object_id: str, name: str, reason: str, verb: str
) -> None:
    record(
        session,
        tenant=tenant,
        kind=kind,
        object_id=object_id,
        name=name,
        reason=reason,
        message=f"{kind.lower()} {name} {verb} by apply",
    )
