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

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from edgeorch.store.sql.orm import ChangeRow, RevisionRow

Op = Literal["created", "updated", "deleted"]

REVISION_KEY = "edgeorch.revision"
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
    return session.execute(select(RevisionRow.value).where(RevisionRow.id == 1)).scalar_one()


def next_revision(session: Session) -> int:
    """This write transaction's revision, taken on first use."""
    revision = session.info.get(REVISION_KEY)
    if revision is None:
        if not session.info.get(WRITABLE_KEY):
            # Only Database.write() serialises writers; a write elsewhere could break the order.
            raise RuntimeError("store writes need a session from Database.write()")
        revision = session.execute(
            update(RevisionRow)
            .where(RevisionRow.id == 1)
            .values(value=RevisionRow.value + 1)
            .returning(RevisionRow.value)
        ).scalar_one()
        session.info[REVISION_KEY] = revision
    return int(revision)


def record_change(
    session: Session, *, kind: str, object_id: str, name: str, tenant: str, op: Op
) -> int:
    """Append a change for this transaction; return its revision."""
    revision = next_revision(session)
    session.add(
        ChangeRow(
            revision=revision, kind=kind, object_id=object_id, name=name, tenant=tenant, op=op
        )
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
    query = select(ChangeRow).where(ChangeRow.revision > since)
    if kinds is not None:
        query = query.where(ChangeRow.kind.in_(list(kinds)))
    if tenant is not None:
        query = query.where(ChangeRow.tenant == tenant)
    rows = list(session.scalars(query.order_by(ChangeRow.revision, ChangeRow.seq).limit(limit)))
    if len(rows) == limit and rows:
        last = rows[-1]
        rest = query.where(ChangeRow.revision == last.revision, ChangeRow.seq > last.seq)
        rows.extend(session.scalars(rest.order_by(ChangeRow.seq)))
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
