"""scorecards: each report's outcome, and cells of counts per day, week and month

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 23:30:00

``report_outcomes`` holds what the scorecards know of each report (its cohort is the day of
its first filing); ``scorecard_cells`` the counts per organisation, period and cell (with a
histogram of times to removal), kept from
``scorecard_deltas`` that every change of an outcome appends (tracker/scorecards/). The
outcomes of the reports already here are replayed from their transitions and filings, and the
cells counted from them.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from tracker.db import UTCDateTime
from tracker.scorecards.replay import replay_outcomes

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

COUNTERS = (
    "filed",
    "removed",
    "removed_in_time",
    "rejected_not_violating",
    "rejected_more_information",
    "rejected_not_found",
    "rejected_refused",
    "rejected_other",
    "reappeared",
    "escalated",
)


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _counters() -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in COUNTERS] + [
        sa.Column("waiting_manual_seconds", sa.BigInteger(), nullable=False),
        sa.Column("paused_seconds", sa.BigInteger(), nullable=False),
    ]


def _cell_columns() -> list[sa.Column]:
    return [
        sa.Column("platform", _string(64), nullable=False),
        sa.Column("channel", _string(16), nullable=False),
        sa.Column("legal_basis", _string(255), nullable=False),
        sa.Column("rung", _string(32), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "report_outcomes",
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("platform", _string(64), nullable=False),
        sa.Column("channel", _string(16), nullable=False),
        sa.Column("legal_basis", _string(255), nullable=False),
        sa.Column("rung", _string(32), nullable=False),
        sa.Column("first_filed_at", UTCDateTime(), nullable=True),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.Column("removal_bucket", sa.Integer(), nullable=False),
        sa.Column("removed_in_time", sa.Boolean(), nullable=False),
        sa.Column("rejected_reason", _string(24), nullable=True),
        sa.Column("reappeared", sa.Boolean(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("waiting_manual_seconds", sa.BigInteger(), nullable=False),
        sa.Column("paused_seconds", sa.BigInteger(), nullable=False),
        sa.Column("waiting_since", UTCDateTime(), nullable=True),
        sa.Column("waiting_state", _string(24), nullable=True),
        sa.PrimaryKeyConstraint("report_id"),
    )
    op.create_index("ix_report_outcomes_organisation_id", "report_outcomes", ["organisation_id"])
    op.create_table(
        "scorecard_cells",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("grain", _string(8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        *_cell_columns(),
        *_counters(),
        sa.Column("removal_counts", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "organisation_id", "grain", "period_start", "platform", "channel", "legal_basis", "rung"
        ),
    )
    op.create_table(
        "scorecard_deltas",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("month_start", sa.Date(), nullable=False),
        *_cell_columns(),
        sa.Column("removal_bucket", sa.Integer(), nullable=False),
        *_counters(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_scorecard_deltas_org_day", "scorecard_deltas", ["organisation_id", "day"])
    replay_outcomes(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_scorecard_deltas_org_day", table_name="scorecard_deltas")
    op.drop_table("scorecard_deltas")
    op.drop_table("scorecard_cells")
    op.drop_index("ix_report_outcomes_organisation_id", table_name="report_outcomes")
    op.drop_table("report_outcomes")
