"""Per-host politeness: concurrency, minimum spacing, Retry-After and back-off with jitter.

One ``Politeness`` lives as long as its client (one batch). Every request hop to a host, redirects
included, first takes one of the host's slots and waits for its turn:

- at most ``concurrency`` requests to a host at once;
- request starts to a host at least ``min_interval`` seconds apart (turns are handed out in
  order, so concurrent waiters get evenly spaced starts);
- a 429 or 503 with ``Retry-After`` pauses the host for that long (capped at ``retry_after_max``);
- a host that keeps failing (connect errors, timeouts, 5xx, 429 without Retry-After) is paused
  for ``backoff_base * 2**(failures - 1)`` seconds, capped at ``backoff_max``, with "equal jitter"
  (half fixed, half random) so many workers do not come back in step; a success resets it.

A request whose turn is further away than ``max_wait`` is not sent: it fails with
``HostDeferred`` and the sweep checks it again later, so a paused host never stalls a batch.
The clock, sleep and random source are injected so tests need no real time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

#: Statuses that say "too much, come back later" and may carry Retry-After.
THROTTLE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class PolitenessConfig:
    """Per-host limits (see the module docstring)."""

    concurrency: int = 4
    min_interval: float = 0.0
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    retry_after_max: float = 3600.0
    max_wait: float = 60.0


class HostDeferred(httpx.TransportError):
    """The host asked us (or its failures tell us) to wait longer than a check may wait."""


class _Host:
    __slots__ = ("slots", "next_start", "failures")

    def __init__(self, concurrency: int) -> None:
        self.slots = asyncio.Semaphore(concurrency)
        self.next_start = 0.0
        self.failures = 0


class Politeness:
    """The per-host gate shared by every request of one client."""

    def __init__(
        self,
        config: PolitenessConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config or PolitenessConfig()
        self.clock = clock
        self.sleep = sleep
        self.jitter = jitter
        self.hosts: dict[str, _Host] = {}

    def _host(self, host: str) -> _Host:
        state = self.hosts.get(host)
        if state is None:
            state = self.hosts[host] = _Host(self.config.concurrency)
        return state

    async def acquire(self, host: str) -> None:
        """Take one of the host's slots and wait for the host's next turn."""
        state = self._host(host)
        await state.slots.acquire()
        try:
            now = self.clock()
            start = max(now, state.next_start)
            wait = start - now
            if wait > self.config.max_wait:
                raise HostDeferred(f"{host[:100]} is paused for another {wait:.0f} s")
            state.next_start = start + self.config.min_interval
            if wait > 0:
                await self.sleep(wait)
        except BaseException:
            state.slots.release()
            raise

    def release(self, host: str) -> None:
        """Give the host's slot back."""
        self._host(host).slots.release()

    def record_response(self, host: str, status: int, retry_after: str | None) -> None:
        """Learn from a response: Retry-After pauses, failures back off, success resets."""
        state = self._host(host)
        if status in THROTTLE_STATUSES and retry_after is not None:
            seconds = parse_retry_after(retry_after, now=time.time())
            if seconds is not None:
                pause = min(seconds, self.config.retry_after_max)
                state.next_start = max(state.next_start, self.clock() + pause)
                state.failures += 1
                return
        if status >= 500 or status == 429:
            self.record_failure(host)
        else:
            state.failures = 0

    def record_failure(self, host: str) -> None:
        """A connect error, timeout or server error: pause the host with growing back-off."""
        state = self._host(host)
        state.failures += 1
        delay = self.backoff_delay(state.failures)
        state.next_start = max(state.next_start, self.clock() + delay)

    def backoff_delay(self, failures: int) -> float:
        """Seconds to pause after ``failures`` failures in a row (equal jitter)."""
        if failures <= 0:
            return 0.0
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2 ** (failures - 1))
        return ceiling / 2 + self.jitter() * ceiling / 2

    def failures(self, host: str) -> int:
        """Failures in a row recorded for a host."""
        state = self.hosts.get(host)
        return state.failures if state is not None else 0


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


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that gives the host's slot back once it is read or closed."""

    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self.inner = inner
        self._release: Callable[[], None] | None = release

    def __aiter__(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        # The inner stream's own iterator: no generator frame of ours per chunk.
        return self.inner.__aiter__()

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class PoliteTransport(httpx.AsyncBaseTransport):
    """Wraps a transport so every request hop goes through the per-host gate."""

    def __init__(self, inner: httpx.AsyncBaseTransport, politeness: Politeness) -> None:
        self.inner = inner
        self.politeness = politeness

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Wait for the host's turn, send, and learn from the outcome."""
        host = request.url.host
        politeness = self.politeness
        await politeness.acquire(host)
        try:
            response = await self.inner.handle_async_request(request)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError):
            # A refused destination or a bad URL says nothing about the host's health.
            politeness.record_failure(host)
            politeness.release(host)
            raise
        except BaseException:
            politeness.release(host)
            raise
        status = response.status_code
        if status in THROTTLE_STATUSES:
            politeness.record_response(host, status, response.headers.get("retry-after"))
        else:
            politeness.record_response(host, status, None)
        if response.is_closed:
            politeness.release(host)  # already read (a mock or an eager transport)
            return response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(response.stream, lambda: politeness.release(host))
        return response

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()
