"""Indexes for fleet-wide lists (every tenant at once), as fleet administrators read them.

The tenant-prefixed indexes of 0001 serve a tenant's own lists; without a tenant filter neither
SQLite nor PostgreSQL can use them to walk one region in name order, and a page of 100 nodes of
one region then sorts the whole region. These let the page stop after ``limit + 1`` rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_nodes_all_region", "nodes", ["region", "name", "id"]),
    ("ix_nodes_all_edge_type", "nodes", ["edge_type", "name", "id"]),
    ("ix_nodes_all_state", "nodes", ["state", "name", "id"]),
    ("ix_nodes_all_name", "nodes", ["name", "id"]),
    ("ix_workloads_all_runtime", "workloads", ["runtime", "name", "id"]),
    ("ix_workloads_all_name", "workloads", ["name", "id"]),
    ("ix_instances_all_state", "instances", ["state", "name", "id"]),
    ("ix_events_all_revision", "events", ["revision", "id"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
