"""Migration 0015 counts the reports that existed before it, and its downgrade is clean."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import POSTGRES_ADMIN_URL
from rollup_checks import kept, organisation_of, recount
from sqlalchemy import create_engine, text

from tracker.reports.rollup_triggers import TRIGGER_NAMES, installed_rollup_triggers


@pytest.fixture
def empty_database(backend: str, tmp_path: Any) -> Iterator[Any]:
    """A database of the backend of its own, not migrated yet (the migration test moves it
    between revisions)."""
    from tracker.db import Database, make_engine

    if backend == "sqlite":
        database = Database(make_engine(f"sqlite:///{tmp_path / 'migration.sqlite3'}"))
        yield database
        database.engine.dispose()
        return
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"tracker_test_migration_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = Database(make_engine(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"))
    try:
        yield database
    finally:
        database.engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_migration_counts_the_reports_that_existed_before_it(empty_database):
    from alembic import command

    from tracker.migrations.config import alembic_config

    database = empty_database
    with database.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0014")
        assert installed_rollup_triggers(connection) == set()
        connection.execute(
            text(
                "INSERT INTO organisations (name, contact_email, created_at)"
                " VALUES ('Fake org', 'desk@fake.example', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO cases (organisation_id, label, jurisdictions, status,"
                " authority_to_act, consent_to_share_identity, minor_involved, exports_allowed,"
                " created_at, updated_at) SELECT id, 'Case FAKE-' || n, '[\"TEST\"]', 'open',"
                " false, false, false, true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP"
                " FROM organisations, (SELECT 1 AS n UNION ALL SELECT 2) AS numbers"
            )
        )
        connection.execute(
            text(
                "INSERT INTO policy_versions (policy_id, version, jurisdiction, title,"
                " effective_from, source, document, loaded_at) VALUES ('fake', 1, 'TEST',"
                " 'Fake', '2026-01-01', 'test', '{}', CURRENT_TIMESTAMP)"
            )
        )
        states = ["logged", "filed", "removed", "filed", "closed", "acknowledged", "filed"]
        platforms = ["x", "web", "reddit"]
        for n in range(40):
            connection.execute(
                text(
                    "INSERT INTO reports (case_id, organisation_id, original_url,"
                    " canonical_url, host, platform, state, policy_version_id, rung_index,"
                    " consecutive_removed, watch_step, created_at, updated_at)"
                    " SELECT (SELECT min(id) FROM cases) + :case_offset, (SELECT min(id) FROM"
                    " organisations), :url, :url, 'fake.example', :platform, :state,"
                    " (SELECT min(id) FROM policy_versions), 0, 0, 0, CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP"
                ),
                {
                    "case_offset": n % 2,
                    "url": f"https://fake.example/{n}",
                    "platform": platforms[n % 3],
                    "state": states[n % 7],
                },
            )
        command.upgrade(alembic_config(connection), "head")
        assert installed_rollup_triggers(connection) == TRIGGER_NAMES[connection.dialect.name]
    organisation_id = organisation_of(database)
    expected_keys, expected_cases = recount(database)
    assert sum(expected_keys.values()) == 40
    assert kept(database, organisation_id) == (expected_keys, expected_cases)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE reports SET state = 'closed' WHERE platform = 'x'"))
    assert kept(database, organisation_id) == recount(database)
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0014")
        assert installed_rollup_triggers(connection) == set()
        tables = {
            row[0]
            for row in connection.execute(
                text(
                    "SELECT table_name FROM information_schema.tables"
                    if connection.dialect.name == "postgresql"
                    else "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            )
        }
        assert not tables & {
            "organisation_report_counts",
            "case_report_counts",
            "report_count_deltas",
        }
        assert connection.execute(text("SELECT count(*) FROM reports")).scalar_one() == 40
