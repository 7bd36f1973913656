"""Fixtures for the reliability scenarios: a private Redis, a fresh platform simulator, and the
tracker's processes; everything a scenario starts is stopped at its end, even on failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import Processes

from .servers import PrivatePostgres, PrivateRedis, shared_postgres_database
from .stack import Tracker, base_environment


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """The scenario's child processes, with the fast distributed settings."""
    group = Processes(tmp_path, base_environment())
    try:
        yield group
    finally:
        group.stop()


@pytest.fixture
def private_redis(processes: Processes) -> PrivateRedis:
    """A Redis of this scenario only (stopped with the other processes)."""
    server = PrivateRedis(processes)
    server.start()
    return server


@pytest.fixture
def platform() -> Iterator[Any]:
    """A fresh sandbox platform simulator; it decides nothing during a scenario."""
    from platform_adapters.simulators.sandbox import SandboxServer

    with SandboxServer(ack_after=600, decide_after=600) as server:
        yield server


@pytest.fixture
def tracker_on_shared_postgres(
    processes: Processes, private_redis: PrivateRedis
) -> Iterator[Tracker]:
    """The tracker on a fresh database of the shared PostgreSQL and the private Redis."""
    with shared_postgres_database() as database_url:
        tracker = Tracker(processes, database_url=database_url, redis_url=private_redis.url)
        try:
            yield tracker
        finally:
            tracker.close()
            processes.stop()  # before the database is dropped under them


@pytest.fixture
def private_postgres(processes: Processes) -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this scenario only, started; destroyed afterwards."""
    server = PrivatePostgres(processes)
    try:
        server.start()
        yield server
    finally:
        processes.stop()
        server.destroy()
