"""content matching: hash banks, media items, content matches

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 23:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tracker.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hash_bank_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("frame_count", sa.Integer(), nullable=True),
        sa.Column("label", tracker.db.EncryptedText(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", tracker.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "signal_type", "digest"),
    )
    with op.batch_alter_table("hash_bank_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hash_bank_entries_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_hash_bank_entries_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "media_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=4096), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("discovered_at", tracker.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_checked_at", tracker.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_verdict", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("validator", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("hashed_at", tracker.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("md5", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("pdq", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("pdq_quality", sa.Integer(), nullable=True),
        sa.Column("pdq_mirror", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("vpdq", sa.Text(), nullable=True),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id", "url"),
    )
    with op.batch_alter_table("media_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_items_report_id"), ["report_id"], unique=False)

    op.create_table(
        "content_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("bank_entry_id", sa.Integer(), nullable=False),
        sa.Column("bank_case_id", sa.Integer(), nullable=False),
        sa.Column("cross_case", sa.Boolean(), nullable=False),
        sa.Column("signal_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("media_item_id", sa.Integer(), nullable=True),
        sa.Column("distance", sa.Integer(), nullable=True),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("first_check_id", sa.Integer(), nullable=True),
        sa.Column("last_check_id", sa.Integer(), nullable=True),
        sa.Column("first_seen_at", tracker.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", tracker.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", tracker.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["bank_case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["bank_entry_id"],
            ["hash_bank_entries.id"],
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["first_check_id"],
            ["checks.id"],
        ),
        sa.ForeignKeyConstraint(
            ["last_check_id"],
            ["checks.id"],
        ),
        sa.ForeignKeyConstraint(
            ["media_item_id"],
            ["media_items.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id", "bank_entry_id"),
    )
    with op.batch_alter_table("content_matches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_content_matches_bank_case_id"), ["bank_case_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_content_matches_bank_entry_id"), ["bank_entry_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_content_matches_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_content_matches_open_alerts",
            ["organisation_id"],
            unique=False,
            sqlite_where=sa.text("acknowledged_at IS NULL AND cross_case"),
            postgresql_where=sa.text("acknowledged_at IS NULL AND cross_case"),
        )
        batch_op.create_index(
            batch_op.f("ix_content_matches_report_id"), ["report_id"], unique=False
        )

    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("media_item_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("matches", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(
            batch_op.f("ix_checks_media_item_id"), ["media_item_id"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_checks_media_item_id", "media_items", ["media_item_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.drop_constraint("fk_checks_media_item_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_checks_media_item_id"))
        batch_op.drop_column("matches")
        batch_op.drop_column("media_item_id")

    with op.batch_alter_table("content_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_matches_report_id"))
        batch_op.drop_index(
            "ix_content_matches_open_alerts",
            sqlite_where=sa.text("acknowledged_at IS NULL AND cross_case"),
            postgresql_where=sa.text("acknowledged_at IS NULL AND cross_case"),
        )
        batch_op.drop_index(batch_op.f("ix_content_matches_case_id"))
        batch_op.drop_index(batch_op.f("ix_content_matches_bank_entry_id"))
        batch_op.drop_index(batch_op.f("ix_content_matches_bank_case_id"))

    op.drop_table("content_matches")
    with op.batch_alter_table("media_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_items_report_id"))

    op.drop_table("media_items")
    with op.batch_alter_table("hash_bank_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hash_bank_entries_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_hash_bank_entries_case_id"))

    op.drop_table("hash_bank_entries")
