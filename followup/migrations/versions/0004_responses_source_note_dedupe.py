"""responses: where each came from, the recruiter's note, and a key that stores an answer once

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=64), nullable=True))
        # A unique index, not a constraint: INSERT ... ON CONFLICT (dedupe_key) names it on both
        # databases, and SQLite adds it without rebuilding the table.
        batch_op.create_index(batch_op.f("ix_responses_dedupe_key"), ["dedupe_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_responses_dedupe_key"))
        batch_op.drop_column("dedupe_key")
        batch_op.drop_column("note")
        batch_op.drop_column("source")
