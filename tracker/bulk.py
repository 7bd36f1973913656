"""Writing many rows in one statement: the re-check recorder's INSERTs and UPDATEs.

On PostgreSQL rows go in with ``COPY ... FROM STDIN`` (one round trip; the server parses rows,
not statements) and many rows are updated by one ``UPDATE ... FROM unnest(arrays)``; ids are
taken from the table's sequence first when the caller needs them. On SQLite, where the database
is in-process and statements are cheap, the same calls are ``executemany`` (the caller holds
the write lock: ``Database.transaction(immediate=True)``).

Values bypass SQLAlchemy's column types here, so callers pass what the database stores: aware
UTC datetimes (stored naive on SQLite, as ``tracker.db.UTCDateTime`` does), plain ``str`` for
enums (not the enum member), bytes, and JSON already encoded as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, text
from sqlmodel import Session


def is_postgresql(session: Session) -> bool:
    """Whether the session's database is PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def _for_sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        # SQLAlchemy's SQLite text form, microseconds always written, so text order is time order.
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``."""
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
        ids = [row[0] for row in rows]
        arrays = {f"a{index}": [row[index + 1] for row in rows] for index in range(len(columns))}
        unnested = ", ".join(
            f"CAST(:a{index} AS {kind}[])" for index, (_name, kind) in enumerate(columns)
        )
        names = ", ".join(name for name, _kind in columns)
        assignments = ", ".join(
            [f"{name} = v.{name}" for name, _kind in columns]
            + [f"{name} = {expression}" for name, expression in constants.items()]
        )
        session.execute(
            text(
                f"UPDATE {table.name} AS t SET {assignments} "  # noqa: S608 - our names
                f"FROM unnest(CAST(:ids AS bigint[]), {unnested}) AS v(id, {names}) "
                "WHERE t.id = v.id"
            ),
            {"ids": ids, **arrays},
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
