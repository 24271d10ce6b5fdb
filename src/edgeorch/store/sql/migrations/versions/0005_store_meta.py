"""The ``store_meta`` table, and covering indexes for the list queries.

``store_meta`` holds small facts about the store itself, by key. Its first is ``documents``: the
fingerprint of the models whose JSON the object rows hold (``store/sql/documents.py``). List
endpoints answer the stored JSON without re-validating it, so ``Database.migrate`` rewrites the
stored documents whenever that fingerprint changes.

The indexes let a page's keys come from an index alone (``objects.list_documents`` reads the
keys first, then the documents of those rows): ``(tenant, name, id)`` for a tenant's lists (the
unique ``(tenant, name)`` lacks the id, so every row walked cost a table read), and
``region, edge_type`` for the region-and-type filter, which otherwise read every node of the
region to test its type.

Revision ID: 0005_store_meta
Revises: 0004_migrations
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_store_meta"
down_revision: str | None = "0004_migrations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


INDEXES = [
    ("ix_nodes_name", "nodes", ["tenant", "name", "id"]),
    ("ix_nodes_region_edge_type", "nodes", ["tenant", "region", "edge_type", "name", "id"]),
    ("ix_nodes_all_region_edge_type", "nodes", ["region", "edge_type", "name", "id"]),
    ("ix_workloads_name", "workloads", ["tenant", "name", "id"]),
]


def upgrade() -> None:
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("store_meta")
