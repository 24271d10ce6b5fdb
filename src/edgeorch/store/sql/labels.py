"""Labels as rows, and label selectors as SQL.

Each requirement becomes an ``EXISTS`` (or ``NOT EXISTS``) subquery on ``labels`` correlated on
the object id, so a selector combines with any other filter and with keyset pagination.
"""

from collections.abc import Collection

from sqlalchemy import ColumnElement, and_, delete, exists, not_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from edgeorch.store.selectors import LabelSelector, Requirement
from edgeorch.store.sql.orm import LabelRow


def replace_labels(session: Session, *, kind: str, object_id: str, labels: dict[str, str]) -> None:
    """Make the label rows of one object equal ``labels``."""
    delete_labels(session, kind=kind, object_ids=[object_id])
    add_labels(session, kind=kind, object_id=object_id, labels=labels)


def add_labels(session: Session, *, kind: str, object_id: str, labels: dict[str, str]) -> None:
    """Add the label rows of a new object."""
    session.add_all(
        LabelRow(kind=kind, object_id=object_id, key=key, value=value)
        for key, value in labels.items()
    )


def delete_labels(session: Session, *, kind: str, object_ids: Collection[str]) -> None:
    """Remove the label rows of these objects (labels have no foreign key: they are polymorphic)."""
    if object_ids:
        session.execute(
            delete(LabelRow).where(LabelRow.kind == kind, LabelRow.object_id.in_(list(object_ids)))
        )


def selector_clause(
    *, kind: str, object_id: InstrumentedAttribute[str], selector: LabelSelector
) -> ColumnElement[bool]:
    """A WHERE clause true for the objects whose labels satisfy ``selector``."""
    return and_(True, *(_requirement(kind, object_id, r) for r in selector.requirements))


def _requirement(
    kind: str, object_id: InstrumentedAttribute[str], req: Requirement
) -> ColumnElement[bool]:
    conditions = [LabelRow.kind == kind, LabelRow.object_id == object_id, LabelRow.key == req.key]
    if req.operator in ("=", "!="):
        conditions.append(LabelRow.value == req.value)
    found = exists(select(LabelRow.key).where(*conditions))
    # "!=" holds for objects without the key too (Kubernetes semantics), hence NOT EXISTS(k=v).
    return found if req.operator in ("=", "exists") else not_(found)
