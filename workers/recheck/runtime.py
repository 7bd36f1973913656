"""One re-check runtime per process: an event loop on its own thread, one client kept from batch
to batch, and the per-host politeness gate that every batch of the process shares.

A batch used to build its own event loop, client, TLS context and politeness gate: every
batch reconnected to every host, loaded the CA bundle again (17 % of worker CPU), and forgot
a host's Retry-After as soon as it ended. Now the job thread hands its coroutine to the
process's loop and waits for the answer; connections stay alive between batches, a TLS context
is built once and only when an https URL comes, and batches running at once (the embedded
runner's job threads) share one gate, which in distributed mode keeps its state in Redis so
every worker process shares it (``workers.recheck.politeness.shared_politeness``). Database
work never runs on this loop: the loop only fetches, the job thread records.

The runtime is made on first use in each process (after Celery forks its pool) and rebuilt
when the settings it was built from change (tests change them between cases).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import httpx

from tracker.settings import Settings
from workers.recheck.engine import (
    build_client,
    check_deadline,
    new_event_loop,
    politeness_config,
)
from workers.recheck.politeness import HostGate, shared_politeness

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _client_key(settings: Settings) -> tuple[Any, ...]:
    """The settings a client is built from: a change means a new client."""
    return (
        tuple(settings.outbound_allowlist),
        settings.outbound_timeout_seconds,
        settings.max_redirects,
        settings.recheck_concurrency,
        politeness_config(settings),
        settings.run_mode,
        settings.redis_url,
    )


class CheckRuntime:
    """An event loop thread with the process's re-check client on it."""

    def __init__(self) -> None:
        self.loop = new_event_loop()
        self.thread = threading.Thread(target=self._run_loop, name="tracker-rechecks", daemon=True)
        self.thread.start()
        self._client: httpx.AsyncClient | None = None
        self._key: tuple[Any, ...] | None = None
        self.politeness: HostGate | None = None

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, settings: Settings, work: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
        """Run ``work(client)`` on the loop and wait for its result (from any other thread)."""
        return self.submit(settings, work).result()

    def submit(
        self, settings: Settings, work: Callable[[httpx.AsyncClient], Awaitable[T]]
    ) -> Future[T]:
        """Start ``work(client)`` on the loop; its future (for any other thread to wait on)."""
        return asyncio.run_coroutine_threadsafe(self._with_client(settings, work), self.loop)

    async def _with_client(
        self, settings: Settings, work: Callable[[httpx.AsyncClient], Awaitable[T]]
    ) -> T:
        return await work(await self._client_for(settings))

    async def _client_for(self, settings: Settings) -> httpx.AsyncClient:
        key = _client_key(settings)
        if self._client is None or key != self._key:
            await self._close_client()
            # Made once per process (per settings): every batch of the process shares it, and in
            # distributed mode every worker shares its state through Redis.
            self.politeness = shared_politeness(
                settings, config=politeness_config(settings), deadline=check_deadline(settings)
            )
            self._client = build_client(
                allowlist=settings.outbound_allowlist,
                timeout=settings.outbound_timeout_seconds,
                max_redirects=settings.max_redirects,
                max_connections=settings.recheck_concurrency,
                politeness=self.politeness,
            )
            self._key = key
        return self._client

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        gate, self.politeness = self.politeness, None
        if client is not None:
            await client.aclose()
        if gate is not None:
            await gate.aclose()

    def close(self) -> None:
        """Close the client and the gate and stop the loop (its thread ends)."""
        if not self.loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(self._close_client(), self.loop)
        try:
            future.result(timeout=10)
        except Exception:  # at shutdown: what was not handed back expires with its lease
            logger.warning("the re-check client did not close cleanly", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


class _Holder:
    runtime: CheckRuntime | None = None
    pid: int = 0
    lock = threading.Lock()


def check_runtime() -> CheckRuntime:
    """This process's runtime, made on first use (a forked child makes its own)."""
    pid = os.getpid()
    with _Holder.lock:
        if _Holder.runtime is None or _Holder.pid != pid:
            # After a fork the parent's loop thread does not exist here: start afresh.
            _Holder.runtime, _Holder.pid = CheckRuntime(), pid
        return _Holder.runtime


def close_check_runtime() -> None:
    """Stop this process's runtime, if it has one (at shutdown)."""
    with _Holder.lock:
        runtime, _Holder.runtime = _Holder.runtime, None
    if runtime is not None and _Holder.pid == os.getpid():
        runtime.close()
