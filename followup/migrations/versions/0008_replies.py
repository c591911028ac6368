"""replies: each email reply Inbound Parse posted, what it was read as, and its forward to the recruiter;
messages: what their events show, kept as they arrive (for the response report)

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
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_open_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_click_at", sa.DateTime(timezone=True), nullable=True))
    _backfill()


def _backfill() -> None:
    """The three columns from the events already stored (store.events keeps them from now on)."""
    from followup.tracking.engagement import IMAGE_PROXY_AGENTS

    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    agent = ("lower(coalesce(json_extract(e.payload, '$.useragent'), ''))" if sqlite
             else "lower(coalesce(e.payload ->> 'useragent', ''))")  # fmt: skip
    machine = "e.machine_open = 1" if sqlite else "e.machine_open"
    proxies = " OR ".join(f"{agent} LIKE :p{n}" for n in range(len(IMAGE_PROXY_AGENTS)))
    params = {f"p{n}": f"%{name.lower()}%" for n, name in enumerate(IMAGE_PROXY_AGENTS)}
    of_message = "e.message_key = messages.message_key AND e.matched"
    bind.execute(sa.text(f"""
        UPDATE messages SET
            delivered_at = (SELECT MIN(e.occurred_at) FROM events e WHERE {of_message} AND e.event = 'delivered'),
            last_open_at = (SELECT MAX(e.occurred_at) FROM events e WHERE {of_message} AND e.event = 'open'
                            AND NOT ({machine}) AND NOT ({proxies})),
            last_click_at = (SELECT MAX(e.occurred_at) FROM events e WHERE {of_message} AND e.event = 'click')
        WHERE EXISTS (SELECT 1 FROM events e WHERE {of_message})"""), params)  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("last_click_at")
        batch.drop_column("last_open_at")
        batch.drop_column("delivered_at")
    op.drop_table("replies")
