"""Token repository: bearer secrets, of which only a SHA-256 is stored.

A secret is ``eo_`` and 43 URL-safe base64 characters (256 random bits), so a leaked database
yields no usable credential and a hash lookup needs no salt (the secret is not guessable).
Tokens are not in the change feed: nothing watches them, and their ``last_used_at`` bookkeeping
must not look like an object change.
"""

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from edgeorch.domain.enums import TokenRole
from edgeorch.schemas.tenant import DEFAULT_TENANT
from edgeorch.schemas.token import Token, TokenCreated
from edgeorch.store.errors import AlreadyExists, AmbiguousReference, InvalidRequest, NotFound
from edgeorch.store.sql import objects
from edgeorch.store.sql.changes import WRITABLE_KEY
from edgeorch.store.sql.orm import NodeRow, TokenRow

KIND = "Token"
PREFIX = "eo_"
# Refresh last_used_at at most this often, so authenticating stays a read almost always.
TOUCH_INTERVAL = timedelta(minutes=1)
_GIVEN_SECRET_RE = re.compile(r"^[!-~]{32,512}$")


def hash_secret(secret: str) -> str:
    """The stored form of a secret: SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_secret() -> str:
    """A new secret: ``eo_`` + 43 URL-safe base64 characters (256 bits from ``secrets``)."""
    return PREFIX + secrets.token_urlsafe(32)


def to_token(row: TokenRow) -> Token:
    """The record of a token (never the secret)."""
    return Token(
        id=row.id,
        name=row.name,
        role=TokenRole(row.role),
        tenant=row.tenant,
        node_id=row.node_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def create_token(
    *,
    session: Session,
    role: TokenRole,
    name: str = "",
    tenant: str = DEFAULT_TENANT,
    ttl: timedelta | None = None,
    node_id: str | None = None,
    secret: str | None = None,
) -> TokenCreated:
    """Create a token and return it with its secret (shown this once). A given ``secret`` (the
    bootstrap token from the environment) is used instead of a generated one."""
    if not session.info.get(WRITABLE_KEY):
        raise RuntimeError("store writes need a session from Database.write()")
    objects.require_tenant(session, tenant)
    if node_id is not None and session.get(NodeRow, node_id) is None:
        raise NotFound("Node", node_id)
    if ttl is not None and ttl <= timedelta(0):
        raise InvalidRequest(f"token ttl {ttl} must be positive; omit it for no expiry")
    if secret is not None and not _GIVEN_SECRET_RE.match(secret):
        raise InvalidRequest(
            "a given token secret must be 32 to 512 printable characters without spaces; "
            "generate one with 'openssl rand -base64 32'"
        )
    secret = secret or generate_secret()
    digest = hash_secret(secret)
    if session.scalar(select(TokenRow.id).where(TokenRow.token_hash == digest)) is not None:
        raise AlreadyExists(KIND, name or "(unnamed)", tenant)
    created = objects.now(session)
    row = TokenRow(
        id=secrets.token_hex(6),
        token_hash=digest,
        name=name,
        role=role.value,
        tenant=tenant,
        node_id=node_id,
        created_at=created,
        expires_at=None if ttl is None else created + ttl,
    )
    session.add(row)
    session.flush()
    return TokenCreated(**to_token(row).model_dump(), secret=secret)


def authenticate_token(*, session: Session, secret: str, touch: bool = True) -> Token | None:
    """The token with this secret, or None if unknown, revoked or expired.

    With ``touch``, refreshes ``last_used_at`` at most once a ``TOUCH_INTERVAL``, inside a
    savepoint and on a best-effort basis: a busy database must not turn a valid login into an
    error. The API server passes ``touch=False`` and writes them in bulk (``api/auth.py``).
    """
    if not secret or len(secret) > 512:
        return None
    digest = hash_secret(secret)
    row = session.scalar(select(TokenRow).where(TokenRow.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    moment = objects.now(session)
    if not _active(row, moment):
        return None
    if touch and (row.last_used_at is None or moment - row.last_used_at >= TOUCH_INTERVAL):
        _touch(session, row, moment)
    return to_token(row)


def _active(row: TokenRow, moment: datetime) -> bool:
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > moment)


def _touch(session: Session, row: TokenRow, moment: datetime) -> None:
    try:
        with session.begin_nested():
            row.last_used_at = moment
    except DBAPIError:
        # Locked or serialization failure: skip this refresh, the next use will try again.
        # The savepoint's rollback expired ``row``, so it reloads the stored values.
        return


def list_tokens(
    *, session: Session, tenant: str | None = None, role: TokenRole | None = None
) -> list[Token]:
    """Every token (revoked and expired ones too), oldest first."""
    query = select(TokenRow).where(*_filters(tenant, role))
    return [to_token(r) for r in session.scalars(query.order_by(TokenRow.created_at, TokenRow.id))]


def count_tokens(
    *,
    session: Session,
    tenant: str | None = None,
    role: TokenRole | None = None,
    active_only: bool = True,
) -> int:
    """How many tokens match; ``active_only`` leaves out revoked and expired ones."""
    where = _filters(tenant, role)
    if active_only:
        moment = objects.now(session)
        where.append(TokenRow.revoked_at.is_(None))
        where.append(or_(TokenRow.expires_at.is_(None), TokenRow.expires_at > moment))
    return session.scalar(select(func.count()).select_from(TokenRow).where(*where)) or 0


def _filters(tenant: str | None, role: TokenRole | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if tenant is not None:
        where.append(TokenRow.tenant == tenant)
    if role is not None:
        where.append(TokenRow.role == role.value)
    return where


def revoke_token(*, session: Session, ref: str) -> Token:
    """Revoke the token with this id (or unambiguous id prefix of >= 6); idempotent."""
    if not session.info.get(WRITABLE_KEY):
        raise RuntimeError("store writes need a session from Database.write()")
    rows = session.scalars(
        select(TokenRow)
        .where(or_(TokenRow.id == ref, TokenRow.id.startswith(ref, autoescape=True)))
        .limit(6)
    ).all()
    exact = [r for r in rows if r.id == ref]
    if len(ref) < objects.MIN_PREFIX and not exact:
        raise NotFound(KIND, ref)
    if not exact and len(rows) > 1:
        raise AmbiguousReference(KIND, ref, [f"{r.id} ({r.name})" for r in rows])
    if not rows:
        raise NotFound(KIND, ref)
    row = (exact or rows)[0]
    if row.revoked_at is None:
        row.revoked_at = objects.now(session)
        session.flush()
    return to_token(row)
