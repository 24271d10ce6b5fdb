"""What every tenant-scoped kind shares: addressing, versions, stamping, listing.

The per-kind modules (nodes, workloads, instances) are thin on top of these so that the rules
(names unique per tenant, resource_version = revision of the last write, keyset order by name
then id) are written once.
"""

import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import pairwise
from json.encoder import encode_basestring_ascii as _quote
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    SQLColumnExpression,
    Table,
    Text,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.orm import Session

from edgeorch.schemas.envelope import API_VERSION, Metadata
from edgeorch.store.errors import (
    AlreadyExists,
    AmbiguousReference,
    Conflict,
    InvalidRequest,
    NotFound,
)
from edgeorch.store.pagination import DocumentPage, Page, decode_token, encode_token
from edgeorch.store.selectors import LabelSelector, parse_label_selector
from edgeorch.store.sql.changes import Op, current_revision, current_revision_query, record_change
from edgeorch.store.sql.labels import (
    add_labels,
    delete_labels,
    page_selector_clause,
    replace_labels,
)
from edgeorch.store.sql.orm import ObjectColumns, TenantRow
from edgeorch.store.sql.prepared import Prepared

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
    if _TENANT_ID.first(session, {"name": tenant}) is None:
        raise NotFound("Tenant", tenant)
    seen.add(tenant)


# Statements of the write path, built once and run on the driver's cursor (``sql/prepared.py``):
# building a statement and its cache key on every call, and then Core's execution of it, cost
# more than running it (the registration profile, bench/api_scale.py).
_TENANTS: Table = TenantRow.__table__  # type: ignore[assignment]
_TENANT_ID = Prepared(select(_TENANTS.c.id).where(_TENANTS.c.name == bindparam("name")))
_NAME_TAKEN: dict[str, Prepared] = {}
_INSERTS: dict[tuple[str, tuple[str, ...]], Prepared] = {}
_STAMPED = ("resource_version", "created_at", "updated_at")


def _table(model: type[ObjectColumns]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


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
    table = _table(model)
    taken = _NAME_TAKEN.get(table.name)
    if taken is None:
        c = table.c
        query = select(c.id).where(c.tenant == bindparam("tenant"), c.name == bindparam("name"))
        taken = _NAME_TAKEN[table.name] = Prepared(query)
    if taken.first(session, {"tenant": tenant, "name": name}) is not None:
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


def insert_new(
    session: Session, model: type[ObjectColumns], kind: str, values: dict[str, Any]
) -> Metadata:
    """Insert a new object row with one Core INSERT (no ORM unit of work): what :func:`stamp`
    does for a created row, for the creates that never touch the row again in the transaction.

    ``values`` holds every column but the stamped ones (``resource_version``, ``created_at``,
    ``updated_at``); returns the new object's metadata.
    """
    revision = record_change(
        session,
        kind=kind,
        object_id=values["id"],
        name=values["name"],
        tenant=values["tenant"],
        op="created",
    )
    moment = now(session)
    table = _table(model)
    key = (table.name, tuple(values))
    statement = _INSERTS.get(key)
    if statement is None:
        statement = _INSERTS[key] = Prepared(insert(table), keys=(*values, *_STAMPED))
    statement.run(
        session,
        {**values, "resource_version": revision, "created_at": moment, "updated_at": moment},
    )
    add_labels(session, kind=kind, object_id=values["id"], labels=values["labels"])
    return Metadata(
        id=values["id"],
        name=values["name"],
        tenant=values["tenant"],
        labels=dict(values["labels"]),
        resource_version=revision,
        created_at=moment,
        updated_at=moment,
    )


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
    page = list_documents(
        session,
        model=model,
        kind=kind,
        tenant=tenant,
        where=where,
        label_selector=label_selector,
        limit=limit,
        continue_token=continue_token,
    )
    adapter = _ADAPTERS.get(output)
    if adapter is None:
        adapter = _ADAPTERS[output] = TypeAdapter(list[output])  # type: ignore[valid-type]
    items: list[OutT] = adapter.validate_json(f"[{page.documents}]")
    return Page(items=items, continue_token=page.continue_token, revision=page.revision)


_ADAPTERS: dict[type[BaseModel], TypeAdapter[Any]] = {}


def list_documents(
    session: Session,
    *,
    model: type[ObjectColumns],
    kind: str,
    tenant: str | None,
    where: Sequence[ColumnElement[bool]],
    label_selector: LabelSelector | str | None,
    limit: int,
    continue_token: str | None,
) -> DocumentPage:
    """:func:`list_page` as JSON, each object exactly as the API returns it, built around the
    stored spec/status/labels JSON without parsing it.

    The stored JSON is the full dump of the object's models (every write stores
    ``model_dump(mode="json")``, and ``Database.migrate`` rewrites the stored documents when
    the models change: ``sql/documents.py``), so it needs no validation on the way out.
    """
    check_limit(limit)
    # The keys of the page first (from the indexes alone where one covers the filter), then
    # the documents of just those rows.
    keys = select(model.id).where(*where)
    if tenant is not None:
        keys = keys.where(model.tenant == tenant)
    selector = as_selector(label_selector)
    if selector is not None:
        clause = page_selector_clause(session, kind=kind, object_id=model.id, selector=selector)
        keys = keys.where(clause)
    if continue_token is not None:
        after = decode_token(continue_token, kind, (str, str))
        keys = keys.where(tuple_(model.name, model.id) > tuple_(*after))
    keys = keys.order_by(model.name, model.id).limit(limit + 1)
    found = None
    if session.get_bind().dialect.name == "sqlite":
        found = _sqlite_page(session, model, kind, keys, limit)
    if found is None:
        found = _rows_page(session, model, kind, keys, limit)
    documents, count, last, revision = found
    token = None if last is None else encode_token(kind, last)
    return DocumentPage(documents, count, token, revision)


# The documents, their count, the key of the last one if more follow, the store's revision.
_Found = tuple[str, int, tuple[str, str] | None, int]


def _rows_page(
    session: Session, model: type[ObjectColumns], kind: str, keys: Select[Any], limit: int
) -> _Found:
    sqlite = session.get_bind().dialect.name == "sqlite"
    query = select(*_listed_columns(model, raw_times=sqlite)).where(model.id.in_(keys))
    rows = session.execute(query.order_by(model.name, model.id)).all()
    last = (rows[limit - 1].name, rows[limit - 1].id) if len(rows) > limit else None
    page = rows[:limit]
    revision = current_revision(session=session)
    return ",".join(_document(r, kind) for r in page), len(page), last, revision


def _sqlite_page(
    session: Session, model: type[ObjectColumns], kind: str, keys: Select[Any], limit: int
) -> _Found | None:
    """The page as ONE row, the documents built and joined by SQLite; None if SQLite did not
    keep the order (the caller then reads row by row).

    Why: pysqlite releases the GIL around every row it steps through, and while other threads
    compute (the controllers of ``edgeorch server``) each release can cost the request a full
    switch interval (5 ms) to get it back: a page read row by row had a tail of hundreds of
    milliseconds where this one has a few hand-overs.
    """
    ordered = (
        select(
            _sqlite_document(model, kind).label("doc"),
            model.name,
            model.id,
            func.row_number().over(order_by=(model.name, model.id)).label("n"),
        )
        .where(model.id.in_(keys))
        .order_by(model.name, model.id)
        .subquery()
    )
    key = ordered.c.name.concat(_UNIT).concat(ordered.c.id)
    row = session.execute(
        select(
            func.group_concat(case((ordered.c.n <= limit, ordered.c.doc)), ","),
            func.group_concat(key, _RECORD),
            current_revision_query().scalar_subquery(),  # same statement: same snapshot
        )
    ).one()
    documents, joined = row[0] or "", row[1] or ""
    found = [tuple(k.split(_UNIT)) for k in joined.split(_RECORD)] if joined else []
    if any(a >= b for a, b in pairwise(found)):
        return None  # aggregate order is not promised by SQLite: never seen, but checked
    last = (found[limit - 1][0], found[limit - 1][1]) if len(found) > limit else None
    return documents, min(len(found), limit), last, int(row[2])


_UNIT, _RECORD = "\x1f", "\x1e"  # separators no name or id can hold


def _sqlite_document(model: type[ObjectColumns], kind: str) -> ColumnElement[str]:
    """SQL (SQLite) for the JSON :func:`_document` builds in Python."""
    template = (
        f'{{"apiVersion":"{API_VERSION}","kind":"{kind}","metadata":{{"id":%s,"name":%s,'
        '"tenant":%s,"resource_version":%d,"created_at":"%s","updated_at":"%s","labels":%s},'
        '"spec":%s,"status":%s}'
    )
    return func.printf(
        literal(template, Text),
        func.json_quote(model.id),
        func.json_quote(model.name),
        func.json_quote(model.tenant),
        model.resource_version,
        _sqlite_time(model.created_at),
        _sqlite_time(model.updated_at),
        cast(model.labels, Text),
        cast(model.spec, Text),
        cast(model.status, Text),
        type_=Text,
    )


def _sqlite_time(column: Any) -> ColumnElement[str]:
    """SQL for :func:`_time` on SQLite's stored text ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    text = type_coerce(column, Text)
    whole = func.replace(func.substr(text, 1, func.length(text) - 7), " ", "T")
    iso_text = case((func.substr(text, -7) == ".000000", whole), else_=func.replace(text, " ", "T"))
    return iso_text.concat("Z")


def _listed_columns(
    model: type[ObjectColumns], *, raw_times: bool = False
) -> tuple[SQLColumnExpression[Any], ...]:
    # JSON columns come back as their text (CAST ... AS TEXT on both backends) and are spliced
    # into the answer as they are: parsing, validating and re-serialising every object of a
    # page through pydantic dominated list latency. ``raw_times`` (SQLite only) reads the
    # timestamps as the stored text too, which :func:`_time` rewrites without parsing.
    times: tuple[SQLColumnExpression[Any], ...] = (model.created_at, model.updated_at)
    if raw_times:
        times = (
            cast(model.created_at, Text).label("created_at"),
            cast(model.updated_at, Text).label("updated_at"),
        )
    return (
        model.id,
        model.name,
        model.tenant,
        model.resource_version,
        *times,
        cast(model.labels, Text).label("labels"),
        cast(model.spec, Text).label("spec"),
        cast(model.status, Text).label("status"),
    )


def iso(moment: datetime) -> str:
    """``moment`` (aware, UTC) as pydantic writes it in JSON: ISO 8601 with a ``Z``."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _time(value: datetime | str) -> str:
    """A timestamp as pydantic writes it: from a datetime, or from SQLite's stored text
    (``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC: ``sql/types.py``) without parsing it."""
    if not isinstance(value, str):
        return iso(value)
    text = value.replace(" ", "T", 1)
    if text.endswith(".000000"):  # pydantic, like isoformat, omits zero microseconds
        text = text[:-7]
    return text + "Z"


def _document(row: Row[Any], kind: str | None = None) -> str:
    """The JSON of one object as the API returns it, built around the stored JSON texts
    (without ``apiVersion`` and ``kind`` when ``kind`` is None: the models default them)."""
    head = "{" if kind is None else f'{{"apiVersion":"{API_VERSION}","kind":"{kind}",'
    # Plain formatting (strings through the C quoting function json.dumps uses): a dict through
    # json.dumps per row was the largest cost of a page after the pydantic round trip was gone.
    return (
        f'{head}"metadata":{{"id":{_quote(row.id)},"name":{_quote(row.name)},'
        f'"tenant":{_quote(row.tenant)},"resource_version":{int(row.resource_version)},'
        f'"created_at":"{_time(row.created_at)}","updated_at":"{_time(row.updated_at)}",'
        f'"labels":{row.labels}}},"spec":{row.spec},"status":{row.status}}}'
    )


def check_limit(limit: int) -> None:
    """Raise InvalidRequest unless 1 <= limit <= MAX_LIMIT."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit {limit} is out of range; use 1 to {MAX_LIMIT}")
