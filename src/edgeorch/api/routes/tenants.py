"""``/api/v1/tenants``: the isolation boundaries objects belong to."""

from fastapi import APIRouter, Depends, status

from edgeorch.api.auth import Principal, get_database, require_admin, require_read
from edgeorch.api.events import record_about
from edgeorch.api.problems import ApiProblem
from edgeorch.schemas.tenant import Tenant, TenantCreate
from edgeorch.store import Database, create_tenant, list_tenants

router = APIRouter(prefix="/tenants", tags=["tenants"])


@router.get("", response_model=list[Tenant])
def get_tenants(
    principal: Principal = Depends(require_read),
    database: Database = Depends(get_database),
) -> list[Tenant]:
    """List tenants (a tenant-scoped token sees its own)."""
    with database.session() as session:
        tenants = list_tenants(session=session)
    if principal.fleet_admin:
        return tenants
    return [t for t in tenants if t.metadata.name == principal.tenant]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Tenant)
def post_tenant(
    body: TenantCreate,
    principal: Principal = Depends(require_admin),
    database: Database = Depends(get_database),
) -> Tenant:
    """Create a tenant (fleet admins only)."""
    if not principal.fleet_admin:
        raise ApiProblem(403, "Forbidden", "only an admin of the default tenant creates tenants")
    with database.write() as session:
        tenant = create_tenant(session=session, tenant=body)
        record_about(
            session,
            tenant,
            reason="TenantCreated",
            message=f"tenant {tenant.metadata.name} created",
        )
    return tenant
