"""report hold reason

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 18:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hold_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
    # Reports already waiting in a case without authority to act get their reason now.
    reports = sa.table(
        "reports",
        sa.column("id", sa.Integer),
        sa.column("case_id", sa.Integer),
        sa.column("state", sa.String),
        sa.column("hold_reason", sa.String),
    )
    cases = sa.table(
        "cases", sa.column("id", sa.Integer), sa.column("authority_to_act", sa.Boolean)
    )
    filings = sa.table(
        "filings",
        sa.column("report_id", sa.Integer),
        sa.column("track", sa.String),
        sa.column("status", sa.String),
    )
    open_ladder_filing = (
        sa.select(filings.c.report_id)
        .where(filings.c.report_id == reports.c.id)
        .where(filings.c.track == "ladder")
        .where(
            filings.c.status.in_(
                ["pending", "submitting", "awaiting_manual", "submitted", "acknowledged"]
            )
        )
    )
    op.execute(
        reports.update()
        .where(reports.c.state.in_(["logged", "escalated", "reappeared"]))
        .where(
            reports.c.case_id.in_(
                sa.select(cases.c.id).where(cases.c.authority_to_act == sa.false())
            )
        )
        .where(~sa.exists(open_ladder_filing))
        .values(hold_reason="no_authority_to_act")
    )


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("hold_reason")
