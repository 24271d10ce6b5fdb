"""``/api/v1/tokens``: create, list and revoke bearer tokens (admins only)."""

from datetime import timedelta

from fastapi import APIRouter, Depends, Request, status

from edgeorch.api.auth import Principal, TokenCache, get_database, require_admin, tenant_for_write
from edgeorch.api.events import record
from edgeorch.domain.enums import TokenRole
from edgeorch.schemas.token import Token, TokenCreate, TokenCreated
from edgeorch.store import Database, create_token, list_tokens, read_tenant, revoke_token

router = APIRouter(prefix="/tokens", tags=["tokens"])

JOIN_TOKEN_DEFAULT_TTL = timedelta(hours=1)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TokenCreated)
def post_token(
    body: TokenCreate,
    principal: Principal = Depends(require_admin),
    database: Database = Depends(get_database),
) -> TokenCreated:
    """Create a token; the secret is in this answer only, never again."""
    tenant = tenant_for_write(principal, body.tenant)
    ttl = timedelta(seconds=body.ttl_seconds) if body.ttl_seconds else None
    if ttl is None and body.role is TokenRole.JOIN:
        ttl = JOIN_TOKEN_DEFAULT_TTL
    with database.write() as session:
        read_tenant(session=session, ref=tenant)
        created = create_token(
            session=session, role=body.role, name=body.name, tenant=tenant, ttl=ttl
        )
        record(
            session,
            tenant=tenant,
            kind="Token",
            object_id=created.id,
            name=created.name or created.id,
            reason="TokenCreated",
            message=f"{created.role.value} token {created.name or created.id} created"
            + (f", expires {created.expires_at.isoformat()}" if created.expires_at else ""),
        )
    return created


@router.get("", response_model=list[Token])
def get_tokens(
    principal: Principal = Depends(require_admin),
    database: Database = Depends(get_database),
) -> list[Token]:
    """List tokens (without secrets)."""
    with database.session() as session:
        tokens = list_tokens(session=session)
    if principal.fleet_admin:
        return tokens
    return [t for t in tokens if t.tenant == principal.tenant]


@router.delete("/{ref}", response_model=Token)
def delete_token(
    ref: str,
    request: Request,
    principal: Principal = Depends(require_admin),
    database: Database = Depends(get_database),
) -> Token:
    """Revoke a token by id or name; it stops working at once on this server."""
    with database.write() as session:
        token = revoke_token(session=session, ref=ref)
        tenant_for_write(principal, token.tenant)
        record(
            session,
            tenant=token.tenant,
            kind="Token",
            object_id=token.id,
            name=token.name or token.id,
            reason="TokenRevoked",
            message=f"{token.role.value} token {token.name or token.id} revoked",
        )
    cache: TokenCache = request.app.state.token_cache
    cache.forget([token.id])
    return token
