"""Issue 7 item 4 and item 10 (second half): failed authentication is throttled per address,
a valid key never is, and the key is checked before any body is read."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
import redis
from conftest import REDIS_URL, reset_settings
from fastapi.testclient import TestClient

from tracker.api.auth import AuthenticationMiddleware
from tracker.organisations.throttle import (
    Decision,
    MemoryFailureLog,
    RedisFailureLog,
    Window,
    failure_log_from_settings,
)
from tracker.settings import get_settings


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- the window, pure ---


def test_window_allows_limit_failures_then_throttles_until_the_oldest_leaves():
    window = Window(limit=3, window_seconds=60)
    times: list[float] = []
    decisions = []
    for now in (0.0, 10.0, 20.0, 30.0):
        times, decision = window.record(times, now=now)
        decisions.append(decision)
    # 3 allowed; the 4th within 60 s is throttled until the 10 s failure leaves the window
    # (then only 20 and 30 remain: 2 < 3).
    assert decisions == [Decision(False), Decision(False), Decision(False), Decision(True, 40)]
    assert times == [10.0, 20.0, 30.0]
    assert window.check(times, now=69.0) == Decision(True, 1)
    assert window.check(times, now=70.0) == Decision(False)
    times, decision = window.record(times, now=70.0)
    assert decision == Decision(False) and times == [20.0, 30.0, 70.0]


def test_window_rounds_retry_after_up_to_whole_seconds_and_at_least_one():
    window = Window(limit=1, window_seconds=2.5)
    times, first = window.record([], now=0.0)
    _, second = window.record(times, now=0.1)
    assert (first, second) == (Decision(False), Decision(True, 3))
    assert window.check([0.0], now=2.4999) == Decision(True, 1)


def test_failures_while_throttled_keep_the_address_throttled():
    window = Window(limit=2, window_seconds=10)
    times: list[float] = []
    for now in (0.0, 1.0):
        times, _ = window.record(times, now=now)
    decisions = []
    for now in (2.0, 9.0, 11.0):
        times, decision = window.record(times, now=now)
        decisions.append(decision)
    # Each refused attempt counts too: hammering never lets the window drain.
    assert decisions == [Decision(True, 9), Decision(True, 3), Decision(True, 8)]
    assert window.check(times, now=18.9) == Decision(True, 1)  # 9 + 10 - 18.9, rounded up
    assert window.check(times, now=19.0) == Decision(False)


def test_memory_log_keeps_addresses_apart_and_bounded():
    clock = FakeClock()
    log = MemoryFailureLog(window=Window(limit=1, window_seconds=60), clock=clock, max_addresses=2)
    assert log.record_failure("192.0.2.1") == Decision(False)
    assert log.record_failure("192.0.2.1") == Decision(True, 60)
    assert log.record_failure("192.0.2.2") == Decision(False)
    assert log.check("192.0.2.1") == Decision(True, 60)
    log.record_failure("192.0.2.3")  # the least recently failing address is dropped
    assert log.check("192.0.2.1") == Decision(False)
    assert log.check("192.0.2.2") == Decision(True, 60)


# --- Redis, shared between processes ---


def redis_log(clock: FakeClock, namespace: str, url: str = REDIS_URL) -> RedisFailureLog:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    return RedisFailureLog(
        window=Window(limit=3, window_seconds=60), client=client, clock=clock, namespace=namespace
    )


def test_redis_log_is_shared_by_every_process_and_expires():
    clock, namespace = FakeClock(), f"test-throttle-{uuid.uuid4().hex}"
    first, second = redis_log(clock, namespace), redis_log(clock, namespace)
    assert first.record_failure("198.51.100.7") == Decision(False)
    assert second.record_failure("198.51.100.7") == Decision(False)
    clock.now += 15
    assert first.record_failure("198.51.100.7") == Decision(False)
    assert second.record_failure("198.51.100.7") == Decision(True, 45)
    assert first.check("198.51.100.7") == Decision(True, 45)
    assert second.check("198.51.100.8") == Decision(False)
    keys = first.client.keys(f"{namespace}:*")
    assert len(keys) == 1 and b"198.51.100.7" not in keys[0]  # no address in the clear
    assert 0 < first.client.ttl(keys[0]) <= 61
    assert first.client.zcard(keys[0]) == 3  # never more than the limit is kept
    clock.now += 60
    assert first.check("198.51.100.7") == Decision(False)
    first.client.delete(*keys)


def test_redis_failure_falls_back_to_memory_and_logs_no_address(caplog):
    clock = FakeClock()
    log = redis_log(clock, "test-throttle-down", url="redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING, logger="tracker.organisations.throttle"):
        decisions = [log.record_failure("203.0.113.9") for _ in range(4)]
    assert decisions == [Decision(False)] * 3 + [Decision(True, 60)]
    assert log.check("203.0.113.9") == Decision(True, 60)
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "Redis failed (ConnectionError)" in warnings[0]
    assert "203.0.113.9" not in caplog.text


def test_settings_choose_redis_when_distributed_and_memory_when_embedded():
    assert isinstance(failure_log_from_settings(get_settings()), MemoryFailureLog)
    try:
        reset_settings(
            TRACKER_RUN_MODE="distributed",
            TRACKER_AUTH_FAILURE_LIMIT="7",
            TRACKER_AUTH_FAILURE_WINDOW_SECONDS="30",
        )
        log = failure_log_from_settings(get_settings())
        assert isinstance(log, RedisFailureLog)
        assert log.window == Window(limit=7, window_seconds=30.0)
    finally:
        reset_settings(
            TRACKER_RUN_MODE="embedded",
            TRACKER_AUTH_FAILURE_LIMIT="20",
            TRACKER_AUTH_FAILURE_WINDOW_SECONDS="60",
        )


# --- through the API ---


@pytest.fixture
def throttled_client(db):
    """The API behind an authentication layer with a fake clock and a limit of 3."""
    from tracker.api.app import create_app

    clock = FakeClock()
    failures = MemoryFailureLog(window=Window(limit=3, window_seconds=60), clock=clock)
    app = AuthenticationMiddleware(create_app(db), failures=failures, database=db)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, clock


def test_wrong_keys_turn_into_429_with_retry_after_but_a_valid_key_passes(throttled_client, people):
    client, clock = throttled_client
    wrong = {"Authorization": "Bearer tk_not-a-real-key-FAKE"}
    assert [client.get("/api/v1/cases", headers=wrong).status_code for _ in range(3)] == [401] * 3
    throttled = client.get("/api/v1/cases", headers=wrong)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "60"
    assert throttled.json() == {
        "detail": [
            {
                "loc": ["header", "authorization"],
                "msg": "too many failed authentication attempts from this address; retry in 60 s",
                "type": "auth.throttled",
            }
        ]
    }
    # The same address with a valid key: never slowed or refused.
    assert client.get("/api/v1/me", headers=people.auth("alice")).status_code == 200
    assert client.get("/readyz", headers=wrong).status_code == 429
    clock.now += 60
    assert client.get("/api/v1/cases", headers=wrong).status_code == 401


def test_missing_key_is_401_and_not_counted(throttled_client, people):
    client, _ = throttled_client
    for _ in range(5):
        missing = client.get("/api/v1/cases")
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        assert missing.json()["detail"][0]["msg"] == "an API key is required"
    assert client.get("/api/v1/cases", headers={"Authorization": "Basic Zm9vOmJhcg=="}).json()[
        "detail"
    ][0]["type"] == ("auth.unauthenticated")


def test_the_limit_comes_from_settings(db, people):
    from tracker.api.app import create_app

    try:
        reset_settings(TRACKER_AUTH_FAILURE_LIMIT="2")
        with TestClient(create_app(db)) as client:
            wrong = {"Authorization": "Bearer tk_not-a-real-key-FAKE"}
            codes = [client.get("/api/v1/me", headers=wrong).status_code for _ in range(3)]
            assert codes == [401, 401, 429]
            assert 1 <= int(client.get("/api/v1/me", headers=wrong).headers["Retry-After"]) <= 60
            assert client.get("/api/v1/me", headers=people.auth("admin")).status_code == 200
    finally:
        reset_settings(TRACKER_AUTH_FAILURE_LIMIT="20")


# --- authentication before the body is read ---

FIVE_MB = 5 * 1024 * 1024


def call_asgi(app, *, method: str, path: str, headers: list[tuple[bytes, bytes]]):
    """Send one request with a ~5 MB junk body; how often ``receive`` was awaited, the answer."""
    received: list[str] = []
    sent: list[dict] = []
    chunk = b"\x00junk" * (64 * 1024 // 5)

    async def receive():
        received.append("receive")
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("192.0.2.50", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return received, start["status"], dict(start["headers"]), body


def test_unauthenticated_post_with_a_big_body_is_refused_unread(db):
    from tracker.api.app import create_app

    app = create_app(db)
    for headers in ([], [(b"authorization", b"Bearer tk_not-a-real-key-FAKE")]):
        received, status, response_headers, body = call_asgi(
            app, method="POST", path="/api/v1/cases", headers=headers
        )
        assert status == 401
        assert response_headers[b"www-authenticate"] == b"Bearer"
        assert b'"type":"auth.unauthenticated"' in body
        assert received == []  # the body was never asked for


def test_middleware_answers_before_the_application_and_never_reads():
    called = []

    async def application(scope, receive, send):
        called.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = AuthenticationMiddleware(
        application, failures=MemoryFailureLog(window=Window(limit=1, window_seconds=60))
    )
    content_length = [(b"content-length", str(FIVE_MB).encode())]
    received, status, _, _ = call_asgi(
        middleware, method="POST", path="/api/v1/cases", headers=content_length
    )
    assert (received, status, called) == ([], 401, [])
    _, status, _, _ = call_asgi(middleware, method="POST", path="/healthz", headers=[])
    assert (status, called) == (204, ["/healthz"])


def test_database_down_while_authenticating_is_503_in_the_envelope(client, people, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def unavailable():
        raise OperationalError("SELECT 1", {}, Exception("connection refused (simulated)"))

    monkeypatch.setattr(client.app.state.database, "session", unavailable)
    response = client.get("/api/v1/me", headers=people.auth("alice"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {
        "detail": [
            {
                "loc": [],
                "msg": "the database is unavailable; retry shortly",
                "type": "service.unavailable",
            }
        ]
    }


def test_failures_are_counted_per_ipv4_address_and_per_ipv6_64():
    from tracker.api.auth import client_key

    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key("testclient") == "testclient"
