"""Labels as rows, and label selectors as SQL.

Each requirement becomes an ``EXISTS`` (or ``NOT EXISTS``) subquery on ``labels`` correlated on
the object id, so a selector combines with any other filter and with keyset pagination.

A correlated ``EXISTS`` makes the list walk the objects in name order and probe ``labels`` for
each until the page is full: cheap when most objects match, thousands of probes when few do
(``rack=r7`` on 1 node in 50). :func:`page_selector_clause` therefore looks at how many label
rows the most selective positive term matches (a count capped at ``IN_LIST_MAX`` on the
covering ``ix_labels_key_value``) and, when that is few, writes that term as
``id IN (SELECT object_id FROM labels ...)`` instead, which the database drives from the index;
the rows it names are then all read and sorted, which is why many matches keep ``EXISTS``.
"""

from collections.abc import Collection

from sqlalchemy import ColumnElement, Table, and_, delete, exists, func, insert, not_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from edgeorch.store.selectors import LabelSelector, Requirement
from edgeorch.store.sql.orm import LabelRow
from edgeorch.store.sql.prepared import Prepared

_LABELS: Table = LabelRow.__table__  # type: ignore[assignment]
_INSERT_LABELS = Prepared(insert(_LABELS), keys=("kind", "object_id", "key", "value"))
IN_LIST_MAX = 1000  # more matching label rows than this: the name-order walk is cheaper


def replace_labels(session: Session, *, kind: str, object_id: str, labels: dict[str, str]) -> None:
    """Make the label rows of one object equal ``labels``."""
    delete_labels(session, kind=kind, object_ids=[object_id])
    add_labels(session, kind=kind, object_id=object_id, labels=labels)


def add_labels(session: Session, *, kind: str, object_id: str, labels: dict[str, str]) -> None:
    """Add the label rows of a new object (on the driver's cursor, no unit of work)."""
    _INSERT_LABELS.run_many(
        session,
        [
            {"kind": kind, "object_id": object_id, "key": key, "value": value}
            for key, value in labels.items()
        ],
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


def page_selector_clause(
    session: Session, *, kind: str, object_id: InstrumentedAttribute[str], selector: LabelSelector
) -> ColumnElement[bool]:
    """:func:`selector_clause` for one page of a list, with the most selective positive term
    (if it matches at most ``IN_LIST_MAX`` label rows) as an ``IN`` list (module docstring)."""
    best: tuple[int, int] | None = None  # (matches, index of the term)
    for index, req in enumerate(selector.requirements):
        if req.operator not in ("=", "exists"):
            continue
        matching = select(LabelRow.object_id).where(*_term(kind, req)).limit(IN_LIST_MAX + 1)
        count = session.scalar(select(func.count()).select_from(matching.subquery())) or 0
        if count <= IN_LIST_MAX and (best is None or count < best[0]):
            best = (count, index)
    if best is None:
        return selector_clause(kind=kind, object_id=object_id, selector=selector)
    chosen = selector.requirements[best[1]]
    rest = [r for i, r in enumerate(selector.requirements) if i != best[1]]
    listed = object_id.in_(select(LabelRow.object_id).where(*_term(kind, chosen)))
    return and_(listed, *(_requirement(kind, object_id, r) for r in rest))


def _term(kind: str, req: Requirement) -> list[ColumnElement[bool]]:
    """The label rows that satisfy a positive term (``=`` or ``exists``)."""
    conditions = [LabelRow.kind == kind, LabelRow.key == req.key]
    if req.operator == "=":
        conditions.append(LabelRow.value == req.value)
    return conditions
