"""Bearer-token authentication and role checks.

Every endpoint except ``/healthz`` and ``/readyz`` needs ``Authorization: Bearer <token>``.
Roles (see ``TokenRole``): ``admin`` may do everything; ``operator`` reads and writes objects;
``reader`` only reads; ``join`` and ``node`` tokens are for agents only and are refused here.

A token of the ``default`` tenant with the admin role is a fleet administrator and may act in
any tenant; every other token is confined to its own tenant.

Successful look-ups are cached for a few seconds so that a busy API does not hash-and-query on
every request; revoking a token through this server drops it from the cache at once, and other
server replicas notice within ``CACHE_SECONDS``.
"""

import hashlib
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from fastapi import Depends, Request

from edgeorch.api.problems import ApiProblem
from edgeorch.domain.enums import TokenRole
from edgeorch.schemas.tenant import DEFAULT_TENANT
from edgeorch.schemas.token import Token
from edgeorch.store import Database, authenticate_token

CACHE_SECONDS = 5.0
_READ_ROLES = frozenset({TokenRole.ADMIN, TokenRole.OPERATOR, TokenRole.READER})
_WRITE_ROLES = frozenset({TokenRole.ADMIN, TokenRole.OPERATOR})


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, role, tenant and, for agents, node."""

    token_id: str
    role: TokenRole
    tenant: str
    node_id: str | None = None

    @property
    def fleet_admin(self) -> bool:
        """True for an admin of the default tenant, who may act in every tenant."""
        return self.role is TokenRole.ADMIN and self.tenant == DEFAULT_TENANT


class TokenCache:
    """A time-bounded cache of authenticated tokens keyed by the secret's hash.

    Sized for a large fleet (every agent's credential is in it); when full, the oldest entry
    goes. Revocations through this server remove just the tokens they revoke (``forget``),
    so a join storm does not make every other agent re-authenticate against the store.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, capacity: int = 200_000
    ) -> None:
        self._clock = clock
        self._capacity = capacity
        self._entries: dict[str, tuple[float, Token]] = {}
        self._keys_by_token: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Token | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() - entry[0] > CACHE_SECONDS:
                self._drop(key)
                return None
            return entry[1]

    def put(self, key: str, token: Token) -> None:
        with self._lock:
            self._drop(key)
            while len(self._entries) >= self._capacity:
                self._drop(next(iter(self._entries)))
            self._entries[key] = (self._clock(), token)
            self._keys_by_token[token.id] = key

    def forget(self, token_ids: Collection[str]) -> None:
        """Drop the tokens with these ids (they were just revoked)."""
        with self._lock:
            for token_id in token_ids:
                key = self._keys_by_token.get(token_id)
                if key is not None:
                    self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._keys_by_token.clear()

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._keys_by_token.pop(entry[1].id, None)


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(
        401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="edgeorch"'}
    )


def get_database(request: Request) -> Database:
    """The app's database."""
    database: Database = request.app.state.database
    return database


def authenticate(request: Request) -> Principal:
    """Resolve the bearer token to a principal, or answer 401."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if not header:
        raise _unauthorized("this endpoint needs 'Authorization: Bearer <token>'")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'")
    secret = secret.strip()
    key = hashlib.sha256(secret.encode()).hexdigest()
    cache: TokenCache = request.app.state.token_cache
    token = cache.get(key)
    if token is None:
        database = get_database(request)
        with database.session() as session:
            token = authenticate_token(session=session, secret=secret)
        if token is None:
            raise _unauthorized("the token is unknown, expired or revoked")
        cache.put(key, token)
    now = request.app.state.clock()
    if token.expires_at is not None and token.expires_at <= now:
        raise _unauthorized("the token is unknown, expired or revoked")
    return Principal(token.id, token.role, token.tenant, token.node_id)


def _require(roles: frozenset[TokenRole], what: str) -> Callable[..., Principal]:
    def dependency(principal: Principal = Depends(authenticate)) -> Principal:
        if principal.role not in roles:
            accepted = ", ".join(sorted(r.value for r in roles))
            raise ApiProblem(
                403,
                "Forbidden",
                f"a {principal.role.value} token may not {what}; this needs one of: {accepted}",
            )
        return principal

    return dependency


require_read = _require(_READ_ROLES, "read objects")
require_write = _require(_WRITE_ROLES, "change objects")
require_admin = _require(frozenset({TokenRole.ADMIN}), "manage tokens and tenants")


def tenant_for_read(principal: Principal, requested: str | None) -> str | None:
    """The tenant a read is confined to; None means every tenant (fleet admins only)."""
    if principal.fleet_admin:
        return requested
    if requested is not None and requested != principal.tenant:
        raise ApiProblem(
            403,
            "Forbidden",
            f"this token belongs to tenant {principal.tenant!r} and may not read tenant "
            f"{requested!r}",
        )
    return principal.tenant


def tenant_for_write(principal: Principal, requested: str | None) -> str:
    """The tenant a write goes to: the requested one if allowed, else the token's own."""
    if requested is None:
        return DEFAULT_TENANT if principal.fleet_admin else principal.tenant
    if principal.fleet_admin or requested == principal.tenant:
        return requested
    raise ApiProblem(
        403,
        "Forbidden",
        f"this token belongs to tenant {principal.tenant!r} and may not write to tenant "
        f"{requested!r}",
    )
