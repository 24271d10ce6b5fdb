"""Telemetry and alerts: request-stat samples, node utilization history, alert episodes.

See ``store/sql/telemetry.py`` and ``store/sql/alerts.py``. The 16 ``bNN`` columns are the
latency histogram buckets of ``telemetry/histogram.py`` (15 bounds plus the overflow bucket); the
count is written out here because a migration must not change when code does.

Revision ID: 0003_telemetry
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from edgeorch.store.sql.types import BigIntPK, UTCDateTime

revision: str = "0003_telemetry"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTOGRAM_BUCKETS = 16


def upgrade() -> None:
    op.create_table(
        "request_samples",
        sa.Column("seq", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(253), nullable=False),
        sa.Column("workload_id", sa.String(32), nullable=False),
        sa.Column("workload", sa.String(253), nullable=False),
        sa.Column("instance_id", sa.String(32), nullable=False),
        sa.Column("node_id", sa.String(32), nullable=False),
        sa.Column("region", sa.String(63), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("latency_sum_ms", sa.Float(), nullable=False),
        *(
            sa.Column(f"b{i:02d}", sa.BigInteger(), nullable=False)
            for i in range(HISTOGRAM_BUCKETS)
        ),
    )
    op.create_index("ix_request_samples_time", "request_samples", ["time"])
    op.create_index("ix_request_samples_workload", "request_samples", ["workload_id", "time"])
    op.create_table(
        "node_usage",
        sa.Column("seq", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(253), nullable=False),
        sa.Column("node_id", sa.String(32), nullable=False),
        sa.Column("region", sa.String(63), nullable=False),
        sa.Column("cpu", sa.Float(), nullable=False),
        sa.Column("memory", sa.Float(), nullable=False),
        sa.Column("storage", sa.Float(), nullable=False),
        sa.Column("cpu_capacity", sa.Float(), nullable=False),
        sa.Column("memory_mb_capacity", sa.BigInteger(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
    )
    op.create_index("ix_node_usage_region", "node_usage", ["region", "time"])
    op.create_index("ix_node_usage_time", "node_usage", ["time"])
    op.create_table(
        "alerts",
        sa.Column("seq", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("fingerprint", sa.String(512), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(253), nullable=False),
        sa.Column("subject_kind", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(253), nullable=False),
        sa.Column("subject_name", sa.String(253), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_alerts_state", "alerts", ["state", "seq"])
    op.create_index("ix_alerts_fingerprint", "alerts", ["fingerprint", "state"])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("node_usage")
    op.drop_table("request_samples")
