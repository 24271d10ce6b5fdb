"""Migrations of instances between nodes: the ``migrations`` table.

See ``store/sql/migration_records.py`` (ORM row and repository) and ``docs/migrations.md``. No
foreign key to ``instances``: a migration record is the history of why an instance moved and
outlives both the source and the target instance.

Revision ID: 0004_migrations
Revises: 0003_telemetry
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from edgeorch.store.sql.types import JSONType, UTCDateTime

revision: str = "0004_migrations"
down_revision: str | None = "0003_telemetry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_migrations_state", ["tenant", "state", "name", "id"]),
    ("ix_migrations_all_state", ["state", "name", "id"]),
    ("ix_migrations_instance", ["instance_id", "state"]),
    ("ix_migrations_target_instance", ["target_instance_id"]),
]


def upgrade() -> None:
    op.create_table(
        "migrations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(253), sa.ForeignKey("tenants.name"), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("labels", JSONType, nullable=False),
        sa.Column("spec", JSONType, nullable=False),
        sa.Column("status", JSONType, nullable=False),
        sa.Column("resource_version", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("instance_id", sa.String(32), nullable=False),
        sa.Column("source_node_id", sa.String(32), nullable=False),
        sa.Column("target_node_id", sa.String(32), nullable=False),
        sa.Column("target_instance_id", sa.String(32), nullable=True),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.UniqueConstraint("tenant", "name", name="uq_migrations_tenant_name"),
    )
    for name, columns in INDEXES:
        op.create_index(name, "migrations", columns)


def downgrade() -> None:
    for name, _ in reversed(INDEXES):
        op.drop_index(name, table_name="migrations")
    op.drop_table("migrations")
