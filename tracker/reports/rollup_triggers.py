"""The triggers that keep the report counts, per dialect (see tracker/reports/rollups.py).

They fire on INSERT and DELETE of reports and on UPDATE OF the columns the counts group by
(organisation, case, state, platform), never on the other updates a re-check makes, so the
recorder's hot path pays nothing for them.

- SQLite has one writer at a time: row triggers add to the count rows directly.
- PostgreSQL has many: a shared counter row would queue every writer behind the first one to
  touch it, and two writers taking two counters in opposite orders would deadlock. Its
  triggers only append ``report_count_deltas`` rows (one per group and statement for INSERT
  and DELETE, from the statement's transition table; a pair per changed row for UPDATE, since
  a column-filtered trigger cannot have a transition table) and ``fold_rollups`` adds them in.
  TRUNCATE empties the counts.

A migration that rebuilds ``reports`` on SQLite (``batch_alter_table`` recreates the table)
drops these triggers with it: it must call ``install_rollup_triggers`` again afterwards.
"""

from sqlalchemy import Connection, text

COUNTED = ("organisation_id", "case_id", "state", "platform")

_POSTGRESQL_ON = [
    """
    CREATE OR REPLACE FUNCTION report_counts_added_or_removed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO report_count_deltas (organisation_id, case_id, state, platform, delta)
        SELECT organisation_id, case_id, state, platform,
               CASE TG_OP WHEN 'INSERT' THEN count(*) ELSE -count(*) END
        FROM report_rows
        GROUP BY organisation_id, case_id, state, platform
        ORDER BY organisation_id, case_id, state, platform;
        RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION report_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO report_count_deltas (organisation_id, case_id, state, platform, delta)
        VALUES (OLD.organisation_id, OLD.case_id, OLD.state, OLD.platform, -1),
               (NEW.organisation_id, NEW.case_id, NEW.state, NEW.platform, 1);
        RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION report_counts_cleared() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM report_count_deltas;
        DELETE FROM case_report_counts;
        DELETE FROM organisation_report_counts;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER report_counts_insert AFTER INSERT ON reports "
    "REFERENCING NEW TABLE AS report_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION report_counts_added_or_removed()",
    "CREATE TRIGGER report_counts_delete AFTER DELETE ON reports "
    "REFERENCING OLD TABLE AS report_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION report_counts_added_or_removed()",
    f"CREATE TRIGGER report_counts_update AFTER UPDATE OF {', '.join(COUNTED)} ON reports "
    "FOR EACH ROW WHEN ("
    + " OR ".join(f"OLD.{name} IS DISTINCT FROM NEW.{name}" for name in COUNTED)
    + ") EXECUTE FUNCTION report_counts_moved()",
    "CREATE TRIGGER report_counts_truncate AFTER TRUNCATE ON reports "
    "FOR EACH STATEMENT EXECUTE FUNCTION report_counts_cleared()",
]
_POSTGRESQL_OFF = [
    "DROP TRIGGER IF EXISTS report_counts_truncate ON reports",
    "DROP TRIGGER IF EXISTS report_counts_update ON reports",
    "DROP TRIGGER IF EXISTS report_counts_delete ON reports",
    "DROP TRIGGER IF EXISTS report_counts_insert ON reports",
    "DROP FUNCTION IF EXISTS report_counts_cleared()",
    "DROP FUNCTION IF EXISTS report_counts_moved()",
    "DROP FUNCTION IF EXISTS report_counts_added_or_removed()",
]


_SQLITE_ADD = (
    "INSERT INTO organisation_report_counts (organisation_id, state, platform, report_count) "
    "VALUES (ROW.organisation_id, ROW.state, ROW.platform, 1) "
    "ON CONFLICT (organisation_id, state, platform) "
    "DO UPDATE SET report_count = report_count + 1; "
    "INSERT INTO case_report_counts (case_id, state, platform, organisation_id, report_count) "
    "VALUES (ROW.case_id, ROW.state, ROW.platform, ROW.organisation_id, 1) "
    "ON CONFLICT (case_id, state, platform) "
    "DO UPDATE SET report_count = report_count + 1;"
)
# A count row exists for every report counted, so taking one away creates nothing (and counts
# cleared by hand stay cleared).
_SQLITE_SUBTRACT = (
    "UPDATE organisation_report_counts SET report_count = report_count - 1 "
    "WHERE organisation_id = ROW.organisation_id AND state = ROW.state "
    "AND platform = ROW.platform; "
    "UPDATE case_report_counts SET report_count = report_count - 1 "
    "WHERE case_id = ROW.case_id AND state = ROW.state AND platform = ROW.platform;"
)


def _sqlite_add(row: str) -> str:
    """Statements adding one to the counts of ``row`` (NEW or OLD)."""
    return _SQLITE_ADD.replace("ROW.", f"{row}.")


def _sqlite_subtract(row: str) -> str:
    """Statements taking one from the counts of ``row``."""
    return _SQLITE_SUBTRACT.replace("ROW.", f"{row}.")


_SQLITE_ON = [
    f"CREATE TRIGGER report_counts_insert AFTER INSERT ON reports BEGIN {_sqlite_add('NEW')} END",
    "CREATE TRIGGER report_counts_delete AFTER DELETE ON reports "
    f"BEGIN {_sqlite_subtract('OLD')} END",
    f"CREATE TRIGGER report_counts_update AFTER UPDATE OF {', '.join(COUNTED)} ON reports "
    "WHEN "
    + " OR ".join(f"OLD.{name} IS NOT NEW.{name}" for name in COUNTED)
    + f" BEGIN {_sqlite_subtract('OLD')} {_sqlite_add('NEW')} END",
]
_SQLITE_OFF = [
    f"DROP TRIGGER IF EXISTS report_counts_{verb}" for verb in ("update", "delete", "insert")
]
#: The names of the triggers, to check that they are in place.
TRIGGER_NAMES = {
    "postgresql": {
        "report_counts_insert",
        "report_counts_delete",
        "report_counts_update",
        "report_counts_truncate",
    },
    "sqlite": {"report_counts_insert", "report_counts_delete", "report_counts_update"},
}


def install_rollup_triggers(connection: Connection) -> None:
    """Create the triggers that count every write of ``reports``."""
    postgresql = connection.dialect.name == "postgresql"
    for statement in _POSTGRESQL_ON if postgresql else _SQLITE_ON:
        connection.execute(text(statement))


def remove_rollup_triggers(connection: Connection) -> None:
    """Drop those triggers (and their functions on PostgreSQL)."""
    postgresql = connection.dialect.name == "postgresql"
    for statement in _POSTGRESQL_OFF if postgresql else _SQLITE_OFF:
        connection.execute(text(statement))


def installed_rollup_triggers(connection: Connection) -> set[str]:
    """The names of the counting triggers the database has on ``reports``."""
    if connection.dialect.name == "postgresql":
        query = (
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'reports'::regclass "
            "AND NOT tgisinternal AND tgname LIKE 'report_counts_%'"
        )
    else:
        query = (
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'reports' "
            "AND name LIKE 'report_counts_%'"
        )
    return {str(row[0]) for row in connection.execute(text(query))}
