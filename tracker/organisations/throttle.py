"""Throttling failed authentication per client address: a sliding window of failures.

At most ``limit`` failures per address within ``window_seconds``; the next one is throttled
and told when to retry. Only failures are counted and looked up: a valid key never touches
the throttle, so it is never slowed or refused. The window arithmetic is pure (``Window``,
clock injected); the stores keep failure times per address, in this process (embedded mode)
or in Redis (distributed mode, shared by every API process), falling back to this process's
memory while Redis is unreachable. The console reuses it for password sign-ins.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tracker.settings import RunMode, Settings

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
"""Seconds since the epoch (wall time: Redis shares it across processes)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether an address is throttled now, and in how many whole seconds to retry."""

    throttled: bool
    retry_after_seconds: int = 0


ALLOWED = Decision(throttled=False)


@dataclass(frozen=True, slots=True)
class Window:
    """The sliding window: ``limit`` failures per ``window_seconds``."""

    limit: int
    window_seconds: float

    def live(self, times: Sequence[float], *, now: float) -> list[float]:
        """The failure times still inside the window, oldest first, at most ``limit``."""
        return sorted(t for t in times if t > now - self.window_seconds)[-self.limit :]

    def decide(self, *, count: int, oldest_of_last: float | None, now: float) -> Decision:
        """The decision given ``count`` failures in the window (before the one being judged)
        and the oldest of the newest ``limit`` failures: a retry is let through once that
        one has left the window."""
        if count < self.limit or oldest_of_last is None:
            return ALLOWED
        wait = oldest_of_last + self.window_seconds - now
        return Decision(throttled=True, retry_after_seconds=max(1, math.ceil(wait)))

    def record(self, times: Sequence[float], *, now: float) -> tuple[list[float], Decision]:
        """Add a failure at ``now``: the times to keep, and whether this failure is throttled."""
        prior = self.live(times, now=now)
        kept = [*prior, now][-self.limit :]
        return kept, self.decide(count=len(prior), oldest_of_last=kept[0], now=now)

    def check(self, times: Sequence[float], *, now: float) -> Decision:
        """Whether one more attempt now would be throttled, without recording anything."""
        kept = self.live(times, now=now)
        return self.decide(count=len(kept), oldest_of_last=kept[0] if kept else None, now=now)


class FailureLog(Protocol):
    """Failed attempts per client address."""

    def record_failure(self, address: str) -> Decision:
        """Count a failure; whether the address is now throttled."""
        ...

    def check(self, address: str) -> Decision:
        """Whether the address is throttled, without counting anything."""
        ...


class MemoryFailureLog:
    """Failure times in this process, for at most ``max_addresses`` addresses (least recently
    failing dropped first, so a spray of addresses cannot exhaust memory)."""

    def __init__(
        self, *, window: Window, clock: Clock = time.time, max_addresses: int = 100_000
    ) -> None:
        self.window = window
        self.clock = clock
        self.max_addresses = max_addresses
        self._times: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def record_failure(self, address: str) -> Decision:
        """Count a failure; whether the address is now throttled."""
        with self._lock:
            kept, decision = self.window.record(self._times.get(address, []), now=self.clock())
            self._times[address] = kept
            self._times.move_to_end(address)
            while len(self._times) > self.max_addresses:
                self._times.popitem(last=False)
            return decision

    def check(self, address: str) -> Decision:
        """Whether the address is throttled, without counting anything."""
        with self._lock:
            return self.window.check(self._times.get(address, []), now=self.clock())


class RedisFailureLog:
    """Failure times in one Redis sorted set per address (score = time), shared by every
    process; each set expires with its window. While Redis fails, this process's memory
    counts instead (and Redis is tried again after ``retry_redis_after`` seconds)."""

    def __init__(
        self,
        *,
        window: Window,
        client: Any,
        clock: Clock = time.time,
        namespace: str = "tracker:auth-failures",
        retry_redis_after: float = 5.0,
    ) -> None:
        self.window = window
        self.client = client
        self.clock = clock
        self.namespace = namespace
        self.retry_redis_after = retry_redis_after
        self.fallback = MemoryFailureLog(window=window, clock=clock)
        self._redis_down_until: float | None = None

    def _key(self, address: str) -> str:
        # Redis holds no client address in the clear, only a digest of it.
        return f"{self.namespace}:{hashlib.sha256(address.encode()).hexdigest()[:32]}"

    def record_failure(self, address: str) -> Decision:
        """Count a failure; whether the address is now throttled."""
        now = self.clock()
        if self._redis_is_down(now):
            return self.fallback.record_failure(address)
        key, window = self._key(address), self.window
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(key, "-inf", now - window.window_seconds)
                pipe.zcard(key)
                pipe.zadd(key, {f"{now!r}:{secrets.token_hex(4)}": now})
                pipe.zremrangebyrank(key, 0, -(window.limit + 1))
                pipe.zrange(key, 0, 0, withscores=True)
                pipe.expire(key, math.ceil(window.window_seconds) + 1)
                _, prior, _, _, oldest, _ = pipe.execute()
        except Exception as error:  # any Redis failure: never fail the request because of it
            self._redis_failed(error, now)
            return self.fallback.record_failure(address)
        self._redis_down_until = None
        return window.decide(count=int(prior), oldest_of_last=float(oldest[0][1]), now=now)

    def check(self, address: str) -> Decision:
        """Whether the address is throttled, without counting anything."""
        now = self.clock()
        if self._redis_is_down(now):
            return self.fallback.check(address)
        try:
            times = self.client.zrangebyscore(
                self._key(address), now - self.window.window_seconds, "+inf", withscores=True
            )
        except Exception as error:
            self._redis_failed(error, now)
            return self.fallback.check(address)
        self._redis_down_until = None
        return self.window.check([score for _, score in times], now=now)

    def _redis_is_down(self, now: float) -> bool:
        return self._redis_down_until is not None and now < self._redis_down_until

    def _redis_failed(self, error: Exception, now: float) -> None:
        if self._redis_down_until is None:  # once per outage; never the client's address
            logger.warning(
                "authentication throttle: Redis failed (%s); counting failures in this "
                "process until it answers again",
                type(error).__name__,
            )
        self._redis_down_until = now + self.retry_redis_after


def failure_log_from_settings(settings: Settings, *, clock: Clock = time.time) -> FailureLog:
    """The failure log for this run mode: Redis when distributed, memory when embedded."""
    window = Window(
        limit=settings.auth_failure_limit, window_seconds=settings.auth_failure_window_seconds
    )
    if settings.run_mode is RunMode.DISTRIBUTED:
        import redis

        client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=0.5, socket_timeout=0.5
        )
        return RedisFailureLog(window=window, client=client, clock=clock)
    return MemoryFailureLog(window=window, clock=clock)
