"""Migration records: the ``migrations`` table (ORM row) and its repository functions.

Not to be confused with ``store/sql/migrations/`` (Alembic, the schema's history).

Invariants:

- A migration outlives the instances it names (no foreign key to ``instances``): it is the
  history of why an instance moved.
- At most one active (pending or running) migration per instance: ``create_migration`` refuses a
  second one with ``AlreadyExists``-like ``Conflict``.
- ``secret`` authenticates the two agents to each other during a hand-off; it is never part of
  the API object (only the agent API of the two nodes involved reads it).
"""

import secrets

from sqlalchemy import ColumnElement, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from edgeorch.schemas.migration import (
    ACTIVE_STATES,
    Migration,
    MigrationSpec,
    MigrationState,
    MigrationStatus,
)
from edgeorch.schemas.tenant import DEFAULT_TENANT
from edgeorch.store.errors import Conflict
from edgeorch.store.pagination import Page
from edgeorch.store.sql import objects
from edgeorch.store.sql.objects import stamp
from edgeorch.store.sql.orm import ID_LENGTH, NAME_LENGTH, Base, InstanceRow, ObjectColumns

KIND = "Migration"
_ACTIVE = [s.value for s in ACTIVE_STATES]


class MigrationRow(ObjectColumns, Base):
    """A migration; ``state`` and the ids are copied from spec and status for filtering."""

    __tablename__ = "migrations"
    __table_args__ = (
        UniqueConstraint("tenant", "name", name="uq_migrations_tenant_name"),
        Index("ix_migrations_state", "tenant", "state", "name", "id"),
        Index("ix_migrations_all_state", "state", "name", "id"),
        Index("ix_migrations_instance", "instance_id", "state"),
        Index("ix_migrations_target_instance", "target_instance_id"),
    )

    state: Mapped[str] = mapped_column(String(16))
    instance_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    source_node_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    target_node_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    target_instance_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    secret: Mapped[str] = mapped_column(String(64))


def to_migration(row: MigrationRow) -> Migration:
    """The API model of a row (without the secret)."""
    return Migration(
        metadata=objects.metadata(row),
        spec=MigrationSpec.model_validate(row.spec),
        status=MigrationStatus.model_validate(row.status),
    )


def create_migration(
    *, session: Session, spec: MigrationSpec, tenant: str = DEFAULT_TENANT
) -> Migration:
    """Record a new pending migration; ``Conflict`` if the instance already has an active one."""
    objects.require_tenant(session, tenant)
    busy = active_migration_for(session=session, instance_id=spec.instance_id)
    if busy is not None:
        raise Conflict(
            f"instance {spec.instance_name!r} is already being migrated by {busy.metadata.name} "
            f"({busy.status.state.value}, phase {busy.status.phase.value}); wait for it to end"
        )
    object_id = objects.new_id()
    suffix = f"-{object_id[:5]}"
    name = ("migrate-" + spec.instance_name)[: NAME_LENGTH - len(suffix)] + suffix
    status = MigrationStatus()
    row = MigrationRow(
        id=object_id,
        tenant=tenant,
        name=name,
        labels={},
        spec=spec.model_dump(mode="json"),
        status=status.model_dump(mode="json"),
        state=status.state.value,
        instance_id=spec.instance_id,
        source_node_id=spec.source_node_id,
        target_node_id=spec.target_node_id,
        target_instance_id=None,
        secret=secrets.token_hex(32),
    )
    stamp(session, KIND, row, "created")
    return to_migration(row)


def read_migration(*, session: Session, ref: str, tenant: str | None = DEFAULT_TENANT) -> Migration:
    """The migration named by id, name or unambiguous id prefix; ``tenant=None`` searches all."""
    return to_migration(objects.find(session, MigrationRow, KIND, ref, tenant))


def read_migration_secret(*, session: Session, migration_id: str) -> str:
    """The hand-off secret of a migration (agent API only)."""
    return objects.find(session, MigrationRow, KIND, migration_id, None).secret


def list_migrations(
    *,
    session: Session,
    tenant: str | None = DEFAULT_TENANT,
    state: MigrationState | str | None = None,
    instance_id: str | None = None,
    limit: int = 100,
    continue_token: str | None = None,
) -> Page[Migration]:
    """A page of migrations in (name, id) order; every filter given must hold."""
    where: list[ColumnElement[bool]] = []
    if state is not None:
        where.append(MigrationRow.state == str(state))
    if instance_id is not None:
        where.append(MigrationRow.instance_id == instance_id)
    return objects.list_page(
        session,
        model=MigrationRow,
        output=Migration,
        kind=KIND,
        tenant=tenant,
        where=where,
        label_selector=None,
        limit=limit,
        continue_token=continue_token,
    )


def list_active_migrations(*, session: Session) -> list[Migration]:
    """Every pending or running migration of every tenant, oldest first."""
    rows = session.scalars(
        select(MigrationRow)
        .where(MigrationRow.state.in_(_ACTIVE))
        .order_by(MigrationRow.created_at, MigrationRow.id)
    )
    return [to_migration(r) for r in rows]


def active_migration_for(*, session: Session, instance_id: str) -> Migration | None:
    """The pending or running migration of ``instance_id`` (as source), if any."""
    row = session.scalar(
        select(MigrationRow)
        .where(MigrationRow.instance_id == instance_id, MigrationRow.state.in_(_ACTIVE))
        .limit(1)
    )
    return None if row is None else to_migration(row)


def migrations_targeting(
    *, session: Session, instance_ids: list[str]
) -> list[tuple[Migration, str]]:
    """Active migrations whose target instance is one of ``instance_ids``, with their secrets."""
    if not instance_ids:
        return []
    rows = session.scalars(
        select(MigrationRow).where(
            MigrationRow.target_instance_id.in_(instance_ids), MigrationRow.state.in_(_ACTIVE)
        )
    )
    return [(to_migration(r), r.secret) for r in rows]


def update_migration_status(
    *,
    session: Session,
    migration_id: str,
    status: MigrationStatus,
    expected_version: int | None = None,
) -> Migration:
    """Replace a migration's status (its controller, or an agent's report through the API)."""
    row = objects.find(session, MigrationRow, KIND, migration_id, None)
    objects.check_version(KIND, row, expected_version)
    row.status = status.model_dump(mode="json")
    row.state = status.state.value
    row.target_instance_id = status.target_instance_id
    stamp(session, KIND, row, "updated")
    return to_migration(row)


def set_instance_label(
    *,
    session: Session,
    instance_id: str,
    key: str,
    value: str | None,
    expected_version: int | None = None,
) -> None:
    """Set (or with ``None`` remove) one label of an instance. The migration controller marks
    its source this way: labels are desired state, which agents' status reports never rewrite."""
    row = objects.find(session, InstanceRow, "Instance", instance_id, None)
    objects.check_version("Instance", row, expected_version)
    labels = dict(row.labels)
    if value is None:
        labels.pop(key, None)
    else:
        labels[key] = value
    if labels == row.labels:
        return
    row.labels = labels
    stamp(session, "Instance", row, "updated", labels_changed=True)
