"""The global revision and the change feed.

A write transaction takes the next revision lazily, at its first write: it increments the single
counter row, which locks it until commit (on PostgreSQL ``Database.write`` already holds that lock
from the start; on SQLite ``BEGIN IMMEDIATE`` does the same job). Writers are therefore serialised,
so revision order is commit order, and a reader that has seen revision ``r`` has seen every change
with a revision ``<= r``. Every object written in the transaction gets that revision as its
``resource_version`` and one ``changes`` row.
"""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Select, Table, insert, select, update
from sqlalchemy.orm import Session

from edgeorch.store.sql.orm import ChangeRow, RevisionRow
from edgeorch.store.sql.prepared import Prepared

Op = Literal["created", "updated", "deleted"]

REVISION_KEY = "edgeorch.revision"
_CHANGES: Table = ChangeRow.__table__  # type: ignore[assignment]
_REVISION: Table = RevisionRow.__table__  # type: ignore[assignment]
# Built once (every write and every list runs them): Core statements on the session's
# connection, not ORM ones, whose per-call machinery cost more than the statements.
_CURRENT_REVISION = select(_REVISION.c.value).where(_REVISION.c.id == 1)
_NEXT_REVISION = (
    update(_REVISION)
    .where(_REVISION.c.id == 1)
    .values(value=_REVISION.c.value + 1)
    .returning(_REVISION.c.value)
)
_INSERT_CHANGE = insert(_CHANGES)
# The two that every write runs, on the driver's cursor (``sql/prepared.py``).
_TAKE_REVISION = Prepared(_NEXT_REVISION)
_APPEND_CHANGE = Prepared(
    _INSERT_CHANGE, keys=("revision", "kind", "object_id", "name", "tenant", "op")
)
WRITABLE_KEY = "edgeorch.writable"


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change feed: which object changed how, at which revision."""

    revision: int
    kind: str
    object_id: str
    name: str
    tenant: str
    op: Op


def current_revision(*, session: Session) -> int:
    """The revision of the last committed write (0 on an empty store)."""
    return int(session.connection().execute(_CURRENT_REVISION).scalar_one())


def current_revision_query() -> Select[tuple[int]]:
    """The SELECT of :func:`current_revision`, to embed in another statement."""
    return _CURRENT_REVISION


def next_revision(session: Session) -> int:
    """This write transaction's revision, taken on first use."""
    revision = session.info.get(REVISION_KEY)
    if revision is None:
        if not session.info.get(WRITABLE_KEY):
            # Only Database.write() serialises writers; a write elsewhere could break the order.
            raise RuntimeError("store writes need a session from Database.write()")
        # On the driver's cursor: the ORM's bulk-update path around this one statement, and
        # then even Core's execution, cost more than the statement.
        row = _TAKE_REVISION.first(session, {})
        if row is None:  # pragma: no cover - migration 0001 inserts the row
            raise RuntimeError("the revision row is missing")
        revision = session.info[REVISION_KEY] = int(row[0])
    return int(revision)


def record_change(
    session: Session, *, kind: str, object_id: str, name: str, tenant: str, op: Op
) -> int:
    """Append a change for this transaction; return its revision.

    An INSERT executed at once rather than queued for the ORM's unit of work: the row is
    write-only, and ``seq`` (the order of the changes of one revision) is then the order of the
    calls whatever else the session flushes.
    """
    revision = next_revision(session)
    _APPEND_CHANGE.run(
        session,
        {
            "revision": revision,
            "kind": kind,
            "object_id": object_id,
            "name": name,
            "tenant": tenant,
            "op": op,
        },
    )
    return revision


def list_changes(
    *,
    session: Session,
    since: int,
    limit: int = 1000,
    kinds: Collection[str] | None = None,
    tenant: str | None = None,
) -> list[Change]:
    """Changes with a revision greater than ``since``, oldest first.

    ``limit`` is soft: the changes of the last revision returned are never split across calls,
    so ``since=changes[-1].revision`` resumes without missing anything.
    """
    # Plain rows, not ORM objects: every controller polls this after every commit.
    c = _CHANGES.c
    query = select(c.revision, c.kind, c.object_id, c.name, c.tenant, c.op, c.seq).where(
        c.revision > since
    )
    if kinds is not None:
        query = query.where(c.kind.in_(list(kinds)))
    if tenant is not None:
        query = query.where(c.tenant == tenant)
    connection = session.connection()
    rows = list(connection.execute(query.order_by(c.revision, c.seq).limit(limit)))
    if len(rows) == limit and rows:
        last = rows[-1]
        rest = query.where(c.revision == last.revision, c.seq > last.seq)
        rows.extend(connection.execute(rest.order_by(c.seq)))
    return [
        Change(
            revision=r.revision,
            kind=r.kind,
            object_id=r.object_id,
            name=r.name,
            tenant=r.tenant,
            op=_op(r.op),
        )
        for r in rows
    ]


def _op(value: str) -> Op:
    if value == "created":
        return "created"
    if value == "deleted":
        return "deleted"
    return "updated"
