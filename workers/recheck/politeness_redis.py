"""The per-host gate in Redis, shared by every worker process (distributed mode).

Each host's state is four keys in Redis, changed atomically by two Lua scripts
(``politeness_lua``): ``ACQUIRE`` takes a slot and a turn, ``FINISH`` gives the slot back with
the outcome. Time is Redis's clock, the same for every process. A request hop costs one EVALSHA
to start and one to finish, both pipelined with every other call of the same loop turn
(``redis_pipeline``); the finish is not waited for.

Within a process, a host's requests first take a local slot (so one process alone never asks
Redis for more than ``concurrency``), and only one of them at a time waits in the Redis queue;
it asks again every few milliseconds (sooner when a request of this process to the host ends).

If Redis fails, checks go on: the gate logs once, limits hosts with an in-process ``Politeness``
(which has also been told every pause and back-off seen), and tries Redis again after
``retry_redis_after`` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from workers.recheck.politeness import (
    MAX_IDLE_HOSTS,
    HostDeferred,
    Lease,
    Outcome,
    Politeness,
    PolitenessConfig,
    Slots,
)
from workers.recheck.politeness_lua import ACQUIRE, FINISH
from workers.recheck.redis_pipeline import ScriptPipeline, bulk

logger = logging.getLogger(__name__)

#: A waiter that has not asked again for this long loses its place in the host's queue.
QUEUE_TTL = 2.0
#: The waiter at the head of this process's queue asks again after this, doubling up to the max.
POLL_FIRST = 0.002
POLL_MAX = 0.05
#: A host's state outlives its last pause by this long (then its failures are forgotten).
KEEP_MILLISECONDS = 3_600_000
#: ACQUIRE's answers.
GRANTED, QUEUED, DEFERRED = 1, 0, -1
#: Seconds a Redis call may take before Redis counts as down.
REDIS_TIMEOUT = 0.5


class _RedisFailed(Exception):
    """Redis did not answer a call; the in-process gate takes over."""


def _microseconds(seconds: float) -> int:
    return round(seconds * 1_000_000)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _LocalHost:
    """What this process keeps about a host: its local slots and its Redis keys."""

    __slots__ = ("slots", "head", "keys", "waker")

    def __init__(self, concurrency: int, keys: bytes) -> None:
        self.slots = Slots(concurrency)
        #: Held by the one request of this process that waits in the host's Redis queue.
        self.head = Slots(1)
        #: The host's four keys, packed for the wire once.
        self.keys = keys
        #: The head waiter's nap, cut short when a request of this process to the host ends.
        self.waker: asyncio.Future[None] | None = None


def redis_client(url: str, *, timeout: float = REDIS_TIMEOUT) -> Any:
    """An asyncio Redis client that fails fast (no retries): the gate falls back instead."""
    import redis.asyncio
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return redis.asyncio.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


class RedisPoliteness:
    """The per-host gate in Redis: every process with the same Redis shares each host's limits."""

    def __init__(
        self,
        config: PolitenessConfig | None = None,
        *,
        url: str,
        lease_seconds: float = 120.0,
        retry_redis_after: float = 5.0,
        namespace: str = "tracker:host",
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        client_factory: Callable[[str], Any] = redis_client,
        max_idle_hosts: int = MAX_IDLE_HOSTS,
    ) -> None:
        self.config = config = config or PolitenessConfig()
        self.url = url
        self.namespace = namespace
        self.sleep = sleep
        self.jitter = jitter
        self.retry_redis_after = retry_redis_after
        self.client_factory = client_factory
        #: Limits hosts while Redis is unreachable; told every pause and back-off meanwhile.
        self.fallback = Politeness(config, sleep=sleep, jitter=jitter)
        self.lease_seconds = lease_seconds
        # The arguments after the lease (and after the outcome), packed once.
        self._acquire_tail = bulk(
            config.concurrency,
            _microseconds(config.min_interval),
            _microseconds(config.max_wait),
            _microseconds(lease_seconds),
            _microseconds(QUEUE_TTL),
            KEEP_MILLISECONDS,
        )
        self._finish_tail = bulk(
            _microseconds(config.backoff_base),
            _microseconds(config.backoff_max),
            KEEP_MILLISECONDS,
        )
        self._hosts: dict[str, _LocalHost] = {}
        self._prune_at = max_idle_hosts
        self._lease_prefix = (secrets.token_hex(6) + ":").encode()
        self._lease_numbers = itertools.count(1)
        self._pipeline: ScriptPipeline | None = None
        self._down_until: float | None = None

    # --- this process's side -------------------------------------------------------------

    def _local(self, host: str) -> _LocalHost:
        local = self._hosts.get(host)
        if local is None:
            if len(self._hosts) >= self._prune_at:
                self._prune()
            digest = hashlib.blake2b(host.encode("utf-8", "replace"), digest_size=12).hexdigest()
            base = f"{self.namespace}:{{{digest}}}"
            keys = bulk(base, f"{base}:slots", f"{base}:queue", f"{base}:queue-ttl")
            local = self._hosts[host] = _LocalHost(self.config.concurrency, keys)
        return local

    def _prune(self) -> None:
        """Forget hosts nobody here is using (Redis keeps their state)."""
        count = self.config.concurrency
        for name in [
            name
            for name, local in self._hosts.items()
            if local.slots.idle(count) and local.head.idle(1) and local.waker is None
        ]:
            del self._hosts[name]
        self._prune_at = max(self._prune_at, 2 * len(self._hosts))

    def _scripts(self) -> ScriptPipeline:
        """The pipeline of the running loop (a new loop gets a new client)."""
        pipeline = self._pipeline
        if pipeline is None or pipeline.loop is not asyncio.get_running_loop():
            pipeline = self._pipeline = ScriptPipeline(
                self.client_factory(self.url),
                timeout=REDIS_TIMEOUT,
                on_error=self._redis_failed,
                on_success=self._redis_answered,
            )
        return pipeline

    # --- the gate ---------------------------------------------------------------------------

    async def acquire(self, host: str) -> Lease:
        """Take one of the host's slots (shared by every worker) and wait for its turn."""
        config = self.config
        local = self._local(host)
        deadline = time.monotonic() + config.max_wait
        await local.slots.acquire(config.max_wait, host)
        try:
            if self._down_until is not None and time.monotonic() < self._down_until:
                return await self.fallback.acquire(host)
            lease = b"%s%d" % (self._lease_prefix, next(self._lease_numbers))
            try:
                if local.head.locked():  # another request of ours already waits in the queue
                    code, wait = await self._queue(host, local, lease, deadline, registered=False)
                else:
                    code, wait = await self._try(local, lease)
                    if code == QUEUED:
                        code, wait = await self._queue(
                            host, local, lease, deadline, registered=True
                        )
            except _RedisFailed:
                return await self.fallback.acquire(host)
            except BaseException:
                self._leave(local, lease)
                raise
            if code == DEFERRED:
                raise HostDeferred(
                    f"{host[:100]} is paused for another {wait:.0f} s", retry_in=wait
                )
            if wait > 0:
                try:
                    await self.sleep(wait)
                except BaseException:
                    self._leave(local, lease)
                    raise
            return lease
        except BaseException:
            local.slots.release()
            raise

    async def _try(self, local: _LocalHost, lease: bytes) -> tuple[int, float]:
        """One ACQUIRE: granted (and the wait for the turn), queued, or deferred."""
        command = ACQUIRE.command(local.keys, bulk(lease) + self._acquire_tail)
        try:
            code, wait = await self._scripts().call(
                ACQUIRE,
                command,
                # Cancelled while Redis was answering: whatever it granted is given back.
                abandoned=lambda: self._leave(local, lease),
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise _RedisFailed from error
        return int(code), int(wait) / 1_000_000

    async def _queue(
        self, host: str, local: _LocalHost, lease: bytes, deadline: float, *, registered: bool
    ) -> tuple[int, float]:
        """Wait in the host's queue until a slot is ours (or ``max_wait`` is over)."""
        if not local.head.try_take():
            if registered:  # our place in Redis would go stale while we wait here
                self._leave(local, lease)
            await local.head.acquire(deadline - time.monotonic(), host)
            registered = False
        try:
            delay = POLL_FIRST
            while True:
                if not registered:
                    code, wait = await self._try(local, lease)
                    if code != QUEUED:
                        return code, wait
                registered = False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._leave(local, lease)
                    raise HostDeferred(f"{host[:100]} has no free slot")
                await self._nap(local, min(delay, remaining))
                delay = min(2 * delay, POLL_MAX)
        finally:
            local.head.release()

    async def _nap(self, local: _LocalHost, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        local.waker = future
        timer = loop.call_later(seconds, _wake, future)
        try:
            await future
        finally:
            timer.cancel()
            local.waker = None

    def _leave(self, local: _LocalHost, lease: bytes) -> None:
        """Drop a lease or a place in the queue that will not be used."""
        arguments = bulk(lease, Outcome.NEUTRAL.value, 0, 0) + self._finish_tail
        try:
            self._scripts().send(FINISH, FINISH.command(local.keys, arguments))
        except RuntimeError:  # no running loop (shutting down): the lease ends by itself
            pass

    def finish(self, host: str, lease: Lease, outcome: Outcome, pause: float = 0.0) -> None:
        """Give the slot back and record the outcome for every worker (not waited for)."""
        local = self._hosts[host]
        if lease is None:  # a slot of the in-process gate, taken while Redis was down
            self.fallback.finish(host, None, outcome, pause)
        else:
            jitter = self.jitter() if outcome is Outcome.FAILURE else 0
            arguments = bulk(lease, outcome.value, _microseconds(pause), jitter)
            self._scripts().send(FINISH, FINISH.command(local.keys, arguments + self._finish_tail))
            if outcome is Outcome.FAILURE or outcome is Outcome.THROTTLED:
                self.fallback.record(host, outcome, pause)  # remembered should Redis fail
            elif outcome is Outcome.SUCCESS and host in self.fallback.hosts:
                self.fallback.record(host, outcome)
        local.slots.release()
        if local.waker is not None:
            _wake(local.waker)  # our queued request may take the slot at once

    async def drain(self) -> None:
        """Wait until every finish so far has reached Redis (or failed)."""
        pipeline = self._pipeline
        if pipeline is not None and pipeline.loop is asyncio.get_running_loop():
            await pipeline.drain()

    async def aclose(self) -> None:
        """Send what is queued and close the Redis connections."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None and pipeline.loop is asyncio.get_running_loop():
            await pipeline.aclose()

    # --- Redis's health ---------------------------------------------------------------------

    def _redis_failed(self, error: BaseException) -> None:
        if self._down_until is None:  # once per outage
            logger.warning(
                "per-host politeness: Redis failed (%s); hosts are limited by this process "
                "alone until it answers again",
                type(error).__name__,
            )
        self._down_until = time.monotonic() + self.retry_redis_after

    def _redis_answered(self) -> None:
        if self._down_until is not None:
            logger.info("per-host politeness: Redis answers again; hosts are shared again")
            self._down_until = None
