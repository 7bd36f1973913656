"""Process start-up: settings to a ready database (cipher, schema and policies current)."""

import logging
import os
import stat
import time
from functools import lru_cache
from pathlib import Path

from sqlalchemy import make_url, text
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


PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# Permission bits for anyone but the owner: an existing folder or file with any of them is
# reported, since it holds the database (victims' cases) or the key that decrypts it.
OPEN_TO_OTHERS = 0o077


def private_folder(path: Path) -> Path:
    """Create ``path`` 0700 if it is missing; an existing one is kept as it is, with a warning
    when group or others may use it (the operator chose its mode, so it is theirs to change)."""
    if path.is_dir():
        _warn_if_open(path, "folder", "700")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_FOLDER_MODE)
    except FileExistsError:  # a process starting alongside created it first
        return path
    os.chmod(path, PRIVATE_FOLDER_MODE)  # mkdir's mode passes through the umask; be exact
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it is missing; warn about an existing open one.

    Created before SQLite opens it, so SQLite (which gives its -wal and -shm files the mode of
    the database file) never makes a file of the embedded database readable by others.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        _warn_if_open(path, "file", "600")
        return path
    os.close(descriptor)
    return path


def _warn_if_open(path: Path, what: str, wanted: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & OPEN_TO_OTHERS:
        logger.warning(
            "the data %s %s is open to group or others (mode %03o); run: chmod %s %s",
            what,
            path,
            mode,
            wanted,
            path,
        )


def sqlite_file(url: str) -> Path | None:
    """The database file a SQLite URL names; None for other databases and in-memory ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.query.get("mode") == "memory":
        return None
    return Path(parsed.database)


def prepare_storage(settings: Settings) -> None:
    """Create the data folder (0700) and the embedded database file (0600) before first use."""
    folders = []
    if not settings.encryption_keys:
        # The development key file is written into the data folder (0600, see crypto).
        folders.append(settings.data_dir)
    path = sqlite_file(settings.resolved_database_url)
    if path is not None:
        folders.append(path.parent)
    for folder in dict.fromkeys(folders):
        private_folder(folder)
    if path is not None:
        private_file(path)


def open_database(settings: Settings, *, upgrade: bool) -> Database:
    """Install the cipher and return the database; ``upgrade`` also migrates it."""
    prepare_storage(settings)
    configure_cipher(cipher_from_settings(settings))
    if not settings.encryption_keys:
        _warn_if_open(settings.data_dir / "encryption.key", "file", "600")
    url = settings.resolved_database_url
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
