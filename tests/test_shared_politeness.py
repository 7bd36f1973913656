"""The per-host gate shared by every worker: Redis (distributed) and memory (embedded).

The contract tests run over both gates, each time with two handles standing for two workers:
two ``RedisPoliteness`` on the same Redis, or the one in-process ``Politeness`` that every batch
of an embedded process shares. Redis keeps time with its own clock, so these tests use real
(short) time. Then the Redis gate alone: expired leases, fairness, cancellation, keys, Redis
outages. Last, the issue's test with real processes: two worker processes running the engine
against one slow loopback server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import REDIS_URL
from processes import free_port

from workers.recheck.politeness import (
    HostDeferred,
    HostGate,
    Outcome,
    Politeness,
    PolitenessConfig,
    shared_politeness,
)
from workers.recheck.politeness_redis import RedisPoliteness

ROOT = Path(__file__).resolve().parent.parent
HOST = "slow.example"
LIVE = [200, "http_200", "live"]
Gates = Callable[..., tuple[HostGate, HostGate]]


@pytest.fixture
def namespace() -> Iterator[str]:
    """A key prefix of this test only; its keys are deleted afterwards."""
    prefix = f"test-politeness:{uuid.uuid4().hex[:12]}:host"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", "redis"])
def gates(request: pytest.FixtureRequest, namespace: str) -> Gates:
    """Two handles on one host gate, as two workers see it (jitter fixed at its maximum)."""

    def make(**config: float) -> tuple[HostGate, HostGate]:
        limits = PolitenessConfig(**config)  # type: ignore[arg-type]
        if request.param == "memory":
            gate = Politeness(limits, jitter=lambda: 1.0)
            return gate, gate
        first, second = (
            RedisPoliteness(limits, url=REDIS_URL, namespace=namespace, jitter=lambda: 1.0)
            for _ in range(2)
        )
        return first, second

    return make


async def close(*gates: HostGate) -> None:
    for gate in gates:
        await gate.aclose()


def run(scenario: Callable[[], Any]) -> Any:
    return asyncio.run(scenario())


# --- the contract: both gates -----------------------------------------------------------------


def test_concurrency_is_never_exceeded_together(gates: Gates) -> None:
    one, two = gates(concurrency=3)
    active, most, done = 0, 0, 0

    async def request(gate: HostGate) -> None:
        nonlocal active, most, done
        lease = await gate.acquire(HOST)
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.03)
        active -= 1
        done += 1
        gate.finish(HOST, lease, Outcome.SUCCESS)

    async def scenario() -> None:
        await asyncio.gather(*(request(gate) for gate in (one, two) * 6))
        await close(one, two)

    run(scenario)
    assert (most, done) == (3, 12)


def test_request_starts_are_spaced_across_workers(gates: Gates) -> None:
    one, two = gates(concurrency=10, min_interval=0.1)
    starts: list[float] = []

    async def request(gate: HostGate) -> None:
        lease = await gate.acquire(HOST)
        starts.append(time.monotonic())
        gate.finish(HOST, lease, Outcome.SUCCESS)

    async def scenario() -> None:
        await asyncio.gather(*(request(gate) for gate in (one, two) * 3))
        await close(one, two)

    run(scenario)
    starts.sort()
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert len(starts) == 6
    assert min(gaps) >= 0.09, gaps
    assert starts[-1] - starts[0] < 0.5 + 0.3  # five gaps of 0.1 s, plus a loaded machine


def test_retry_after_seen_by_one_worker_holds_the_other(gates: Gates) -> None:
    one, two = gates(max_wait=5.0)

    async def scenario() -> float:
        lease = await one.acquire(HOST)
        one.finish(HOST, lease, Outcome.THROTTLED, 0.6)
        await one.drain()
        began = time.monotonic()
        lease = await two.acquire(HOST)
        waited = time.monotonic() - began
        two.finish(HOST, lease, Outcome.SUCCESS)
        await close(one, two)
        return waited

    assert 0.5 <= run(scenario) < 1.5


def test_a_pause_longer_than_max_wait_defers_at_once(gates: Gates) -> None:
    one, two = gates(max_wait=0.2)

    async def scenario() -> float:
        lease = await one.acquire(HOST)
        one.finish(HOST, lease, Outcome.THROTTLED, 30.0)
        await one.drain()
        began = time.monotonic()
        try:
            with pytest.raises(HostDeferred, match="paused for another 30 s"):
                await two.acquire(HOST)
            # The refused request took no slot: another host is not held up, nor this one later.
            lease = await two.acquire("other.example")
            two.finish("other.example", lease, Outcome.SUCCESS)
        finally:
            await close(one, two)
        return time.monotonic() - began

    assert run(scenario) < 0.15


def test_backoff_grows_for_every_worker_and_a_success_resets_it(gates: Gates) -> None:
    one, two = gates(backoff_base=0.2, backoff_max=10.0, max_wait=5.0)

    async def step(gate: HostGate, outcome: Outcome) -> float:
        """One request: how long it waited for its turn; then its outcome, heard by all."""
        began = time.monotonic()
        lease = await gate.acquire(HOST)
        waited = time.monotonic() - began
        gate.finish(HOST, lease, outcome)
        await gate.drain()
        return waited

    async def scenario() -> list[float]:
        waits = [
            await step(one, Outcome.FAILURE),  # 1st failure in a row: 0.2 s (jitter 1)
            await step(two, Outcome.FAILURE),  # waits 0.2 s; 2nd failure: 0.4 s
            await step(one, Outcome.SUCCESS),  # waits 0.4 s; the success resets the count
            await step(two, Outcome.FAILURE),  # no pause left; 1st failure again: 0.2 s
            await step(one, Outcome.SUCCESS),  # waits 0.2 s, not 0.8 s
        ]
        await close(one, two)
        return waits

    waits = run(scenario)
    assert waits[0] < 0.1 and waits[3] < 0.1, waits
    assert 0.15 <= waits[1] < 0.5, waits
    assert 0.35 <= waits[2] < 0.7, waits
    assert 0.15 <= waits[4] < 0.5, waits


def test_a_slot_wait_longer_than_max_wait_defers(gates: Gates) -> None:
    one, two = gates(concurrency=1, max_wait=0.2)

    async def scenario() -> float:
        held = await one.acquire(HOST)
        began = time.monotonic()
        try:
            with pytest.raises(HostDeferred, match="no free slot"):
                await two.acquire(HOST)
            waited = time.monotonic() - began
            one.finish(HOST, held, Outcome.SUCCESS)
            # The deferred waiter left no trace: the freed slot is taken at once.
            began = time.monotonic()
            lease = await two.acquire(HOST)
            assert time.monotonic() - began < 0.1
            two.finish(HOST, lease, Outcome.SUCCESS)
        finally:
            await close(one, two)
        return waited

    assert 0.15 <= run(scenario) < 0.6


def test_waiting_for_a_slot_is_first_come_first_served(gates: Gates) -> None:
    one, two = gates(concurrency=1, max_wait=5.0)
    order: list[str] = []

    async def request(gate: HostGate, name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        lease = await gate.acquire(HOST)
        order.append(name)
        await asyncio.sleep(0.02)
        gate.finish(HOST, lease, Outcome.SUCCESS)

    async def scenario() -> None:
        held = await one.acquire(HOST)
        waiting = [
            asyncio.create_task(request(two, "second worker", 0.0)),
            # The holder's own next request came later: it must not overtake.
            asyncio.create_task(request(one, "first worker again", 0.1)),
        ]
        await asyncio.sleep(0.2)
        one.finish(HOST, held, Outcome.SUCCESS)
        await asyncio.gather(*waiting)
        await close(one, two)

    run(scenario)
    assert order == ["second worker", "first worker again"]


def test_a_cancelled_waiter_gives_up_its_place(gates: Gates) -> None:
    one, two = gates(concurrency=1, max_wait=5.0)

    async def scenario() -> float:
        held = await one.acquire(HOST)
        waiter = asyncio.create_task(two.acquire(HOST))
        await asyncio.sleep(0.1)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        one.finish(HOST, held, Outcome.SUCCESS)
        await one.drain()
        began = time.monotonic()
        lease = await two.acquire(HOST)
        waited = time.monotonic() - began
        two.finish(HOST, lease, Outcome.SUCCESS)
        await close(one, two)
        return waited

    assert run(scenario) < 0.1


# --- the Redis gate ---------------------------------------------------------------------------


def test_a_killed_workers_slot_frees_itself_when_its_lease_ends(namespace: str) -> None:
    config = PolitenessConfig(concurrency=2, max_wait=5.0)
    crashed = RedisPoliteness(config, url=REDIS_URL, namespace=namespace, lease_seconds=0.4)
    alive = RedisPoliteness(config, url=REDIS_URL, namespace=namespace)

    async def scenario() -> float:
        await crashed.acquire(HOST)  # never finished: the worker died holding it
        await crashed.aclose()
        held = await alive.acquire(HOST)  # the other slot, held throughout
        began = time.monotonic()
        lease = await alive.acquire(HOST)
        waited = time.monotonic() - began
        alive.finish(HOST, lease, Outcome.SUCCESS)
        alive.finish(HOST, held, Outcome.SUCCESS)
        await alive.aclose()
        return waited

    assert 0.3 <= run(scenario) < 1.5


def test_keys_name_a_digest_of_the_host_and_expire(namespace: str) -> None:
    long_host = "a" * 60 + "." + "b" * 60 + ".example"
    gate = RedisPoliteness(PolitenessConfig(), url=REDIS_URL, namespace=namespace)

    async def scenario() -> None:
        lease = await gate.acquire(long_host)
        gate.finish(long_host, lease, Outcome.FAILURE)
        await gate.aclose()

    run(scenario)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    keys = sorted(client.scan_iter(match=f"{namespace}:*"))
    assert len(keys) == 1  # the slot was given back; the failure is remembered
    (state,) = keys
    assert len(state) == len(namespace) + 27  # ":{" + 24 hex digits + "}"
    assert "aaa" not in state
    assert client.hget(state, "fails") == "1"
    # Kept for an hour after the back-off ends, then forgotten.
    assert 3_599_000 < client.pttl(state) <= 3_602_000
    client.close()


def test_shared_politeness_follows_the_run_mode() -> None:
    from tracker.settings import RunMode, Settings

    embedded = shared_politeness(Settings(run_mode=RunMode.EMBEDDED))
    distributed = shared_politeness(
        Settings(run_mode=RunMode.DISTRIBUTED, redis_url=REDIS_URL, recheck_host_lease_seconds=7)
    )
    assert isinstance(embedded, Politeness)
    assert isinstance(distributed, RedisPoliteness)
    assert distributed.url == REDIS_URL
    assert distributed.config.concurrency == Settings().recheck_per_host_concurrency
    assert distributed.lease_seconds == 7


@pytest.fixture
def private_redis() -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A Redis of this test alone on a free port, with stop() and start() for outages."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        server.append(subprocess.Popen([*command, "--appendonly", "no"], stdout=subprocess.DEVNULL))  # noqa: S603
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)
        client.close()

    def stop() -> None:
        process = server.pop()
        process.terminate()
        process.wait(timeout=10)

    start()
    try:
        yield url, stop, start
    finally:
        while server:
            stop()


def test_redis_down_falls_back_to_this_process_and_comes_back(
    private_redis: tuple[str, Callable[[], None], Callable[[], None]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, stop, start = private_redis
    config = PolitenessConfig(concurrency=2, min_interval=0.05, max_wait=5.0)
    gate = RedisPoliteness(config, url=url, namespace="tracker:host", retry_redis_after=0.5)
    active, most = 0, 0
    starts: list[float] = []

    async def request(hold: float) -> None:
        nonlocal active, most
        lease = await gate.acquire(HOST)
        starts.append(time.monotonic())
        active += 1
        most = max(most, active)
        await asyncio.sleep(hold)
        active -= 1
        gate.finish(HOST, lease, Outcome.SUCCESS)

    async def scenario() -> None:
        await request(0.0)  # through Redis
        await gate.drain()
        stop()
        starts.clear()
        # Held longer than the spacing, so that the concurrency limit bites ...
        await asyncio.gather(*(request(0.12) for _ in range(4)))
        # ... and held for no time, so that only the spacing keeps them apart.
        await asyncio.gather(*(request(0.0) for _ in range(4)))
        start()
        await asyncio.sleep(0.5)  # past retry_redis_after: the next request asks Redis again
        await request(0.0)
        await gate.aclose()

    with caplog.at_level(logging.INFO, logger="workers.recheck.politeness_redis"):
        run(scenario)
    # While Redis was down this process still limited the host: 2 at once, 0.05 s apart.
    assert most == 2
    outage = sorted(starts[:8])
    assert min(later - earlier for earlier, later in zip(outage, outage[1:], strict=False)) >= 0.04
    ours = [record for record in caplog.records if record.name.startswith("workers.recheck")]
    warnings = [record for record in ours if record.levelno == logging.WARNING]
    assert len(warnings) == 1, caplog.text  # logged once for the outage, not per request
    assert "answers again" in caplog.text
    # The restarted Redis holds the host's state again.
    client = redis.Redis.from_url(url, decode_responses=True)
    assert list(client.scan_iter("tracker:host:*"))
    client.close()


def test_scripts_are_loaded_again_after_redis_forgets_them(
    private_redis: tuple[str, Callable[[], None], Callable[[], None]],
) -> None:
    url, _, _ = private_redis
    gate = RedisPoliteness(PolitenessConfig(), url=url, namespace="tracker:host")
    client = redis.Redis.from_url(url)

    async def scenario() -> None:
        lease = await gate.acquire(HOST)
        gate.finish(HOST, lease, Outcome.FAILURE)
        await gate.drain()
        client.script_flush()
        lease = await gate.acquire("other.example")  # NOSCRIPT, loaded, called again
        assert lease is not None  # from Redis, not from the fallback
        gate.finish("other.example", lease, Outcome.SUCCESS)
        await gate.aclose()

    run(scenario)
    assert gate._down_until is None
    states = sorted(key for key in client.scan_iter("tracker:host:*"))
    assert len(states) == 2  # both hosts' states; their slots were given back
    assert [client.hget(key, "fails") for key in states].count(b"1") == 1
    client.close()


# --- two real worker processes ----------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from workers.recheck.engine import build_client, check_batch
    from workers.recheck.politeness import PolitenessConfig
    from workers.recheck.politeness_redis import RedisPoliteness

    job = json.loads(sys.argv[1])

    async def main():
        config = PolitenessConfig(concurrency=job["concurrency"], max_wait=job["max_wait"])
        gate = RedisPoliteness(config, url=job["redis"], namespace=job["namespace"])
        client = build_client(
            allowlist=["127.0.0.1"], timeout=10.0, max_redirects=3, politeness=gate
        )
        while time.time() < job["start_at"]:
            await asyncio.sleep(0.005)
        started = time.time()
        async with client:
            items = [(index, url, None) for index, url in enumerate(job["urls"])]
            outcomes = await check_batch(
                items, client=client, body_limit=65536, per_host_concurrency=job["concurrency"]
            )
        await gate.aclose()
        rows = [[o.http_status, o.reason, str(o.verdict)] for o in outcomes]
        print(json.dumps({"started": started, "outcomes": rows}))

    asyncio.run(main())
    """
)


class SlowHandler(BaseHTTPRequestHandler):
    """``/<worker>/slow/<n>`` answers after 0.25 s; ``/<worker>/throttle`` is a 429 (4 s)."""

    protocol_version = "HTTP/1.1"
    server: SlowServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        arrived = time.time()
        worker = self.path.split("/")[1]
        server = self.server
        with server.lock:
            server.active[worker] = server.active.get(worker, 0) + 1
            total = sum(server.active.values())
            server.most = max(server.most, total)
            if sum(1 for count in server.active.values() if count) > 1:
                server.overlapped = True
            server.arrivals.append((worker, self.path, arrived))
        try:
            if self.path.endswith("/throttle"):
                self._send(429, b"slow down", {"Retry-After": "4"})
            else:
                time.sleep(0.25)
                self._send(200, b"<html><title>A post</title><body>here</body></html>", {})
        finally:
            with server.lock:
                server.active[worker] -= 1

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class SlowServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SlowHandler)
        self.lock = threading.Lock()
        self.active: dict[str, int] = {}
        self.most = 0
        self.overlapped = False
        self.arrivals: list[tuple[str, str, float]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def slow_server() -> Iterator[SlowServer]:
    server = SlowServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def start_worker(job: dict[str, Any]) -> subprocess.Popen[str]:
    """A separate Python process running the engine with the Redis gate on one job."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", WORKER, json.dumps(job)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def results(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    answers = []
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err[-3000:]
            answers.append(json.loads(out))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
    return answers


def test_two_worker_processes_never_exceed_a_hosts_limit_together(
    slow_server: SlowServer, namespace: str
) -> None:
    start_at = time.time() + 4.0  # both processes are up and waiting by then
    workers = [
        start_worker(
            {
                "redis": REDIS_URL,
                "namespace": namespace,
                "concurrency": 3,
                "max_wait": 30.0,
                "start_at": start_at,
                "urls": [f"{slow_server.base_url}/{name}/slow/{n}" for n in range(9)],
            }
        )
        for name in ("w1", "w2")
    ]
    answers = results(workers)
    assert all(answer["started"] < start_at + 0.5 for answer in answers)
    assert [row for answer in answers for row in answer["outcomes"]] == [LIVE] * 18
    # Alone, each would send 3 at once; together they stayed at the host's limit of 3.
    assert slow_server.most == 3
    assert slow_server.overlapped  # both workers had requests in flight at the same time


def test_a_429_answered_to_one_process_holds_the_others(
    slow_server: SlowServer, namespace: str
) -> None:
    base = slow_server.base_url
    start_at = time.time() + 4.0
    common = {"redis": REDIS_URL, "namespace": namespace, "concurrency": 3}
    throttled = start_worker(
        {**common, "max_wait": 30.0, "start_at": start_at, "urls": [f"{base}/w1/throttle"]}
    )
    # A second later, two more processes ask the same host, one of them unwilling to wait.
    waiting, deferred = (
        start_worker(
            {
                **common,
                "max_wait": max_wait,
                "start_at": start_at + 1.0,
                "urls": [f"{base}/{name}/slow/{n}" for n in range(3)],
            }
        )
        for name, max_wait in (("w2", 30.0), ("w3", 0.5))
    )
    first, second, third = results([throttled, waiting, deferred])
    assert first["outcomes"] == [[429, "http_429", "blocked"]]
    (throttle_at,) = [at for worker, _, at in slow_server.arrivals if worker == "w1"]
    # The second process asked while the host was paused for 4 s: it waited out the pause ...
    assert second["started"] < throttle_at + 4.0 - 1.5
    assert second["outcomes"] == [LIVE] * 3
    w2_arrivals = [at for worker, _, at in slow_server.arrivals if worker == "w2"]
    assert len(w2_arrivals) == 3
    assert min(w2_arrivals) >= throttle_at + 4.0 - 0.05
    # ... and the third, allowed to wait only 0.5 s, did not send at all: deferred to a later sweep.
    assert third["outcomes"] == [[None, "host_deferred", "unknown"]] * 3
    assert not [worker for worker, _, _ in slow_server.arrivals if worker == "w3"]


def test_a_killed_worker_process_does_not_block_the_host(
    slow_server: SlowServer, namespace: str
) -> None:
    holder = textwrap.dedent(
        """
        import asyncio, sys, time
        from workers.recheck.politeness import PolitenessConfig
        from workers.recheck.politeness_redis import RedisPoliteness

        async def main():
            gate = RedisPoliteness(
                PolitenessConfig(concurrency=1), url=sys.argv[1], namespace=sys.argv[2],
                lease_seconds=3.0,
            )
            await gate.acquire("127.0.0.1")
            print(time.time(), flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", holder, REDIS_URL, namespace],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        held_at = float(process.stdout.readline())
        process.kill()  # dies holding the host's only slot
        process.wait(timeout=10)
        job = {
            "redis": REDIS_URL,
            "namespace": namespace,
            "concurrency": 1,
            "max_wait": 30.0,
            "start_at": 0,
            "urls": [f"{slow_server.base_url}/w1/slow/1"],
        }
        (answer,) = results([start_worker(job)])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert answer["outcomes"] == [LIVE]
    # The survivor asked while the dead holder's lease ran; the slot was free when it ended.
    assert answer["started"] < held_at + 3.0 - 0.5
    (arrived,) = [at for _, _, at in slow_server.arrivals]
    assert arrived >= held_at + 3.0 - 0.05
