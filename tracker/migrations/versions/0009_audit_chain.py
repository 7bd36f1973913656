"""audit chain: sequence, prev_hash and hash on audit events, the chain head, append-only

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 12:00:00
"""

import sqlalchemy as sa
from alembic import op

import tracker.db
from tracker.audit.chain import link_hash
from tracker.audit.guard import install_guard, remove_guard

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
BATCH = 1000

events = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()),
    sa.column("organisation_id", sa.Integer()),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("object_type", sa.String()),
    sa.column("object_id", sa.Integer()),
    sa.column("details", sa.JSON()),
    sa.column("at", tracker.db.UTCDateTime(timezone=True)),
    sa.column("sequence", sa.Integer()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def _backfill(connection: sa.Connection) -> tuple[int, str]:
    """Chain the existing events in id order; the last sequence and hash."""
    sequence, prev_hash, after = 0, GENESIS_HASH, 0
    while True:
        rows = connection.execute(
            sa.select(
                events.c.id,
                events.c.organisation_id,
                events.c.actor,
                events.c.action,
                events.c.object_type,
                events.c.object_id,
                events.c.details,
                events.c.at,
            )
            .where(events.c.id > after)
            .order_by(events.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return sequence, prev_hash
        updates = []
        for row in rows:
            sequence += 1
            digest = link_hash(
                sequence=sequence,
                prev_hash=prev_hash,
                organisation_id=row.organisation_id,
                actor=row.actor,
                action=row.action,
                object_type=row.object_type,
                object_id=row.object_id,
                details=row.details,
                at=row.at,
            )
            updates.append(
                {
                    "row_id": row.id,
                    "new_sequence": sequence,
                    "new_prev": prev_hash,
                    "new_hash": digest,
                }
            )
            prev_hash, after = digest, row.id
        connection.execute(
            events.update()
            .where(events.c.id == sa.bindparam("row_id"))
            .values(
                sequence=sa.bindparam("new_sequence"),
                prev_hash=sa.bindparam("new_prev"),
                hash=sa.bindparam("new_hash"),
            ),
            updates,
        )


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    connection = op.get_bind()
    last_sequence, last_hash = _backfill(connection)
    connection.execute(
        sa.text(
            "INSERT INTO audit_chain_head (id, last_sequence, last_hash) "
            "VALUES (1, :sequence, :hash)"
        ),
        {"sequence": last_sequence, "hash": last_hash},
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("sequence", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index("ix_audit_events_sequence", ["sequence"], unique=True)
    # After the batch: on SQLite it rebuilds the table, which would drop the triggers.
    install_guard(connection)


def downgrade() -> None:
    remove_guard(op.get_bind())
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_sequence")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("sequence")
    op.drop_table("audit_chain_head")
