"""ORM tables. The initial migration creates exactly these (a test compares them).

Object rows keep the whole ``spec``/``status`` as JSON and copy into plain columns only what lists
filter on (region, edge type, state, ...), so a filter is an index range scan, never JSON parsing.
Labels live twice: as JSON on the row (read with the object) and as rows of ``labels`` (what
selectors query with EXISTS, so a selector paginates like any other filter).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from edgeorch.store.sql.types import BigIntPK, JSONType, UTCDateTime

ID_LENGTH = 32
NAME_LENGTH = 253


class Base(DeclarativeBase):
    """Declarative base; maps the annotation types to the portable column types."""

    type_annotation_map = {
        dict[str, Any]: JSONType,
        dict[str, str]: JSONType,
        datetime: UTCDateTime,
    }


class RevisionRow(Base):
    """The single-row global revision counter; locking it serialises writers."""

    __tablename__ = "revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class TenantRow(Base):
    """A tenant; cluster-scoped, so its ``tenant`` in metadata is its own name."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    labels: Mapped[dict[str, str]]
    spec: Mapped[dict[str, Any]]
    status: Mapped[dict[str, Any]]
    resource_version: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ObjectColumns:
    """Columns every tenant-scoped object row has."""

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(NAME_LENGTH), ForeignKey("tenants.name"))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    labels: Mapped[dict[str, str]]
    spec: Mapped[dict[str, Any]]
    status: Mapped[dict[str, Any]]
    resource_version: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class NodeRow(ObjectColumns, Base):
    """A node; ``state`` is ``status.state`` copied for filtering."""

    __tablename__ = "nodes"
    __table_args__ = (
        UniqueConstraint("tenant", "name", name="uq_nodes_tenant_name"),
        Index("ix_nodes_region", "tenant", "region", "name", "id"),
        Index("ix_nodes_edge_type", "tenant", "edge_type", "name", "id"),
        Index("ix_nodes_state", "tenant", "state", "name", "id"),
        # Fleet-wide lists (no tenant filter): migration 0002.
        Index("ix_nodes_all_region", "region", "name", "id"),
        Index("ix_nodes_all_edge_type", "edge_type", "name", "id"),
        Index("ix_nodes_all_state", "state", "name", "id"),
        Index("ix_nodes_all_name", "name", "id"),
        # Covering indexes for the keys of a page: migration 0005.
        Index("ix_nodes_name", "tenant", "name", "id"),
        Index("ix_nodes_region_edge_type", "tenant", "region", "edge_type", "name", "id"),
        Index("ix_nodes_all_region_edge_type", "region", "edge_type", "name", "id"),
    )

    region: Mapped[str] = mapped_column(String(63))
    edge_type: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))


class WorkloadRow(ObjectColumns, Base):
    """A workload; ``runtime`` is ``spec.runtime`` copied for filtering."""

    __tablename__ = "workloads"
    __table_args__ = (
        UniqueConstraint("tenant", "name", name="uq_workloads_tenant_name"),
        Index("ix_workloads_runtime", "tenant", "runtime", "name", "id"),
        Index("ix_workloads_all_runtime", "runtime", "name", "id"),
        Index("ix_workloads_all_name", "name", "id"),
        Index("ix_workloads_name", "tenant", "name", "id"),  # migration 0005
    )

    runtime: Mapped[str] = mapped_column(String(16))


class InstanceRow(ObjectColumns, Base):
    """A replica; ``workload_id``, ``node_id`` and ``state`` are copied from spec and status."""

    __tablename__ = "instances"
    __table_args__ = (
        UniqueConstraint("tenant", "name", name="uq_instances_tenant_name"),
        Index("ix_instances_workload", "workload_id", "name", "id"),
        Index("ix_instances_node", "node_id", "name", "id"),
        Index("ix_instances_state", "tenant", "state", "name", "id"),
        Index("ix_instances_all_state", "state", "name", "id"),
    )

    workload_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("workloads.id", ondelete="CASCADE")
    )
    # No ON DELETE action: delete_node unbinds instances itself so spec and column agree.
    node_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), ForeignKey("nodes.id"))
    state: Mapped[str] = mapped_column(String(16))


class EventRow(Base):
    """An event; ``revision`` is the revision of the transaction that recorded it."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_revision", "tenant", "revision", "id"),
        Index("ix_events_all_revision", "revision", "id"),
        Index("ix_events_involved", "tenant", "involved_kind", "involved_id", "revision", "id"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(NAME_LENGTH), ForeignKey("tenants.name"))
    revision: Mapped[int] = mapped_column(BigInteger)
    time: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    involved_kind: Mapped[str] = mapped_column(String(32))
    involved_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    involved_name: Mapped[str] = mapped_column(String(NAME_LENGTH))


class TokenRow(Base):
    """A bearer token: only the SHA-256 of the secret is kept."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(NAME_LENGTH), ForeignKey("tenants.name"))
    # A node's credentials die with the node.
    node_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("nodes.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    # Indexed for the servers' poll of recent revocations (api/auth.py, migration 0006).
    revoked_at: Mapped[datetime | None] = mapped_column(index=True)
    last_used_at: Mapped[datetime | None]


class LabelRow(Base):
    """One label of one object, for selectors."""

    __tablename__ = "labels"
    __table_args__ = (Index("ix_labels_key_value", "kind", "key", "value", "object_id"),)

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    key: Mapped[str] = mapped_column(String(317), primary_key=True)
    value: Mapped[str] = mapped_column(String(63))


class ChangeRow(Base):
    """One entry of the change feed; ``seq`` orders entries that share a revision."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_revision", "revision", "seq"),)

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    tenant: Mapped[str] = mapped_column(String(NAME_LENGTH))
    op: Mapped[str] = mapped_column(String(16))


class StoreMetaRow(Base):
    """A fact about the store itself (migration 0005), e.g. the fingerprint of the models whose
    JSON the object rows hold (``sql/documents.py``)."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
