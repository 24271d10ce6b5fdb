"""An index on ``tokens.revoked_at``.

Every server replica asks the store once a second which tokens were revoked since it last asked
(``api/auth.py``, ``TokenCache``), instead of re-reading every cached credential every few
seconds; the index keeps that question as cheap at 10,000 tokens as at 10.

Revision ID: 0006_token_revocations
Revises: 0005_store_meta
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_token_revocations"
down_revision: str | None = "0005_store_meta"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tokens_revoked_at", "tokens", ["revoked_at"])


def downgrade() -> None:
    op.drop_index("ix_tokens_revoked_at", table_name="tokens")
