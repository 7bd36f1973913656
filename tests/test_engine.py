"""Batch re-checks against a real loopback server."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from platform_adapters.base import FetchedPage, Verdict
from workers.recheck.engine import USER_AGENT, CheckOutcome, build_client, check_batch
from workers.recheck.guard import IPAddress

LARGE_BODY = bytes(range(256)) * (5 * 1024 * 1024 // 256)  # 5 MiB, position-dependent bytes
BOMB = gzip.compress(b"\0" * (20 * 1024 * 1024))  # 20 MiB of zeros in about 20 KiB
LIVE_PAGE = b"<html><head><title>A post</title></head><body>Still here.</body></html>"
SOFT_404_PAGE = (
    b"<html><head><title>This content isn't available</title></head><body></body></html>"
)


class Handler(BaseHTTPRequestHandler):
    server: PlatformServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path
        if path == "/live":
            self._send(200, LIVE_PAGE, content_type="text/html; charset=utf-8")
        elif path in ("/404", "/410"):
            self._send(int(path[1:]), b"<html><title>Gone</title></html>")
        elif path == "/moved-live":
            self._send(301, b"", location="/live")
        elif path == "/moved-gone":
            self._send(301, b"", location="/404")
        elif path == "/loop":
            self._send(302, b"", location="/loop")
        elif path == "/soft-404":
            self._send(200, SOFT_404_PAGE, content_type="text/html")
        elif path == "/large":
            self._send(200, LARGE_BODY, content_type="application/octet-stream")
        elif path == "/bomb":
            self._send(200, BOMB, content_type="text/html", content_encoding="gzip")
        elif path == "/user-agent":
            self._send(200, self.headers.get("User-Agent", "").encode())
        elif path == "/slow":
            time.sleep(2)
            self._send(200, LIVE_PAGE)
        elif path.startswith("/chain/"):
            hops = int(path.rsplit("/", 1)[1])
            if hops == 0:
                self._send(200, LIVE_PAGE)
            else:
                self._send(302 if hops % 2 else 307, b"", location=f"/chain/{hops - 1}")
        elif path == "/redirect-out":
            port = self.server.server_address[1]
            self._send(301, b"", location=f"http://127.0.0.3:{port}/live")
        elif path == "/authorization":
            self._send(200, self.headers.get("Authorization", "none").encode())
        elif path == "/drip":
            # Every byte comes within the read timeout; the whole body takes about 3 s.
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", "30")
                self.end_headers()
                for _ in range(30):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path.startswith("/concurrent"):
            with self.server.lock:
                self.server.active += 1
                self.server.most_active = max(self.server.most_active, self.server.active)
            time.sleep(0.15)
            with self.server.lock:
                self.server.active -= 1
            self._send(200, LIVE_PAGE)
        else:
            self._send(404, b"")

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        location: str | None = None,
        content_type: str = "text/html",
        content_encoding: str | None = None,
    ) -> None:
        try:
            self.send_response(status)
            if location is not None:
                self.send_header("Location", location)
            if content_encoding is not None:
                self.send_header("Content-Encoding", content_encoding)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # The checker stops reading after its body limit.

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class PlatformServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[PlatformServer]:
    platform_server = PlatformServer()
    thread = threading.Thread(
        target=platform_server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield platform_server
    platform_server.shutdown()
    platform_server.server_close()


@pytest.fixture
def base(server: PlatformServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


async def fake_resolver(host: str, port: int) -> list[IPAddress]:
    """Only sim.example.test resolves (to loopback); nothing reaches real DNS."""
    if host == "sim.example.test":
        return [ipaddress.ip_address("127.0.0.1")]
    raise OSError(f"fake resolver: unknown name {host}")


def run_batch(
    items: list[tuple[int, str, object]],
    *,
    body_limit: int = 65536,
    timeout: float = 5.0,
    per_host_concurrency: int = 4,
    deadline_seconds: float | None = None,
) -> list[CheckOutcome]:
    async def scenario() -> list[CheckOutcome]:
        client = build_client(
            allowlist=["127.0.0.1"], timeout=timeout, max_redirects=3, resolver=fake_resolver
        )
        async with client:
            return await check_batch(
                items,
                client=client,
                body_limit=body_limit,
                per_host_concurrency=per_host_concurrency,
                deadline_seconds=deadline_seconds,
            )

    return asyncio.run(scenario())


def summary(outcome: CheckOutcome) -> tuple[int | None, Verdict, str]:
    return outcome.http_status, outcome.verdict, outcome.reason


def test_status_and_redirect_outcomes(base: str) -> None:
    paths = ["/live", "/404", "/410", "/moved-live", "/moved-gone", "/soft-404"]
    outcomes = run_batch([(index, base + path, None) for index, path in enumerate(paths)])
    assert [outcome.key for outcome in outcomes] == [0, 1, 2, 3, 4, 5]
    assert [outcome.url for outcome in outcomes] == [base + path for path in paths]
    assert [summary(outcome) for outcome in outcomes] == [
        (200, Verdict.LIVE, "http_200"),
        (404, Verdict.REMOVED, "http_404"),
        (410, Verdict.REMOVED, "http_410"),
        (200, Verdict.LIVE, "http_200"),
        (404, Verdict.REMOVED, "http_404"),
        (200, Verdict.REMOVED, "soft_404:facebook"),
    ]
    assert [outcome.final_url for outcome in outcomes] == [
        base + "/live",
        base + "/404",
        base + "/410",
        base + "/live",
        base + "/404",
        base + "/soft-404",
    ]
    live = outcomes[0]
    assert live.fingerprint == hashlib.sha256(LIVE_PAGE).hexdigest()
    assert live.error is None
    assert live.checked_at.tzinfo is UTC
    assert abs((datetime.now(UTC) - live.checked_at).total_seconds()) < 30
    assert live.latency_ms >= 0


def test_large_body_reads_only_the_limit(base: str) -> None:
    [outcome] = run_batch([(7, base + "/large", None)], body_limit=10_000)
    assert summary(outcome) == (200, Verdict.LIVE, "http_200")
    assert outcome.fingerprint == hashlib.sha256(LARGE_BODY[:10_000]).hexdigest()


def test_compressed_body_is_bounded_after_decompression(base: str) -> None:
    [outcome] = run_batch([(1, base + "/bomb", None)], body_limit=4096)
    assert summary(outcome) == (200, Verdict.LIVE, "http_200")
    assert outcome.fingerprint == hashlib.sha256(b"\0" * 4096).hexdigest()


def test_sends_neutral_user_agent(base: str) -> None:
    [outcome] = run_batch([(1, base + "/user-agent", None)])
    assert outcome.fingerprint == hashlib.sha256(USER_AGENT.encode()).hexdigest()
    assert USER_AGENT == "TakedownTracker-Recheck/0.1 (+caseworker tool)"


def test_slow_endpoint_times_out(base: str) -> None:
    [outcome] = run_batch([(1, base + "/slow", None)], timeout=0.3)
    assert summary(outcome) == (None, Verdict.UNREACHABLE, "timeout")
    assert outcome.fingerprint is None
    assert outcome.error is not None and outcome.error.startswith("ReadTimeout")
    assert outcome.latency_ms < 1500


def test_redirects_up_to_the_limit_are_followed(base: str) -> None:
    # run_batch allows 3 redirects, as httpx counts them: 3 hops succeed, a 4th is refused.
    outcomes = run_batch([(1, base + "/chain/3", None), (2, base + "/chain/4", None)])
    assert [summary(outcome) for outcome in outcomes] == [
        (200, Verdict.LIVE, "http_200"),
        (None, Verdict.UNKNOWN, "too_many_redirects"),
    ]
    assert outcomes[0].final_url == base + "/chain/0"


def test_every_redirect_hop_goes_through_the_guard(base: str) -> None:
    [outcome] = run_batch([(1, base + "/redirect-out", None)])
    assert summary(outcome) == (None, Verdict.UNKNOWN, "destination_refused")
    # The refusal names neither the host nor the address it resolved to (issue 7, item 5).
    assert outcome.error == "DestinationRefused: destination refused by policy"


def test_user_info_is_sent_as_basic_auth_as_httpx_does(base: str) -> None:
    with_user = base.replace("http://", "http://someone:secret@") + "/authorization"
    outcomes = run_batch([(1, with_user, None), (2, base + "/authorization", None)])
    expected = "Basic " + base64.b64encode(b"someone:secret").decode()
    assert outcomes[0].fingerprint == hashlib.sha256(expected.encode()).hexdigest()
    assert outcomes[1].fingerprint == hashlib.sha256(b"none").hexdigest()


def test_overall_deadline_stops_a_slow_drip(base: str) -> None:
    started = time.monotonic()
    [outcome] = run_batch([(1, base + "/drip", None)], timeout=1.0, deadline_seconds=0.5)
    assert summary(outcome) == (200, Verdict.UNREACHABLE, "timeout")
    assert outcome.error is not None and outcome.error.startswith("TimeoutError")
    assert time.monotonic() - started < 2.0


def test_cancelling_a_batch_still_cancels_it(base: str) -> None:
    async def scenario() -> None:
        client = build_client(allowlist=["127.0.0.1"], timeout=5.0, max_redirects=3)
        async with client:
            batch = asyncio.ensure_future(
                check_batch([(1, base + "/drip", None)], client=client, body_limit=65536)
            )
            await asyncio.sleep(0.3)
            batch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await batch

    asyncio.run(scenario())


def test_closed_port_is_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    [outcome] = run_batch([(1, f"http://127.0.0.1:{port}/", None)])
    assert summary(outcome) == (None, Verdict.UNREACHABLE, "connect_error")
    assert outcome.final_url is None


def test_tls_to_plain_http_server_is_tls_error(base: str) -> None:
    [outcome] = run_batch([(1, base.replace("http://", "https://") + "/live", None)])
    assert summary(outcome) == (None, Verdict.UNREACHABLE, "tls_error")


def test_guard_and_resolution_failures(base: str) -> None:
    port = base.rsplit(":", 1)[1]
    outcomes = run_batch(
        [
            (1, f"http://127.0.0.3:{port}/live", None),
            (2, "http://nowhere.example.test/live", None),
            (3, f"http://sim.example.test:{port}/live", None),
            (4, base + "/loop", None),
            (5, "ftp://example.test/file", None),
        ]
    )
    assert [summary(outcome) for outcome in outcomes] == [
        (None, Verdict.UNKNOWN, "destination_refused"),
        (None, Verdict.UNREACHABLE, "dns_error"),
        (200, Verdict.LIVE, "http_200"),
        (None, Verdict.UNKNOWN, "too_many_redirects"),
        (None, Verdict.UNKNOWN, "invalid_url"),
    ]
    assert outcomes[0].error is not None and "DestinationRefused" in outcomes[0].error


def test_platform_rule_is_used_and_its_failure_is_contained(base: str) -> None:
    def says_removed(page: FetchedPage) -> Verdict | None:
        return Verdict.REMOVED if page.final_url.endswith("/live") else None

    def crashes(page: FetchedPage) -> Verdict | None:
        raise RuntimeError("bug in a platform rule")

    outcomes = run_batch(
        [
            (1, base + "/live", says_removed),
            (2, base + "/404", says_removed),
            (3, base + "/live", crashes),
        ]
    )
    assert [summary(outcome) for outcome in outcomes] == [
        (200, Verdict.REMOVED, "platform_rule"),
        (404, Verdict.REMOVED, "http_404"),
        (200, Verdict.UNKNOWN, "classify_error"),
    ]


def test_per_host_concurrency_is_respected(server: PlatformServer, base: str) -> None:
    server.most_active = 0
    items = [(index, f"{base}/concurrent?{index}", None) for index in range(6)]
    outcomes = run_batch(items, per_host_concurrency=2)
    assert {outcome.verdict for outcome in outcomes} == {Verdict.LIVE}
    assert server.most_active == 2
