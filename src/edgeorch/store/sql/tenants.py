"""Tenant repository. Tenants are cluster-scoped: a tenant's own name is its ``tenant``."""

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from edgeorch.schemas.envelope import Metadata, MetadataIn
from edgeorch.schemas.tenant import DEFAULT_TENANT, Tenant, TenantCreate, TenantSpec
from edgeorch.store.errors import AlreadyExists, NotFound
from edgeorch.store.sql import objects
from edgeorch.store.sql.changes import record_change
from edgeorch.store.sql.labels import add_labels
from edgeorch.store.sql.orm import TenantRow

KIND = "Tenant"


def to_tenant(row: TenantRow) -> Tenant:
    """The API model of a row."""
    meta = Metadata(
        id=row.id,
        name=row.name,
        tenant=row.name,
        labels=dict(row.labels),
        resource_version=row.resource_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
    return Tenant(metadata=meta, spec=TenantSpec.model_validate(row.spec), status=row.status)


def create_tenant(*, session: Session, tenant: TenantCreate) -> Tenant:
    """Create a tenant."""
    name = tenant.metadata.name
    if session.scalar(select(TenantRow.id).where(TenantRow.name == name)) is not None:
        raise AlreadyExists(KIND, name, name)
    row = TenantRow(
        id=objects.new_id(),
        name=name,
        labels=dict(tenant.metadata.labels),
        spec=tenant.spec.model_dump(mode="json"),
        status={},
    )
    row.resource_version = record_change(
        session, kind=KIND, object_id=row.id, name=name, tenant=name, op="created"
    )
    row.created_at = row.updated_at = objects.now(session)
    session.add(row)
    add_labels(session, kind=KIND, object_id=row.id, labels=row.labels)
    session.flush()
    return to_tenant(row)


def ensure_default_tenant(*, session: Session) -> Tenant:
    """The ``default`` tenant, created if missing (idempotent: run at every start)."""
    row = session.scalar(select(TenantRow).where(TenantRow.name == DEFAULT_TENANT))
    if row is not None:
        return to_tenant(row)
    default = TenantCreate(
        metadata=MetadataIn(name=DEFAULT_TENANT),
        spec=TenantSpec(description="the tenant of objects created without one"),
    )
    return create_tenant(session=session, tenant=default)


def read_tenant(*, session: Session, ref: str) -> Tenant:
    """The tenant with that name or id."""
    match = or_(TenantRow.name == ref, TenantRow.id == ref)
    row = session.scalar(select(TenantRow).where(match).limit(1))
    if row is None:
        raise NotFound(KIND, ref)
    return to_tenant(row)


def list_tenants(*, session: Session) -> list[Tenant]:
    """Every tenant, by name (there are few)."""
    return [to_tenant(r) for r in session.scalars(select(TenantRow).order_by(TenantRow.name))]
