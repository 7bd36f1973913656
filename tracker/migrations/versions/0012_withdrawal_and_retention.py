"""withdrawal and retention: case closed/withdrawn times, withdrawal notices on filings

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 21:00:00
"""

import sqlalchemy as sa
from alembic import op

import tracker.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("closed_at", tracker.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("withdrawn_at", tracker.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Cases closed before this migration: retention counts from their last change.
    cases = sa.table(
        "cases",
        sa.column("status", sa.String),
        sa.column("closed_at", tracker.db.UTCDateTime(timezone=True)),
        sa.column("updated_at", tracker.db.UTCDateTime(timezone=True)),
    )
    op.execute(
        cases.update().where(cases.c.status == "closed").values(closed_at=cases.c.updated_at)
    )
    with op.batch_alter_table("filings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawal_notice", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("withdrawal_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("withdrawal_next_at", tracker.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_filings_withdrawal_next_at", ["withdrawal_next_at"])


def downgrade() -> None:
    with op.batch_alter_table("filings", schema=None) as batch_op:
        batch_op.drop_index("ix_filings_withdrawal_next_at")
        batch_op.drop_column("withdrawal_next_at")
        batch_op.drop_column("withdrawal_attempts")
        batch_op.drop_column("withdrawal_notice")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_at")
        batch_op.drop_column("closed_at")
