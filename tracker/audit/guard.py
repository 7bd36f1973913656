"""The database's own refusal to change or delete an audit event (triggers, per dialect).

A guard against mistakes, not against someone who owns the database: they can drop it. The
hash chain is what shows that they did.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

MESSAGE = "audit_events is append-only"

_POSTGRESQL_ON = [
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$",
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
]
_POSTGRESQL_OFF = [
    "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
    "DROP FUNCTION IF EXISTS audit_events_append_only()",
]
_SQLITE_ON = [
    f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    for verb in ("UPDATE", "DELETE")
]
_SQLITE_OFF = [f"DROP TRIGGER IF EXISTS audit_events_no_{verb}" for verb in ("update", "delete")]


def install_guard(connection: Connection) -> None:
    """Create the triggers that refuse UPDATE and DELETE on audit_events."""
    postgresql = connection.dialect.name == "postgresql"
    for statement in _POSTGRESQL_ON if postgresql else _SQLITE_ON:
        connection.execute(text(statement))


def remove_guard(connection: Connection) -> None:
    """Drop those triggers."""
    postgresql = connection.dialect.name == "postgresql"
    for statement in _POSTGRESQL_OFF if postgresql else _SQLITE_OFF:
        connection.execute(text(statement))


@contextmanager
def guard_lifted(connection: Connection) -> Iterator[None]:
    """Without the triggers inside the block (test clean-up); in the connection's transaction."""
    remove_guard(connection)
    try:
        yield
    finally:
        install_guard(connection)
