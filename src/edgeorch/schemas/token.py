"""Tokens: bearer credentials. Only a hash is stored; the secret is shown once, at creation."""

from datetime import datetime

from pydantic import BaseModel, Field

from edgeorch.domain.enums import TokenRole
from edgeorch.schemas.common import StrictModel


class TokenCreate(StrictModel):
    """Body of ``POST /tokens``. ``ttl_seconds`` defaults to none for admin/operator/reader
    tokens and to one hour for join tokens."""

    name: str = Field(default="", max_length=128)
    role: TokenRole = TokenRole.READER
    tenant: str | None = None
    ttl_seconds: float | None = Field(default=None, gt=0)


class Token(BaseModel):
    """A token's record as listed; never contains the secret."""

    id: str
    name: str
    role: TokenRole
    tenant: str
    node_id: str | None = None
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class TokenCreated(Token):
    """The answer to a token creation: the record plus the secret, shown this once."""

    secret: str
