"""What every per-host gate shares: its interface, its limits, outcomes and waiting for a slot.

The gates themselves are ``Politeness`` (this process's memory, ``politeness``) and
``RedisPoliteness`` (shared through Redis, ``politeness_redis``); see ``politeness`` for the
rules they keep.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import deque
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Protocol

import httpx

if TYPE_CHECKING:
    from tracker.settings import Settings

#: Statuses that say "too much, come back later" and may carry Retry-After.
THROTTLE_STATUSES = frozenset({429, 503})
#: Hosts kept in memory before idle ones (nothing to remember) are dropped.
MAX_IDLE_HOSTS = 10_000

#: What a gate hands out per request hop and takes back in ``finish``: a Redis lease id, or
#: None for a slot of this process's memory.
Lease = bytes | None


class Outcome(enum.IntEnum):
    """What one request hop says about its host."""

    NEUTRAL = 0  # nothing (refused before sending, cancelled): just give the slot back
    SUCCESS = 1  # an answer that is not a failure: the failures in a row end
    FAILURE = 2  # connect error, timeout, 5xx, 429 without Retry-After: back off
    THROTTLED = 3  # 429/503 with a valid Retry-After: pause for that long


@dataclass(frozen=True)
class PolitenessConfig:
    """Per-host limits (the rules are in ``politeness``)."""

    concurrency: int = 4
    min_interval: float = 0.0
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    retry_after_max: float = 3600.0
    max_wait: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PolitenessConfig:
        """The per-host limits from the tracker's settings."""
        return cls(
            concurrency=settings.recheck_per_host_concurrency,
            min_interval=settings.recheck_per_host_min_interval_seconds,
            backoff_base=settings.recheck_backoff_base_seconds,
            backoff_max=settings.recheck_backoff_max_seconds,
            retry_after_max=settings.recheck_retry_after_max_seconds,
            max_wait=settings.recheck_max_host_wait_seconds,
        )


class HostDeferred(httpx.TransportError):
    """The host asked us (or its failures tell us) to wait longer than a check may wait.

    ``retry_in``: seconds until the host's turn when the gate knows it (a pause), else None
    (no slot came free in time)."""

    def __init__(self, message: str, *, retry_in: float | None = None) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class HostGate(Protocol):
    """The per-host gate every request hop goes through (memory or Redis)."""

    config: PolitenessConfig

    async def acquire(self, host: str) -> Lease:
        """Take one of the host's slots and wait for its turn; ``HostDeferred`` if too far."""
        ...

    def finish(self, host: str, lease: Lease, outcome: Outcome, pause: float = 0.0) -> None:
        """Give the slot back and learn from the outcome (``pause``: Retry-After seconds)."""
        ...

    async def drain(self) -> None:
        """Wait until every ``finish`` so far has reached the shared state."""
        ...

    async def aclose(self) -> None:
        """Send what is left and let go of connections (the process is done with the gate)."""
        ...


def response_outcome(
    status: int, retry_after: str | None, *, retry_after_max: float
) -> tuple[Outcome, float]:
    """What a response says about its host, and the pause its Retry-After asks for (capped)."""
    if status in THROTTLE_STATUSES and retry_after is not None:
        seconds = parse_retry_after(retry_after, now=time.time())
        if seconds is not None:
            return Outcome.THROTTLED, min(seconds, retry_after_max)
    if status >= 500 or status == 429:
        return Outcome.FAILURE, 0.0
    return Outcome.SUCCESS, 0.0


def backoff_delay(config: PolitenessConfig, failures: int, jitter: float) -> float:
    """Seconds to pause after ``failures`` failures in a row, ``jitter`` in [0, 1)."""
    if failures <= 0:
        return 0.0
    ceiling = min(config.backoff_max, config.backoff_base * 2 ** min(failures - 1, 64))
    return ceiling / 2 + jitter * ceiling / 2


class Slots:
    """A FIFO counting semaphore bound to no event loop, whose waits can time out.

    ``asyncio.Semaphore`` binds itself to the first loop it waits on; a gate that lives as long
    as its process must not care which loop a batch runs on. A released slot passes straight
    to the oldest waiter, so nobody overtakes a waiter.
    """

    __slots__ = ("free", "waiters")

    def __init__(self, count: int) -> None:
        self.free = count
        self.waiters: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        """Whether an acquire would have to wait."""
        return self.free <= 0

    def idle(self, count: int) -> bool:
        """Whether nobody holds or waits for a slot (``count`` is the number of slots)."""
        return self.free == count and not self.waiters

    def try_take(self) -> bool:
        """Take a slot if one is free now."""
        if self.free > 0:
            self.free -= 1
            return True
        return False

    async def acquire(self, timeout: float, host: str) -> None:
        """Take a slot, waiting at most ``timeout`` seconds (then ``HostDeferred``)."""
        if self.free > 0:
            self.free -= 1
            return
        if timeout <= 0:
            raise _no_free_slot(host)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self.waiters.append(future)
        timer = loop.call_later(timeout, _give_up, future, host)
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled() and future.exception() is None:
                self.release()  # a slot was handed over, but this waiter will not use it
            else:
                try:
                    self.waiters.remove(future)
                except ValueError:
                    pass
            raise
        finally:
            timer.cancel()

    def release(self) -> None:
        """Give a slot back: to the oldest live waiter, else to the pool."""
        waiters = self.waiters
        while waiters:
            future = waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.free += 1


def _give_up(future: asyncio.Future[None], host: str) -> None:
    if not future.done():
        future.set_exception(_no_free_slot(host))


def _no_free_slot(host: str) -> HostDeferred:
    return HostDeferred(f"{host[:100]} has no free slot")


def parse_retry_after(value: str, *, now: float) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date); None if invalid."""
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)
