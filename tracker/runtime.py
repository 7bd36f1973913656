"""Process start-up: settings to a ready database (cipher, schema and policies current)."""

import logging
import time
from functools import lru_cache
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from tracker.crypto import cipher_from_settings
from tracker.db import Database, configure_cipher, make_engine
from tracker.policies.service import read_policy_files, sync_policies
from tracker.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def migrate(database: Database) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command

    from tracker.migrations.config import alembic_config

    with database.engine.begin() as connection:
        config = alembic_config(connection)
        command.upgrade(config, "head")


def load_policies(database: Database, settings: Settings) -> None:
    """Record the policy files' versions; two processes starting together are fine."""
    policies = read_policy_files(settings.policy_dirs)
    for attempt in range(3):
        try:
            with database.transaction() as session:
                sync_policies(session=session, policies=policies)
            return
        except IntegrityError:
            if attempt == 2:
                raise
            logger.info("policies were being recorded by another process; reading again")


def open_database(settings: Settings, *, upgrade: bool) -> Database:
    """Install the cipher and return the database; ``upgrade`` also migrates it."""
    configure_cipher(cipher_from_settings(settings))
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    database = Database(make_engine(url))
    _wait_for_database(database, settings)
    if upgrade:
        migrate(database)
    load_policies(database, settings)
    return database


def _wait_for_database(database: Database, settings: Settings) -> None:
    """Wait, with back-off, for a database that is still starting or restarting.

    A worker or scheduler started while PostgreSQL restarts must not exit with a traceback:
    it waits up to ``startup_wait_seconds`` and then fails loudly.
    """
    deadline = time.monotonic() + settings.startup_wait_seconds
    delay = 0.2
    while True:
        try:
            with database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except OperationalError:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("database not reachable yet; retrying in %.1f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


@lru_cache(maxsize=1)
def database() -> Database:
    """This process's database, opened once (workers and the API call this)."""
    settings = get_settings()
    # The embedded default migrates itself so a newcomer's first command just works.
    return open_database(settings, upgrade=settings.database_url is None)
