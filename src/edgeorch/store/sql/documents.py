"""Keeping the stored object JSON equal to the current models' dump.

Every write stores ``spec`` and ``status`` as ``model_dump(mode="json")`` of their models, so the
stored text is the object exactly as the API returns it, and list endpoints splice it into their
answer without parsing it (``objects.list_documents``). That holds only while the models do not
change: a field added with a default is missing from the rows written before. So the store keeps
a fingerprint of the models (their JSON schemas) in ``store_meta``, and ``Database.migrate``
calls :func:`ensure_current`: when the fingerprint differs, every row is re-validated and the
ones whose dump differs are rewritten, in the same transaction that records the new fingerprint.

The rewrite changes no object's value as the API sees it (reads always went through the same
models), so it takes no revision and appends no change. Caveat: during a rolling upgrade of
several servers sharing one PostgreSQL, an old server still writes the old shape until it is
replaced; restarting any new server (or the next model change) heals those rows.
"""

import hashlib
import json
from typing import Any, Final

from pydantic import BaseModel
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from edgeorch.schemas.instance import InstanceSpec, InstanceStatus
from edgeorch.schemas.node import NodeSpec, NodeStatus
from edgeorch.schemas.workload import WorkloadSpec, WorkloadStatus
from edgeorch.store.sql.orm import InstanceRow, NodeRow, StoreMetaRow, WorkloadRow

FINGERPRINT_KEY: Final = "documents"
_BATCH = 500

# The tables whose rows list endpoints answer as stored, with their spec and status models.
SHAPES: Final[dict[str, tuple[type[BaseModel], type[BaseModel]]]] = {
    NodeRow.__tablename__: (NodeSpec, NodeStatus),
    WorkloadRow.__tablename__: (WorkloadSpec, WorkloadStatus),
    InstanceRow.__tablename__: (InstanceSpec, InstanceStatus),
}
_TABLES: Final[dict[str, Table]] = {
    row.__tablename__: row.__table__  # type: ignore[misc]
    for row in (NodeRow, WorkloadRow, InstanceRow)
}


def fingerprint() -> str:
    """A digest of the JSON schemas of every stored document model."""
    schemas = {
        table: [
            spec.model_json_schema(mode="serialization"),
            status.model_json_schema(mode="serialization"),
        ]
        for table, (spec, status) in SHAPES.items()
    }
    return hashlib.sha256(json.dumps(schemas, sort_keys=True).encode()).hexdigest()


def stored_fingerprint(session: Session) -> str | None:
    """The fingerprint the stored documents were last normalised to (None: never)."""
    return session.scalar(select(StoreMetaRow.value).where(StoreMetaRow.key == FINGERPRINT_KEY))


def ensure_current(session: Session) -> int:
    """Rewrite the stored documents that differ from their models' dump, if the models changed
    since the last call; returns how many rows were rewritten. Needs a write session."""
    current = fingerprint()
    before = stored_fingerprint(session)
    if before == current:
        return 0
    rewritten = sum(normalize(session, table) for table in SHAPES)
    if before is None:
        session.add(StoreMetaRow(key=FINGERPRINT_KEY, value=current))
    else:
        session.execute(
            update(StoreMetaRow).where(StoreMetaRow.key == FINGERPRINT_KEY).values(value=current)
        )
    return rewritten


def normalize(session: Session, table_name: str) -> int:
    """Re-validate every row of ``table_name`` and rewrite the spec/status that differ from
    their models' dump; returns the number of rows rewritten."""
    spec_model, status_model = SHAPES[table_name]
    table = _TABLES[table_name]
    rewritten = 0
    after = ""
    while True:
        rows = session.execute(
            select(table.c.id, table.c.spec, table.c.status)
            .where(table.c.id > after)
            .order_by(table.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return rewritten
        for object_id, spec, status in rows:
            changes: dict[str, Any] = {}
            fresh_spec = spec_model.model_validate(spec).model_dump(mode="json")
            if fresh_spec != spec:
                changes["spec"] = fresh_spec
            fresh_status = status_model.model_validate(status).model_dump(mode="json")
            if fresh_status != status:
                changes["status"] = fresh_status
            if changes:
                session.execute(update(table).where(table.c.id == object_id).values(**changes))
                rewritten += 1
        after = rows[-1][0]
