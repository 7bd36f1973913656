"""Per-host politeness: spacing, concurrency, Retry-After and back-off, on an injected clock."""

from __future__ import annotations

import asyncio
import email.utils

import httpx
import pytest

from workers.recheck.politeness import (
    HostDeferred,
    Politeness,
    PolitenessConfig,
    PoliteTransport,
    parse_retry_after,
)


class FakeTime:
    """A clock that only moves when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Concurrent sleepers wake at their own targets, in order.
        target = self.now + seconds
        self.sleeps.append(seconds)
        await asyncio.sleep(0)
        self.now = max(self.now, target)


def politeness(fake: FakeTime, jitter: float = 0.5, **config: float) -> Politeness:
    return Politeness(
        PolitenessConfig(**config), clock=fake.clock, sleep=fake.sleep, jitter=lambda: jitter
    )


def test_minimum_spacing_between_starts_to_one_host() -> None:
    fake = FakeTime()
    gate = politeness(fake, concurrency=10, min_interval=0.5)
    starts: list[float] = []

    async def one() -> None:
        await gate.acquire("a.example")
        starts.append(fake.now)
        gate.release("a.example")

    async def scenario() -> None:
        await asyncio.gather(*(one() for _ in range(4)))
        await one()  # another host's spacing is independent:
        await gate.acquire("b.example")
        gate.release("b.example")

    asyncio.run(scenario())
    assert starts == [1000.0, 1000.5, 1001.0, 1001.5, 1002.0]
    assert fake.sleeps == [0.5, 1.0, 1.5, 0.5]


def test_concurrency_per_host_is_bounded() -> None:
    fake = FakeTime()
    gate = politeness(fake, concurrency=2)
    active = 0
    most = 0

    async def one(host: str) -> None:
        nonlocal active, most
        await gate.acquire(host)
        active += 1
        most = max(most, active)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        active -= 1
        gate.release(host)

    async def scenario() -> None:
        await asyncio.gather(*(one("a.example") for _ in range(6)))

    asyncio.run(scenario())
    assert most == 2


def test_retry_after_pauses_the_host() -> None:
    fake = FakeTime()
    gate = politeness(fake)
    gate.record_response("a.example", 429, "7")

    async def scenario() -> None:
        await gate.acquire("a.example")
        gate.release("a.example")
        await gate.acquire("b.example")  # other hosts are not paused
        gate.release("b.example")

    asyncio.run(scenario())
    assert fake.sleeps == [7.0]


def test_retry_after_is_capped_and_long_waits_defer() -> None:
    fake = FakeTime()
    gate = politeness(fake, retry_after_max=120.0, max_wait=60.0)
    gate.record_response("a.example", 503, "86400")
    assert gate.hosts["a.example"].next_start == 1120.0

    async def scenario() -> None:
        await gate.acquire("a.example")

    with pytest.raises(HostDeferred):
        asyncio.run(scenario())
    assert fake.sleeps == []
    # The refused request gave its slot back.
    assert not gate.hosts["a.example"].slots.locked()


def test_backoff_grows_with_failures_and_resets_on_success() -> None:
    fake = FakeTime()
    gate = politeness(fake, jitter=1.0, backoff_base=1.0, backoff_max=10.0)
    assert [gate.backoff_delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 10.0]
    low = politeness(fake, jitter=0.0, backoff_base=1.0, backoff_max=10.0)
    assert [low.backoff_delay(n) for n in range(1, 5)] == [0.5, 1.0, 2.0, 4.0]

    gate.record_failure("a.example")
    gate.record_response("a.example", 500, None)
    gate.record_response("a.example", 429, None)  # 429 without Retry-After backs off too
    assert gate.failures("a.example") == 3
    assert gate.hosts["a.example"].next_start == 1000.0 + 4.0
    gate.record_response("a.example", 200, None)
    assert gate.failures("a.example") == 0


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("120", now=0.0) == 120.0
    date = email.utils.formatdate(1_000_030.0, usegmt=True)
    assert parse_retry_after(date, now=1_000_000.0) == 30.0
    assert parse_retry_after("soon", now=0.0) is None
    assert parse_retry_after("-5", now=0.0) is None


def test_transport_releases_slot_after_body_and_learns_from_responses() -> None:
    fake = FakeTime()
    gate = politeness(fake, concurrency=1)
    statuses = iter([429, 200, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(statuses)
        headers = {"Retry-After": "3"} if status == 429 else {}
        return httpx.Response(status, headers=headers, content=b"body")

    async def scenario() -> list[int]:
        transport = PoliteTransport(httpx.MockTransport(handler), gate)
        async with httpx.AsyncClient(transport=transport) as client:
            codes = []
            for _ in range(3):
                async with client.stream("GET", "http://a.example/x") as response:
                    await response.aread()
                    codes.append(response.status_code)
            return codes

    assert asyncio.run(scenario()) == [429, 200, 200]
    # Only one slot: the second and third requests could start only because the first was
    # released; the 429's Retry-After made the second wait 3 s.
    assert fake.sleeps == [3.0]
    assert gate.failures("a.example") == 0


def test_transport_failures_back_off_but_refusals_do_not() -> None:
    fake = FakeTime()
    gate = politeness(fake, jitter=1.0, backoff_base=2.0)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/refused":
            raise httpx.UnsupportedProtocol("no")
        raise httpx.ConnectError("down")

    async def scenario() -> None:
        transport = PoliteTransport(httpx.MockTransport(handler), gate)
        async with httpx.AsyncClient(transport=transport) as client:
            for path in ("/refused", "/down", "/down"):
                with pytest.raises(httpx.TransportError):
                    await client.get(f"http://a.example{path}")

    asyncio.run(scenario())
    assert gate.failures("a.example") == 2
    assert fake.sleeps == [2.0]  # the third request waited out the first failure's back-off


def test_one_gate_serves_batches_on_different_event_loops() -> None:
    # The process's gate outlives any one loop (asyncio.Semaphore would stay bound to the first).
    gate = Politeness(PolitenessConfig(concurrency=1))
    most = 0
    active = 0

    async def one() -> None:
        nonlocal active, most
        await gate.acquire("a.example")
        active += 1
        most = max(most, active)
        await asyncio.sleep(0)
        active -= 1
        gate.release("a.example")

    async def contended() -> None:
        await asyncio.gather(one(), one(), one())

    asyncio.run(contended())
    asyncio.run(contended())
    assert most == 1
    assert not gate.hosts["a.example"].slots.locked()


def test_idle_hosts_are_forgotten_but_paused_or_failing_ones_kept() -> None:
    fake = FakeTime()
    gate = Politeness(PolitenessConfig(), clock=fake.clock, sleep=fake.sleep, max_idle_hosts=3)

    async def visit(host: str) -> None:
        await gate.acquire(host)
        gate.release(host)

    async def scenario() -> None:
        await visit("idle-1.example")
        await visit("idle-2.example")
        gate.record_response("paused.example", 429, "60")
        await visit("idle-3.example")  # the fourth host: the idle ones are forgotten first

    asyncio.run(scenario())
    assert sorted(gate.hosts) == ["idle-3.example", "paused.example"]
    assert gate.hosts["paused.example"].next_start == 1060.0
