"""Writing many rows in one statement, on SQLite and PostgreSQL alike: the intake's INSERTs of
reports, transitions and filings, the re-check recorder's checks, captures, audit links and
report updates. A statement's cost stays the same whatever the number of rows.

- ``insert_returning``: rows sent as one JSON document that the database expands itself
  (``json_array_elements`` on PostgreSQL, ``json_each`` on SQLite), RETURNING what the caller
  needs. The driver never converts a statement of 100,000 placeholders (psycopg spends about
  8 us on each), SQLAlchemy never renders one, and SQLite is not asked row by row (as
  SQLAlchemy does for RETURNING in parameter order). Values the same in every row are bound
  once; JSON columns are sent as the text the column itself would write (``json.dumps``).
- ``copy_rows``: rows whose ids the caller already has (``new_ids``) or does not need, by
  ``COPY ... FROM STDIN`` on PostgreSQL (one round trip; the server parses rows, not
  statements) and ``executemany`` on SQLite. Values bypass SQLAlchemy's column types, so they
  are what the database stores: aware UTC datetimes (stored naive on SQLite, as
  ``tracker.db.UTCDateTime`` does), plain ``str`` for enums, bytes, JSON already as text.
- ``update_rows``: many rows' columns set to values of their own by one
  ``UPDATE ... FROM json_array_elements(document)`` on PostgreSQL (``executemany`` on SQLite).
- ``among``: ``column IN (values)``, the values bound as one JSON array.

All of them are plain INSERTs and UPDATEs: constraints and triggers (the report counts) see
every row. On SQLite the caller of ``new_ids`` holds the write lock
(``Database.transaction(immediate=True)``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Table, Text, cast, func, insert, literal, literal_column, select, text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session


def is_postgresql(session: Session) -> bool:
    """Whether the session's database is PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def _for_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def _for_sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        # SQLAlchemy's SQLite text form, microseconds always written, so text order is time order.
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def copy_rows(
    session: Session, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``: ``COPY`` on PostgreSQL,
    ``executemany`` on SQLite. Nothing comes back; take ids first with ``new_ids`` if needed."""
    if not rows:
        return
    names = ", ".join(columns)
    if is_postgresql(session):
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
        return
    marks = ", ".join("?" for _ in columns)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(
            f"INSERT INTO {table.name} ({names}) VALUES ({marks})",  # noqa: S608 - our names
            [[_for_sqlite(value) for value in row] for row in rows],
        )
    finally:
        cursor.close()


def new_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table`` (rows then inserted with them explicitly).

    PostgreSQL draws them from the table's sequence; SQLite continues after the largest id,
    which is safe because the caller holds the database's write lock.
    """
    if count <= 0:
        return []
    if is_postgresql(session):
        rows = session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": count},
        )
        return [int(row[0]) for row in rows]
    largest = session.execute(text(f"SELECT coalesce(max(id), 0) FROM {table.name}")).scalar_one()  # noqa: S608
    return list(range(int(largest) + 1, int(largest) + 1 + count))


def update_rows(
    session: Session,
    table: Table,
    columns: Sequence[tuple[str, str]],
    rows: list[tuple[Any, ...]],
    *,
    constants: dict[str, str] | None = None,
) -> None:
    """Set ``columns`` (name, PostgreSQL type) of the rows whose id is each row's first value;
    ``constants`` sets more columns to the same SQL expression on every row."""
    if not rows:
        return
    constants = constants or {}
    if is_postgresql(session):
        # One JSON document (encoded in C, parsed by the server) rather than an array parameter
        # per column, which psycopg dumps element by element in Python.
        document = json.dumps([[_for_json(value) for value in row] for row in rows])
        values = ", ".join(
            f"CAST(e->>{index + 1} AS {kind}) AS {name}"
            for index, (name, kind) in enumerate(columns)
        )
        assignments = ", ".join(
            [f"{name} = v.{name}" for name, _kind in columns]
            + [f"{name} = {expression}" for name, expression in constants.items()]
        )
        session.execute(
            text(
                f"UPDATE {table.name} AS t SET {assignments} "  # noqa: S608 - our names
                f"FROM (SELECT CAST(e->>0 AS bigint) AS id, {values} "
                "FROM json_array_elements(CAST(:rows AS json)) AS e) AS v WHERE t.id = v.id"
            ),
            {"rows": document},
        )
        return
    assignments = ", ".join(
        [f"{name} = ?" for name, _kind in columns]
        + [f"{name} = {expression}" for name, expression in constants.items()]
    )
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(
            f"UPDATE {table.name} SET {assignments} WHERE id = ?",  # noqa: S608 - our names
            [[_for_sqlite(value) for value in (*row[1:], row[0])] for row in rows],
        )
    finally:
        cursor.close()


def insert_returning(
    *,
    session: Session,
    table: Table,
    varying: Sequence[Mapping[str, Any]],
    constant: Mapping[str, Any],
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert one row per mapping of ``varying`` (each with the same keys, JSON-serialisable
    values), each also holding ``constant``, in order; the ``returning`` columns of the rows
    inserted, in no promised order (return a key column to match them)."""
    if not varying:
        return []
    names = list(varying[0])
    values_of = itemgetter(*names)
    rows_of = (values_of(row) if len(names) > 1 else (values_of(row),) for row in varying)
    json_positions = [
        index for index, name in enumerate(names) if isinstance(table.c[name].type, JSON)
    ]
    if json_positions:
        # Rows often share one document object (a route's parameters): serialise it once.
        texts: dict[int, str] = {}

        def as_text(value: Any) -> str:
            if id(value) not in texts:
                texts[id(value)] = json.dumps(value)
            return texts[id(value)]

        def with_texts(row: tuple[Any, ...]) -> list[Any]:
            values = list(row)
            for index in json_positions:
                values[index] = as_text(values[index])
            return values

        document = json.dumps([with_texts(row) for row in rows_of])
    else:
        document = json.dumps(list(rows_of))
    values: list[ColumnElement[Any]]
    if session.get_bind().dialect.name == "postgresql":
        rows = (
            func.json_array_elements(cast(literal(document, Text), JSON))
            .table_valued("value", with_ordinality="position")
            .render_derived()
        )
        values = [
            # ->> gives text; a JSON column's text (the document it would store) is parsed back.
            cast(rows.c.value.op("->>")(literal_column(str(index))), table.c[name].type)
            for index, name in enumerate(names)
        ]
        position = rows.c.position
    else:
        rows = func.json_each(literal(document, Text)).table_valued("key", "value")
        values = [func.json_extract(rows.c.value, f"$[{index}]") for index in range(len(names))]
        # No CAST on SQLite: a type name it does not know (JSON, DATETIME) casts to NUMERIC.
        position = rows.c.key
    # Bound with the column's type (PostgreSQL's driver adds the cast to it).
    constants = [literal(value, table.c[name].type) for name, value in constant.items()]
    # In the document's order, so the ids follow it as they would inserting one by one.
    source = select(*values, *constants).order_by(position)
    statement = insert(table).from_select([*names, *constant], source)
    if returning:
        inserted = session.execute(statement.returning(*(table.c[name] for name in returning)))
        return [tuple(row) for row in inserted]
    session.execute(statement)
    return []


def among(*, session: Session, column: ColumnElement[Any], values: Sequence[Any]) -> Any:
    """``column IN (values)`` with the values bound as one JSON array (texts or numbers)."""
    document = json.dumps(list(values))
    if session.get_bind().dialect.name == "postgresql":
        elements = func.json_array_elements_text(cast(literal(document, Text), JSON))
        return column.in_(select(cast(elements.table_valued("value").c.value, column.type)))
    return column.in_(select(func.json_each(literal(document, Text)).table_valued("value").c.value))
