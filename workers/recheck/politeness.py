"""Per-host politeness: concurrency, minimum spacing, Retry-After and back-off with jitter.

Every request hop to a host, redirects included, first takes one of the host's slots and waits
for its turn (``HostGate.acquire``), and gives the slot back with what the hop taught us
(``HostGate.finish``):

- at most ``concurrency`` requests to a host at once;
- request starts to a host at least ``min_interval`` seconds apart (turns are handed out in
  order, so concurrent waiters get evenly spaced starts);
- a 429 or 503 with ``Retry-After`` pauses the host for that long (capped at ``retry_after_max``);
- a host that keeps failing (connect errors, timeouts, 5xx, 429 without Retry-After) is paused
  for ``backoff_base * 2**(failures - 1)`` seconds, capped at ``backoff_max``, with "equal jitter"
  (half fixed, half random) so many workers do not come back in step; a success resets it.

A request whose turn (or free slot) is further away than ``max_wait`` is not sent: it fails with
``HostDeferred`` and the sweep checks it again later, so a paused host never stalls a batch.

One gate serves a whole process (``shared_politeness``): ``Politeness`` keeps the hosts in this
process's memory (embedded mode; every batch of the process shares it), ``RedisPoliteness``
(``politeness_redis``) keeps them in Redis so that every worker process shares them. Both are
used from one event loop thread. The clock, sleep and random source are injected so tests need
no real time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import httpx

from workers.recheck.host_gate import (
    MAX_IDLE_HOSTS,
    THROTTLE_STATUSES,
    HostDeferred,
    HostGate,
    Lease,
    Outcome,
    PolitenessConfig,
    Slots,
    backoff_delay,
    parse_retry_after,
    response_outcome,
)

if TYPE_CHECKING:
    from tracker.settings import Settings

#: The gate's whole interface, importable from here.
__all__ = [
    "MAX_IDLE_HOSTS",
    "THROTTLE_STATUSES",
    "HostDeferred",
    "HostGate",
    "Lease",
    "Outcome",
    "PoliteTransport",
    "Politeness",
    "PolitenessConfig",
    "Slots",
    "backoff_delay",
    "parse_retry_after",
    "response_outcome",
    "shared_politeness",
]


class _Host:
    __slots__ = ("slots", "next_start", "failures")

    def __init__(self, concurrency: int) -> None:
        self.slots = Slots(concurrency)
        self.next_start = 0.0
        self.failures = 0


class Politeness:
    """The per-host gate in this process's memory, shared by every request of the process."""

    def __init__(
        self,
        config: PolitenessConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        max_idle_hosts: int = MAX_IDLE_HOSTS,
    ) -> None:
        self.config = config or PolitenessConfig()
        self.clock = clock
        self.sleep = sleep
        self.jitter = jitter
        self.hosts: dict[str, _Host] = {}
        self._prune_at = max_idle_hosts

    def _host(self, host: str) -> _Host:
        state = self.hosts.get(host)
        if state is None:
            if len(self.hosts) >= self._prune_at:
                self._prune()
            state = self.hosts[host] = _Host(self.config.concurrency)
        return state

    def _prune(self) -> None:
        """Forget hosts with nothing to remember: no slot taken, no pause, no failures."""
        now, count = self.clock(), self.config.concurrency
        for name in [
            name
            for name, state in self.hosts.items()
            if state.slots.idle(count) and state.next_start <= now and state.failures == 0
        ]:
            del self.hosts[name]
        # Hosts that still remember something stay; sweep again only when twice as many.
        self._prune_at = max(self._prune_at, 2 * len(self.hosts))

    async def acquire(self, host: str) -> Lease:
        """Take one of the host's slots and wait for the host's next turn."""
        state = self._host(host)
        config = self.config
        await state.slots.acquire(config.max_wait, host)
        try:
            now = self.clock()
            start = max(now, state.next_start)
            wait = start - now
            if wait > config.max_wait:
                raise HostDeferred(
                    f"{host[:100]} is paused for another {wait:.0f} s", retry_in=wait
                )
            state.next_start = start + config.min_interval
            if wait > 0:
                await self.sleep(wait)
        except BaseException:
            state.slots.release()
            raise
        return None

    def finish(self, host: str, lease: Lease, outcome: Outcome, pause: float = 0.0) -> None:
        """Learn from the outcome, then give the slot back."""
        state = self._host(host)
        if outcome is Outcome.SUCCESS:
            state.failures = 0
        elif outcome is not Outcome.NEUTRAL:
            self.record(host, outcome, pause)
        state.slots.release()

    async def drain(self) -> None:
        """Nothing to wait for: memory is up to date at once."""

    async def aclose(self) -> None:
        """Nothing to close: the hosts live in this process's memory."""

    def release(self, host: str) -> None:
        """Give the host's slot back."""
        self._host(host).slots.release()

    def record(self, host: str, outcome: Outcome, pause: float = 0.0) -> None:
        """Learn from an outcome: Retry-After pauses, failures back off, success resets."""
        state = self._host(host)
        if outcome is Outcome.SUCCESS:
            state.failures = 0
        elif outcome is Outcome.THROTTLED:
            state.failures += 1
            state.next_start = max(state.next_start, self.clock() + pause)
        elif outcome is Outcome.FAILURE:
            state.failures += 1
            delay = self.backoff_delay(state.failures)
            state.next_start = max(state.next_start, self.clock() + delay)

    def record_response(self, host: str, status: int, retry_after: str | None) -> None:
        """Learn from a response: Retry-After pauses, failures back off, success resets."""
        outcome, pause = response_outcome(
            status, retry_after, retry_after_max=self.config.retry_after_max
        )
        self.record(host, outcome, pause)

    def record_failure(self, host: str) -> None:
        """A connect error, timeout or server error: pause the host with growing back-off."""
        self.record(host, Outcome.FAILURE)

    def backoff_delay(self, failures: int) -> float:
        """Seconds to pause after ``failures`` failures in a row (equal jitter)."""
        return backoff_delay(self.config, failures, self.jitter())

    def failures(self, host: str) -> int:
        """Failures in a row recorded for a host."""
        state = self.hosts.get(host)
        return state.failures if state is not None else 0


#: A slot's lease outlasts the longest check by this much (unless set: recheck_host_lease_seconds).
LEASE_MARGIN_SECONDS = 5.0


def shared_politeness(
    settings: Settings, *, config: PolitenessConfig | None = None, deadline: float | None = None
) -> HostGate:
    """The gate for this process (make it once): Redis when distributed, memory when embedded.

    ``deadline``: the longest a check may take; a slot's lease lasts that and a margin (a killed
    worker's slots are free again as soon as none of its checks could still be running).
    """
    from tracker.settings import RunMode

    config = config or PolitenessConfig.from_settings(settings)
    if settings.run_mode is RunMode.DISTRIBUTED:
        from workers.recheck.politeness_redis import RedisPoliteness

        lease = settings.recheck_host_lease_seconds
        if lease is None:
            longest = deadline if deadline is not None else 3 * settings.outbound_timeout_seconds
            lease = longest + LEASE_MARGIN_SECONDS
        return RedisPoliteness(
            config,
            url=settings.redis_url,
            lease_seconds=lease,
            retry_redis_after=settings.recheck_politeness_redis_retry_seconds,
        )
    return Politeness(config)


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that gives the host's slot back (with the outcome) once closed."""

    def __init__(
        self,
        inner: httpx.AsyncByteStream,
        gate: HostGate,
        host: str,
        lease: Lease,
        outcome: Outcome,
        pause: float,
    ) -> None:
        self.inner = inner
        self.gate: HostGate | None = gate
        self.host, self.lease, self.outcome, self.pause = host, lease, outcome, pause

    def __aiter__(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        # The inner stream's own iterator: no generator frame of ours per chunk.
        return self.inner.__aiter__()

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            gate, self.gate = self.gate, None
            if gate is not None:
                gate.finish(self.host, self.lease, self.outcome, self.pause)


class PoliteTransport(httpx.AsyncBaseTransport):
    """Wraps a transport so every request hop goes through the per-host gate."""

    def __init__(self, inner: httpx.AsyncBaseTransport, politeness: HostGate) -> None:
        self.inner = inner
        self.politeness = politeness

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Wait for the host's turn, send, and learn from the outcome when the body is closed."""
        host = request.url.host
        gate = self.politeness
        lease = await gate.acquire(host)
        try:
            response = await self.inner.handle_async_request(request)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError):
            gate.finish(host, lease, Outcome.FAILURE)
            raise
        except BaseException:
            # A refused destination or a bad URL says nothing about the host's health.
            gate.finish(host, lease, Outcome.NEUTRAL)
            raise
        status = response.status_code
        if status < 500 and status != 429:
            outcome, pause = Outcome.SUCCESS, 0.0
        else:
            outcome, pause = response_outcome(
                status,
                response.headers.get("retry-after"),
                retry_after_max=gate.config.retry_after_max,
            )
        if response.is_closed:
            gate.finish(host, lease, outcome, pause)  # already read (a mock or an eager transport)
            return response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(response.stream, gate, host, lease, outcome, pause)
        return response

    async def aclose(self) -> None:
        """Close the inner transport once the gate has heard every outcome."""
        try:
            await self.politeness.drain()
        finally:
            await self.inner.aclose()
