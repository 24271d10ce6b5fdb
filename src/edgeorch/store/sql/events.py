"""Event repository: append-only records of what the system did and why.

An event takes its transaction's revision and appears in the change feed, so a watcher sees
events interleaved with the object changes that caused them, in commit order.
"""

from typing import Literal

from sqlalchemy import ColumnElement, Table, insert, select, tuple_
from sqlalchemy.orm import Session

from edgeorch.schemas.event import Event, InvolvedObject
from edgeorch.schemas.tenant import DEFAULT_TENANT
from edgeorch.store.pagination import Page, decode_token, encode_token
from edgeorch.store.sql import objects
from edgeorch.store.sql.changes import current_revision, record_change
from edgeorch.store.sql.orm import EventRow
from edgeorch.store.sql.prepared import Prepared

KIND = "Event"
_EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
_EVENT_COLUMNS = (
    "id",
    "tenant",
    "revision",
    "time",
    "type",
    "reason",
    "message",
    "involved_kind",
    "involved_id",
    "involved_name",
)
_INSERT_EVENT = Prepared(insert(_EVENTS), keys=_EVENT_COLUMNS)


def to_event(row: EventRow) -> Event:
    """The API model of a row."""
    return Event(
        id=row.id,
        tenant=row.tenant,
        revision=row.revision,
        time=row.time,
        type="Warning" if row.type == "Warning" else "Normal",
        reason=row.reason,
        message=row.message,
        involved_object=InvolvedObject(
            kind=row.involved_kind, id=row.involved_id, name=row.involved_name
        ),
    )


def create_event(
    *,
    session: Session,
    tenant: str = DEFAULT_TENANT,
    type: Literal["Normal", "Warning"] = "Normal",
    reason: str,
    message: str,
    involved: InvolvedObject,
) -> Event:
    """Record an event about ``involved``; ``reason`` is a constant CamelCase word."""
    objects.require_tenant(session, tenant)
    event_id = objects.new_id()
    name = f"{involved.kind.lower()}/{involved.name}"
    revision = record_change(
        session, kind=KIND, object_id=event_id, name=name, tenant=tenant, op="created"
    )
    moment = objects.now(session)
    # On the driver's cursor: events are write-once, so the ORM's unit of work (and Core's
    # execution) would only add cost.
    _INSERT_EVENT.run(
        session,
        {
            "id": event_id,
            "tenant": tenant,
            "revision": revision,
            "time": moment,
            "type": type,
            "reason": reason,
            "message": message,
            "involved_kind": involved.kind,
            "involved_id": involved.id,
            "involved_name": involved.name,
        },
    )
    return Event(
        id=event_id,
        tenant=tenant,
        revision=revision,
        time=moment,
        type=type,
        reason=reason,
        message=message,
        involved_object=involved,
    )


def list_events(
    *,
    session: Session,
    tenant: str | None = DEFAULT_TENANT,
    involved_kind: str | None = None,
    involved_id: str | None = None,
    since_revision: int | None = None,
    limit: int = 100,
    continue_token: str | None = None,
) -> Page[Event]:
    """A page of events, oldest first (by revision, then id)."""
    objects.check_limit(limit)
    revision = current_revision(session=session)
    where: list[ColumnElement[bool]] = []
    if tenant is not None:
        where.append(EventRow.tenant == tenant)
    if involved_kind is not None:
        where.append(EventRow.involved_kind == involved_kind)
    if involved_id is not None:
        where.append(EventRow.involved_id == involved_id)
    if since_revision is not None:
        where.append(EventRow.revision > since_revision)
    if continue_token is not None:
        after = decode_token(continue_token, KIND, (int, str))
        where.append(tuple_(EventRow.revision, EventRow.id) > tuple_(*after))
    query = select(EventRow).where(*where).order_by(EventRow.revision, EventRow.id)
    rows = list(session.scalars(query.limit(limit + 1)))
    token = None
    if len(rows) > limit:
        token = encode_token(KIND, (rows[limit - 1].revision, rows[limit - 1].id))
    return Page(items=[to_event(r) for r in rows[:limit]], continue_token=token, revision=revision)
