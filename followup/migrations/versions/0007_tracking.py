"""tracking: events flagged when their message is unknown, and found by their sg_message_id

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        # False: neither its message_key nor its sg_message_id names a message of this ledger.
        batch.add_column(sa.Column("matched", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_index("ix_events_provider_message_id", "events", ["provider_message_id"])


def downgrade() -> None:
    op.drop_index("ix_events_provider_message_id", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("matched")
