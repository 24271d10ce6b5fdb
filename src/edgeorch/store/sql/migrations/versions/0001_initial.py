"""Initial schema: objects, labels, change feed, revision counter, events, tokens.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from edgeorch.store.sql.types import BigIntPK, JSONType, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _object_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(253), sa.ForeignKey("tenants.name"), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("labels", JSONType, nullable=False),
        sa.Column("spec", JSONType, nullable=False),
        sa.Column("status", JSONType, nullable=False),
        sa.Column("resource_version", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    ]


def upgrade() -> None:
    """Create every table and the revision counter at 0."""
    revision_table = op.create_table(
        "revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(revision_table, [{"id": 1, "value": 0}])
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(253), nullable=False, unique=True),
        sa.Column("labels", JSONType, nullable=False),
        sa.Column("spec", JSONType, nullable=False),
        sa.Column("status", JSONType, nullable=False),
        sa.Column("resource_version", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    _create_nodes()
    _create_workloads()
    _create_instances()
    _create_events()
    _create_tokens()
    _create_labels_and_changes()


def _create_nodes() -> None:
    op.create_table(
        "nodes",
        *_object_columns(),
        sa.Column("region", sa.String(63), nullable=False),
        sa.Column("edge_type", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.UniqueConstraint("tenant", "name", name="uq_nodes_tenant_name"),
    )
    op.create_index("ix_nodes_region", "nodes", ["tenant", "region", "name", "id"])
    op.create_index("ix_nodes_edge_type", "nodes", ["tenant", "edge_type", "name", "id"])
    op.create_index("ix_nodes_state", "nodes", ["tenant", "state", "name", "id"])


def _create_workloads() -> None:
    op.create_table(
        "workloads",
        *_object_columns(),
        sa.Column("runtime", sa.String(16), nullable=False),
        sa.UniqueConstraint("tenant", "name", name="uq_workloads_tenant_name"),
    )
    op.create_index("ix_workloads_runtime", "workloads", ["tenant", "runtime", "name", "id"])


def _create_instances() -> None:
    op.create_table(
        "instances",
        *_object_columns(),
        sa.Column(
            "workload_id",
            sa.String(32),
            sa.ForeignKey("workloads.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("node_id", sa.String(32), sa.ForeignKey("nodes.id"), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.UniqueConstraint("tenant", "name", name="uq_instances_tenant_name"),
    )
    op.create_index("ix_instances_workload", "instances", ["workload_id", "name", "id"])
    op.create_index("ix_instances_node", "instances", ["node_id", "name", "id"])
    op.create_index("ix_instances_state", "instances", ["tenant", "state", "name", "id"])


def _create_events() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(253), sa.ForeignKey("tenants.name"), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("time", UTCDateTime, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(128), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("involved_kind", sa.String(32), nullable=False),
        sa.Column("involved_id", sa.String(32), nullable=False),
        sa.Column("involved_name", sa.String(253), nullable=False),
    )
    op.create_index("ix_events_revision", "events", ["tenant", "revision", "id"])
    op.create_index(
        "ix_events_involved",
        "events",
        ["tenant", "involved_kind", "involved_id", "revision", "id"],
    )


def _create_tokens() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(253), sa.ForeignKey("tenants.name"), nullable=False),
        sa.Column(
            "node_id", sa.String(32), sa.ForeignKey("nodes.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("last_used_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_tokens_node_id", "tokens", ["node_id"])


def _create_labels_and_changes() -> None:
    op.create_table(
        "labels",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("object_id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(317), primary_key=True),
        sa.Column("value", sa.String(63), nullable=False),
    )
    op.create_index("ix_labels_key_value", "labels", ["kind", "key", "value", "object_id"])
    op.create_table(
        "changes",
        sa.Column("seq", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("tenant", sa.String(253), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
    )
    op.create_index("ix_changes_revision", "changes", ["revision", "seq"])


def downgrade() -> None:
    """Drop everything (children before parents)."""
    for table in ("changes", "labels", "tokens", "events", "instances", "workloads", "nodes"):
        op.drop_table(table)
    op.drop_table("tenants")
    op.drop_table("revision")
