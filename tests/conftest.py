"""Shared fixtures. Every database test runs twice: on SQLite and on the real PostgreSQL.

PostgreSQL and Redis must be up (``.ci/run`` starts them); a missing one fails the run, it is
never skipped. Test traffic goes only to loopback servers the tests start themselves.
"""

from __future__ import annotations

import os
import pkgutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

TESTS = Path(__file__).parent
# Each adapter's contract harness (and its simulator fixtures) is a plugin of the suite.
pytest_plugins = sorted(
    f"harnesses.{module.name}" for module in pkgutil.iter_modules([str(TESTS / "harnesses")])
)
TEST_KEY = Fernet.generate_key().decode()
POSTGRES_ADMIN_URL = os.environ.get(
    "TRACKER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")

# Settings are read from the environment once; set the test values before anything reads them.
TEST_ENVIRONMENT = {
    "TRACKER_ENVIRONMENT": "development",
    "TRACKER_ENCRYPTION_KEYS": TEST_KEY,
    "TRACKER_POLICY_DIRS": str(TESTS / "policies"),
    # Loopback is allowed only because the simulators live there; off by default in the product.
    "TRACKER_OUTBOUND_ALLOWLIST": "127.0.0.1",
    "TRACKER_SANDBOX_ENABLED": "true",  # the simulator platform; off by default in the product
    "TRACKER_CONFIRM_INTERVAL_SECONDS": "0",
    "TRACKER_CHECK_INTERVAL_ACTIVE_SECONDS": "3600",
    "TRACKER_LEASE_SECONDS": "60",
    "TRACKER_FILING_RETRY_BASE_SECONDS": "0",
    "TRACKER_OUTBOUND_TIMEOUT_SECONDS": "5",
    "TRACKER_SMTP_PORT": "1",  # nothing listens: a test that needs SMTP starts its own sink
}
os.environ.update(TEST_ENVIRONMENT)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run ``postgresql_only`` tests on PostgreSQL only (deselected, not skipped, on SQLite)."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("backend") == "sqlite"
        (dropped if on_sqlite and item.get_closest_marker("postgresql_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def reset_settings(**overrides: str) -> None:
    """Apply environment overrides and forget cached settings and directory."""
    from tracker.channels import directory
    from tracker.settings import get_settings

    os.environ.update(overrides)
    get_settings.cache_clear()
    directory.cache_clear()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    """The sandbox platform simulator on loopback, fast timings."""
    from platform_adapters.simulators.sandbox import SandboxServer

    # Wide windows between acknowledgement and decision, so a loaded machine cannot skip one.
    with SandboxServer(ack_after=0.3, decide_after=1.2) as server:
        reset_settings(TRACKER_SANDBOX_BASE_URL=server.base_url)
        yield server


def _postgres_database() -> tuple[str, Any]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"tracker_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # fail loudly: the suite must run on PostgreSQL
        pytest.fail(f"PostgreSQL is required at {POSTGRES_ADMIN_URL}: {error}")

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database(backend: str, tmp_path_factory: pytest.TempPathFactory, sandbox: Any) -> Iterator[Any]:
    """A migrated database of the backend, policies recorded."""
    from tracker.crypto import FieldCipher
    from tracker.db import Database, configure_cipher, make_engine
    from tracker.runtime import load_policies, migrate
    from tracker.settings import get_settings

    configure_cipher(FieldCipher([TEST_KEY]))
    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'tracker.sqlite3'}"
    else:
        url, drop = _postgres_database()
    db = Database(make_engine(url))
    migrate(db)
    load_policies(db, get_settings())
    yield db
    db.engine.dispose()
    if drop is not None:
        drop()


@pytest.fixture
def db(database: Any) -> Iterator[Any]:
    """The backend's database, emptied after the test (policy versions kept)."""
    from tracker.jobs import install_dispatcher

    install_dispatcher(None)
    yield database
    install_dispatcher(None)
    tables = [table for table in SQLModel.metadata.sorted_tables if table.name != "policy_versions"]
    with database.engine.begin() as connection:
        if database.is_postgresql:
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            from tracker.audit.guard import guard_lifted

            with guard_lifted(connection):  # audit_events refuses DELETE (append-only)
                for table in reversed(tables):
                    connection.execute(table.delete())


@pytest.fixture
def client(db: Any) -> Iterator[TestClient]:
    from tracker.api.app import create_app

    with TestClient(create_app(db), raise_server_exceptions=False) as test_client:
        yield test_client


ORGANISATIONS = {
    "helpline": ("Test helpline", "desk@helpline.example"),
    "other": ("Other helpline", "desk@other.example"),
}


class People:
    """An organisation's users and their keys, plus a second organisation's supervisor."""

    def __init__(self, db: Any) -> None:
        from tracker.organisations.models import Role

        self.db = db
        self.keys: dict[str, str] = {}
        self.ids: dict[str, int] = {}
        for label, organisation, role in [
            ("admin", "helpline", Role.ADMIN),
            ("supervisor", "helpline", Role.SUPERVISOR),
            ("alice", "helpline", Role.CASEWORKER),
            ("bob", "helpline", Role.CASEWORKER),
            ("dashboard", "helpline", Role.DASHBOARD),
            ("outsider", "other", Role.SUPERVISOR),
        ]:
            self.add(label, organisation, role)

    def add(self, label: str, organisation: str, role: Any) -> dict[str, str]:
        """One more user (``organisation``: "helpline" or "other"); their auth header."""
        from tracker.organisations.service import create_user, get_or_create_organisation

        name, contact_email = ORGANISATIONS[organisation]
        with self.db.transaction() as session:
            found = get_or_create_organisation(
                session=session, name=name, contact_email=contact_email
            )
            user, key = create_user(
                session=session,
                organisation_id=found.id,
                display_name=f"Test {label}",
                role=role,
                actor="test",
            )
        self.keys[label] = key
        self.ids[label] = user.id
        return self.auth(label)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest.fixture
def people(db: Any) -> People:
    return People(db)


def new_case(client: TestClient, people: People, who: str = "alice", **fields: Any) -> int:
    """Create a case through the API and return its id."""
    body = {"label": "Case FAKE-001", "jurisdictions": ["TEST"], "authority_to_act": True}
    body.update(fields)
    response = client.post("/api/v1/cases", json=body, headers=people.auth(who))
    assert response.status_code == 201, response.text
    return int(response.json()["id"])
