"""cadences: send windows, the cadence a message belongs to, the timing experiment, recruiter zones

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

def _message_columns() -> tuple[sa.Column, ...]:
    # New objects each time: a Column belongs to one table, and tests migrate many ledgers.
    return (
    sa.Column("cadence", sa.String(length=40), nullable=True),
    sa.Column("window_closes", sa.DateTime(timezone=True), nullable=True),
    sa.Column("cadence_started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("plan_note", sa.Text(), nullable=True),
    sa.Column("experiment_arm", sa.String(length=16), nullable=True),
    sa.Column("experiment_delay_days", sa.Integer(), nullable=True),
    sa.Column("experiment_hour", sa.Integer(), nullable=True),
    )


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        for column in _message_columns():
            batch.add_column(column)
    op.create_index("ix_messages_decision_id", "messages", ["decision_id"])
    # Messages planned before cadences belong to the cadence of their decision and channel as they
    # stand, so a re-import continues them rather than taking them for a changed decision.
    op.execute(
        "UPDATE messages SET cadence = (SELECT d.decision || ':' || c.channel FROM decisions AS d"
        " JOIN candidates AS c ON c.candidate_id = d.candidate_id WHERE d.id = messages.decision_id)"
        " WHERE decision_id IS NOT NULL"
    )
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("recruiter_timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("recruiter_timezone")
    op.drop_index("ix_messages_decision_id", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        for column in reversed(_message_columns()):
            batch.drop_column(column.name)
