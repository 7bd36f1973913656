"""an index of each case's reports on the clock, by deadline

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 16:00:00

"Does this case hold an overdue report?" (the case list's overdue filter) becomes one probe of
this index per case: the first entry of a case is its earliest deadline on the clock. Without
it the organisation's view read every overdue report's index entry (50,000 at a million
reports) for the count and again for the page. Only reports on the clock are in it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ON_THE_CLOCK_SQL = "state IN ('acknowledged', 'filed')"


def upgrade() -> None:
    op.create_index(
        "ix_reports_case_on_clock",
        "reports",
        ["case_id", "deadline_at"],
        postgresql_where=sa.text(ON_THE_CLOCK_SQL),
        sqlite_where=sa.text(ON_THE_CLOCK_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_reports_case_on_clock", table_name="reports")
