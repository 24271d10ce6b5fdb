"""What every tenant-scoped kind shares: addressing, versions, stamping, listing.

The per-kind modules (nodes, workloads, instances) are thin on top of these so that the rules
(names unique per tenant, resource_version = revision of the last write, keyset order by name
then id) are written once.
"""

import json
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Row, SQLColumnExpression, Text, cast, select, tuple_
from sqlalchemy.orm import Session

from edgeorch.schemas.envelope import Metadata
from edgeorch.store.errors import (
    AlreadyExists,
    AmbiguousReference,
    Conflict,
    InvalidRequest,
    NotFound,
)
from edgeorch.store.pagination import Page, decode_token, encode_token
from edgeorch.store.selectors import LabelSelector, parse_label_selector
from edgeorch.store.sql.changes import Op, current_revision, record_change
from edgeorch.store.sql.labels import add_labels, delete_labels, replace_labels, selector_clause
from edgeorch.store.sql.orm import ObjectColumns, TenantRow

RowT = TypeVar("RowT", bound=ObjectColumns)
OutT = TypeVar("OutT", bound=BaseModel)

CLOCK_KEY = "edgeorch.clock"
MIN_PREFIX = 6
MAX_LIMIT = 1000
_PREFIX_RE = re.compile(r"^[0-9a-f]{6,31}$")


def new_id() -> str:
    """A fresh object id: uuid4 as 32 lower-case hex digits."""
    return uuid.uuid4().hex


TENANTS_SEEN_KEY = "edgeorch.tenants_seen"


def now(session: Session) -> datetime:
    """The time from the clock the session's Database was given."""
    clock: Callable[[], datetime] = session.info[CLOCK_KEY]
    return clock()


def require_tenant(session: Session, tenant: str) -> None:
    """Raise NotFound unless the tenant exists (a friendlier answer than the foreign key's).

    Checked once per transaction and tenant: a write usually stamps an object and its event.
    """
    seen: set[str] = session.info.setdefault(TENANTS_SEEN_KEY, set())
    if tenant in seen:
        return
    if session.scalar(select(TenantRow.id).where(TenantRow.name == tenant)) is None:
        raise NotFound("Tenant", tenant)
    seen.add(tenant)


def resolve_tenant(tenant: str | None, in_metadata: str | None, default: str) -> str:
    """The tenant an object is created in: the argument, else its metadata, else the default."""
    if tenant is not None and in_metadata is not None and tenant != in_metadata:
        raise InvalidRequest(
            f"metadata.tenant {in_metadata!r} does not match the tenant {tenant!r} of the "
            "request; drop metadata.tenant or send the request as that tenant"
        )
    return tenant or in_metadata or default


def find(session: Session, model: type[RowT], kind: str, ref: str, tenant: str | None) -> RowT:
    """The row ``ref`` names: its id, its name, or an unambiguous id prefix of >= 6 digits.

    ``tenant=None`` looks across all tenants (for agents and controllers, which use ids).
    """
    scope = [] if tenant is None else [model.tenant == tenant]
    for match in (model.id == ref, model.name == ref):
        rows = session.scalars(select(model).where(match, *scope).limit(2)).all()
        if len(rows) == 1:
            return rows[0]
    if _PREFIX_RE.match(ref):
        # A range rather than LIKE: it uses the primary-key index on both backends (ids are hex).
        in_range = (model.id >= ref, model.id < ref + "g")
        rows = session.scalars(select(model).where(*in_range, *scope).limit(6)).all()
        if len(rows) == 1:
            return rows[0]
        if rows:
            raise AmbiguousReference(kind, ref, [f"{r.id} ({r.name})" for r in rows])
    raise NotFound(kind, ref, tenant)


def check_version(kind: str, row: ObjectColumns, expected: int | None) -> None:
    """Raise Conflict if the caller's ``expected`` version is not the stored one."""
    if expected is not None and expected != row.resource_version:
        raise Conflict.stale(kind, row.name, row.resource_version, expected)


def check_name_free(session: Session, model: type[RowT], kind: str, name: str, tenant: str) -> None:
    """Raise AlreadyExists if ``name`` is taken by an object of this kind in ``tenant``."""
    taken = select(model.id).where(model.tenant == tenant, model.name == name)
    if session.scalar(taken) is not None:
        raise AlreadyExists(kind, name, tenant)


def stamp(
    session: Session, kind: str, row: ObjectColumns, op: Op, *, labels_changed: bool = False
) -> None:
    """Give ``row`` this transaction's revision and time, record the change and sync labels.

    Label rows are rewritten only on create or when ``labels_changed``: status updates (every
    heartbeat) must not churn the labels table.
    """
    row.resource_version = record_change(
        session, kind=kind, object_id=row.id, name=row.name, tenant=row.tenant, op=op
    )
    row.updated_at = now(session)
    if op == "created":
        row.created_at = row.updated_at
        session.add(row)
    if op == "deleted":
        delete_labels(session, kind=kind, object_ids=[row.id])
        session.delete(row)
    elif op == "created":
        add_labels(session, kind=kind, object_id=row.id, labels=row.labels)
    elif labels_changed:
        replace_labels(session, kind=kind, object_id=row.id, labels=row.labels)
    session.flush()


def metadata(row: ObjectColumns) -> Metadata:
    """The API metadata of a row."""
    return Metadata(
        id=row.id,
        name=row.name,
        tenant=row.tenant,
        labels=dict(row.labels),
        resource_version=row.resource_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def as_selector(selector: LabelSelector | str | None) -> LabelSelector | None:
    """Accept a parsed selector or its text."""
    return parse_label_selector(selector) if isinstance(selector, str) else selector


def list_page(
    session: Session,
    *,
    model: type[RowT],
    output: type[OutT],
    kind: str,
    tenant: str | None,
    where: Sequence[ColumnElement[bool]],
    label_selector: LabelSelector | str | None,
    limit: int,
    continue_token: str | None,
) -> Page[OutT]:
    """One page of ``kind`` in (name, id) order after ``continue_token``, as ``output`` models."""
    check_limit(limit)
    revision = current_revision(session=session)
    query = select(*_listed_columns(model)).where(*where)
    if tenant is not None:
        query = query.where(model.tenant == tenant)
    selector = as_selector(label_selector)
    if selector is not None:
        query = query.where(selector_clause(kind=kind, object_id=model.id, selector=selector))
    if continue_token is not None:
        after = decode_token(continue_token, kind, (str, str))
        query = query.where(tuple_(model.name, model.id) > tuple_(*after))
    rows = session.execute(query.order_by(model.name, model.id).limit(limit + 1)).all()
    token = None
    if len(rows) > limit:
        token = encode_token(kind, (rows[limit - 1].name, rows[limit - 1].id))
    items = [output.model_validate_json(_document(r)) for r in rows[:limit]]
    return Page(items=items, continue_token=token, revision=revision)


def _listed_columns(model: type[ObjectColumns]) -> tuple[SQLColumnExpression[Any], ...]:
    # JSON columns come back as their text (CAST ... AS TEXT on both backends), so pydantic
    # parses and validates each object in one pass in Rust: several times faster than
    # json.loads per column followed by model validation, which dominated list latency.
    return (
        model.id,
        model.name,
        model.tenant,
        model.resource_version,
        model.created_at,
        model.updated_at,
        cast(model.labels, Text).label("labels"),
        cast(model.spec, Text).label("spec"),
        cast(model.status, Text).label("status"),
    )


def _document(row: Row[Any]) -> str:
    """The JSON of one object as the API returns it, built around the stored JSON texts."""
    meta = json.dumps(
        {
            "id": row.id,
            "name": row.name,
            "tenant": row.tenant,
            "resource_version": row.resource_version,
            "created_at": row.created_at.isoformat(),
            "updated_at": row.updated_at.isoformat(),
        }
    )
    labels = f',"labels":{row.labels}}}'
    return f'{{"metadata":{meta[:-1]}{labels},"spec":{row.spec},"status":{row.status}}}'


def check_limit(limit: int) -> None:
    """Raise InvalidRequest unless 1 <= limit <= MAX_LIMIT."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit {limit} is out of range; use 1 to {MAX_LIMIT}")
