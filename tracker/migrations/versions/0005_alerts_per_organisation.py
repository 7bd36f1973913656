"""alerts per organisation

Every alert now belongs to an organisation, at most one is open per (organisation, kind,
subject) (a unique index on open rows), and a supervisor can acknowledge or resolve one.

Moving existing rows:
- Alerts with no organisation (the watchdog's host, channel and checker alerts) are DELETED:
  the next watchdog run raises them again, once per organisation concerned.
- Messages are replaced by the generic text of their kind: the old ones could quote a
  platform's error naming a host ("no abuse contact found by RDAP for <host>").
- Notification alerts are keyed by channel ("email", "webhook"), not by the address or URL.
- Where several open alerts share (organisation, kind, subject), the oldest stays open and
  the others are resolved by "migration", so the unique index can be built.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 18:00:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tracker.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPEN = "resolved_at IS NULL"
# The generic message of each kind, without the numbers the live text fills in.
MESSAGES = {
    "checker.stalled": "due re-checks have waited too long; is a worker or the scheduler down?",
    "channel.failing": "the last filing attempts on this channel failed",
    "host.unreachable": "every check of this host in the last hour was unreachable",
    "filing.attempts_exhausted": (
        "a filing on this channel used up its attempts; the error is recorded on the filing"
    ),
    "adapter.missing_credentials": (
        "this channel has no credentials configured; add them under channel credentials"
    ),
    "adapter.invalid_credentials": "the platform refused this channel's credentials; replace them",
    "report.ladder_exhausted": (
        "every rung of the escalation ladder was tried; a caseworker must decide"
    ),
    "notification.email_failing": (
        "a notification e-mail failed repeatedly; the error is on the delivery"
    ),
    "notification.webhook_failing": (
        "a webhook delivery failed repeatedly; the error is on the delivery"
    ),
}
FALLBACK = "something keeps failing; see the alert's kind"


def upgrade() -> None:
    connection = op.get_bind()
    now = sa.bindparam("now", datetime.now(UTC), type_=tracker.db.UTCDateTime(timezone=True))
    connection.execute(sa.text("DELETE FROM alerts WHERE organisation_id IS NULL"))
    for kind, message in MESSAGES.items():
        connection.execute(
            sa.text("UPDATE alerts SET message = :message WHERE kind = :kind"),
            {"message": message, "kind": kind},
        )
    connection.execute(
        sa.text("UPDATE alerts SET message = :message WHERE kind NOT IN :kinds").bindparams(
            sa.bindparam("kinds", expanding=True)
        ),
        {"message": FALLBACK, "kinds": list(MESSAGES)},
    )
    for channel in ("email", "webhook"):
        connection.execute(
            sa.text("UPDATE alerts SET subject = :channel WHERE kind = :kind"),
            {"channel": channel, "kind": f"notification.{channel}_failing"},
        )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column("organisation_id", existing_type=sa.Integer(), nullable=False)
        batch_op.add_column(
            sa.Column("acknowledged_at", tracker.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("acknowledged_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("resolved_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    connection.execute(
        sa.text(
            "UPDATE alerts SET resolved_at = :now, resolved_by = 'migration' "
            "WHERE resolved_at IS NULL AND id NOT IN (SELECT MIN(id) FROM alerts "
            "WHERE resolved_at IS NULL GROUP BY organisation_id, kind, subject)"
        ).bindparams(now)
    )
    # CREATE INDEX ... WHERE needs no table copy on SQLite: no batch mode here.
    op.create_index(
        "ux_alerts_open",
        "alerts",
        ["organisation_id", "kind", "subject"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ux_alerts_open", table_name="alerts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("acknowledged_at")
        batch_op.alter_column("organisation_id", existing_type=sa.Integer(), nullable=True)
