"""report counts kept by the database; listing indexes newest first

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 12:00:00

Counts of reports per (organisation, state, platform) and per (case, state, platform), kept by
triggers on ``reports`` in the transaction of every write (tracker/reports/rollup_triggers.py),
and filled here from the rows that exist. On PostgreSQL writers append to
``report_count_deltas``, which the scheduler folds in. The listing indexes end with the id so
a page newest first is read in order; overdue is counted from a partial index of the reports on
the clock. The indexes they replace are covered by them (same leading columns). The case
search by a platform's reference gets an index of its own.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from tracker.reports.rollup_triggers import install_rollup_triggers, remove_rollup_triggers
from tracker.reports.rollups import recount_rollups

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ON_THE_CLOCK_SQL = "state IN ('acknowledged', 'filed')"


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "organisation_report_counts",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("state", _string(24), nullable=False),
        sa.Column("platform", _string(64), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "state", "platform"),
    )
    op.create_table(
        "case_report_counts",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("state", _string(24), nullable=False),
        sa.Column("platform", _string(64), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "state", "platform"),
    )
    for column in ("state", "platform"):
        op.create_index(
            f"ix_case_report_counts_org_{column}",
            "case_report_counts",
            ["organisation_id", column, "case_id"],
            postgresql_include=["report_count"],
        )
    op.create_table(
        "report_count_deltas",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("state", _string(24), nullable=False),
        sa.Column("platform", _string(64), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_report_count_deltas_organisation_id", "report_count_deltas", ["organisation_id"]
    )
    op.create_index("ix_report_count_deltas_case_id", "report_count_deltas", ["case_id"])

    op.drop_index("ix_reports_org_state", table_name="reports")
    op.drop_index("ix_reports_platform", table_name="reports")
    op.drop_index("ix_reports_case_id", table_name="reports")
    op.create_index("ix_reports_org_state_id", "reports", ["organisation_id", "state", "id"])
    op.create_index("ix_reports_org_platform_id", "reports", ["organisation_id", "platform", "id"])
    op.create_index("ix_reports_case_id_id", "reports", ["case_id", "id"])
    op.create_index(
        "ix_reports_on_clock",
        "reports",
        ["organisation_id", "deadline_at"],
        postgresql_include=["case_id", "state", "platform", "id"],
        postgresql_where=sa.text(ON_THE_CLOCK_SQL),
        sqlite_where=sa.text(ON_THE_CLOCK_SQL),
    )

    op.create_index("ix_filings_external_ref", "filings", ["external_ref"])

    connection = op.get_bind()
    install_rollup_triggers(connection)
    recount_rollups(connection)


def downgrade() -> None:
    remove_rollup_triggers(op.get_bind())
    op.drop_index("ix_filings_external_ref", table_name="filings")
    op.drop_index("ix_reports_on_clock", table_name="reports")
    op.drop_index("ix_reports_case_id_id", table_name="reports")
    op.drop_index("ix_reports_org_platform_id", table_name="reports")
    op.drop_index("ix_reports_org_state_id", table_name="reports")
    op.create_index("ix_reports_case_id", "reports", ["case_id"])
    op.create_index("ix_reports_platform", "reports", ["platform"])
    op.create_index("ix_reports_org_state", "reports", ["organisation_id", "state"])
    op.drop_index("ix_report_count_deltas_case_id", table_name="report_count_deltas")
    op.drop_index("ix_report_count_deltas_organisation_id", table_name="report_count_deltas")
    op.drop_table("report_count_deltas")
    op.drop_index("ix_case_report_counts_org_platform", table_name="case_report_counts")
    op.drop_index("ix_case_report_counts_org_state", table_name="case_report_counts")
    op.drop_table("case_report_counts")
    op.drop_table("organisation_report_counts")
