"""replies: each email reply Inbound Parse posted, what it was read as, and its forward to the recruiter

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.Column("message_id_header", sa.String(998), nullable=True),
        sa.Column("candidate_id", sa.String(128), sa.ForeignKey("candidates.candidate_id"), nullable=True),
        sa.Column("message_key", sa.String(64), nullable=True),
        sa.Column("matched_by", sa.String(16), nullable=True),
        sa.Column("from_email", sa.String(320), nullable=False),
        sa.Column("from_name", sa.String(200), nullable=True),
        sa.Column("to_email", sa.String(320), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("text_body", sa.Text(), nullable=True),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("attachments", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forward_to", sa.String(320), nullable=True),
        sa.Column("forward_status", sa.String(16), nullable=False),
        sa.Column("forward_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("forward_next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("forward_claimed_by", sa.String(200), nullable=True),
        sa.Column("forward_claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("forward_provider_id", sa.String(128), nullable=True),
        sa.Column("forward_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_replies_dedupe_key", "replies", ["dedupe_key"], unique=True)
    op.create_index("ix_replies_candidate_id", "replies", ["candidate_id"])
    op.create_index("ix_replies_forward_status", "replies", ["forward_status"])


def downgrade() -> None:
    op.drop_table("replies")
