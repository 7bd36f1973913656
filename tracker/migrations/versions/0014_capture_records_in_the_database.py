"""capture records sealed in the database, not as files

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 19:00:00

An automatic capture is a small JSON record (time, final URL, status, a few headers, the
fingerprint, the verdict) sealed with the case key. It is now kept in its evidence row
(``sealed_record``, store ``database``), written in the same transaction as the check it
records: one file per first live check cost more than the check itself, and a row commits or
rolls back with its transaction, so nothing is half-written. Uploads stay in the file store.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_record", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_column("sealed_record")
