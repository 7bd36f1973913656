"""Process start-up: settings to a ready database (cipher, schema and policies current)."""

import logging
from functools import lru_cache
from pathlib import Path

from sqlalchemy.exc import IntegrityError

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
    if upgrade:
        migrate(database)
    load_policies(database, settings)
    return database


@lru_cache(maxsize=1)
def database() -> Database:
    """This process's database, opened once (workers and the API call this)."""
    settings = get_settings()
    # The embedded default migrates itself so a newcomer's first command just works.
    return open_database(settings, upgrade=settings.database_url is None)
