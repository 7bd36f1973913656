"""Re-check a batch of reported URLs concurrently and classify each response.

A check reads at most ``body_limit`` bytes of the (decompressed) body, hashes them and classifies
the decoded prefix; the bytes are then dropped, never stored (a re-check must not keep copies of
the victim's media). One URL's failure becomes that URL's outcome; a batch never raises.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from platform_adapters.base import FetchedPage, Verdict
from workers.recheck.classify import classify_page
from workers.recheck.guard import (
    AddressPolicy,
    DestinationRefused,
    GuardedTransport,
    ResolutionFailed,
    Resolver,
)

USER_AGENT = "TakedownTracker-Recheck/0.1 (+caseworker tool)"
#: Encodings we can decompress with a bounded output size; others are not requested.
ACCEPT_ENCODING = "gzip, deflate"
#: Without an explicit deadline a URL gets this many read timeouts in all (slow-drip servers).
DEADLINE_READ_TIMEOUTS = 3.0

PlatformRule = Callable[[FetchedPage], Verdict | None]


@dataclass(frozen=True)
class CheckOutcome:
    """The result of checking one URL once."""

    key: int
    url: str
    checked_at: datetime
    http_status: int | None
    final_url: str | None
    verdict: Verdict
    reason: str
    fingerprint: str | None
    latency_ms: int
    error: str | None


def build_client(
    *,
    allowlist: list[str],
    timeout: float,
    max_redirects: int,
    max_connections: int = 100,
    resolver: Resolver | None = None,
) -> httpx.AsyncClient:
    """An httpx client for re-checks: guarded transport, explicit limits, redirects followed."""
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=min(20, max_connections),
        keepalive_expiry=30.0,
    )
    transport = GuardedTransport(policy=AddressPolicy(allowlist), resolver=resolver, limits=limits)
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        limits=limits,
        follow_redirects=True,
        max_redirects=max_redirects,
        # Proxy variables from the environment would mount transports that bypass the guard.
        trust_env=False,
        # Checks are stateless: a cookie from one platform page must not shape the next check.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
    )


async def check_batch(
    items: Sequence[tuple[int, str, PlatformRule | None]],
    *,
    client: httpx.AsyncClient,
    body_limit: int,
    per_host_concurrency: int = 4,
    deadline_seconds: float | None = None,
) -> list[CheckOutcome]:
    """Check every (report id, URL, platform rule) concurrently; outcomes in input order."""
    if deadline_seconds is None:
        read_timeout = client.timeout.read or 30.0
        deadline_seconds = read_timeout * DEADLINE_READ_TIMEOUTS
    semaphores: dict[str, asyncio.Semaphore] = {}

    def semaphore_for(url: str) -> asyncio.Semaphore:
        try:
            host = httpx.URL(url).host
        except httpx.InvalidURL:
            host = ""
        return semaphores.setdefault(host, asyncio.Semaphore(per_host_concurrency))

    checks = [
        _check_one(
            key,
            url,
            rule,
            client=client,
            body_limit=body_limit,
            semaphore=semaphore_for(url),
            deadline_seconds=deadline_seconds,
        )
        for key, url, rule in items
    ]
    return list(await asyncio.gather(*checks))


async def _check_one(
    key: int,
    url: str,
    rule: PlatformRule | None,
    *,
    client: httpx.AsyncClient,
    body_limit: int,
    semaphore: asyncio.Semaphore,
    deadline_seconds: float,
) -> CheckOutcome:
    """Check one URL; every failure becomes an outcome."""
    async with semaphore:
        checked_at = datetime.now(UTC)
        started = time.monotonic()
        status: int | None = None
        final_url: str | None = None
        fingerprint: str | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(deadline_seconds):
                async with client.stream(
                    "GET",
                    url,
                    headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
                ) as response:
                    status, final_url = response.status_code, str(response.url)
                    prefix = await _read_prefix(response, body_limit)
                    headers = dict(response.headers)
                    text = prefix.decode(_charset(response), errors="replace")
            fingerprint = hashlib.sha256(prefix).hexdigest()
            del prefix  # The bytes served their purpose; keep nothing of the content.
            page = FetchedPage(
                url=url,
                final_url=final_url,
                status_code=status,
                headers=headers,
                body_prefix=text,
            )
            verdict, reason = _classify(page, rule)
        except Exception as failure:  # One URL's failure must not fail the batch.
            verdict, reason = _failure_verdict(failure)
            error = f"{type(failure).__name__}: {str(failure)[:200]}"
        latency_ms = round((time.monotonic() - started) * 1000)
    return CheckOutcome(
        key=key,
        url=url,
        checked_at=checked_at,
        http_status=status,
        final_url=final_url,
        verdict=verdict,
        reason=reason,
        fingerprint=fingerprint,
        latency_ms=latency_ms,
        error=error,
    )


def _classify(page: FetchedPage, rule: PlatformRule | None) -> tuple[Verdict, str]:
    """Classify, treating a crashing platform rule as an unknown outcome, not a batch failure."""
    try:
        return classify_page(page, rule)
    except Exception:  # A platform rule's bug must not hide the page's outcome.
        return Verdict.UNKNOWN, "classify_error"


async def _read_prefix(response: httpx.Response, body_limit: int) -> bytes:
    """At most ``body_limit`` bytes of the body, decompressed with bounded memory."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    decompressor = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        # wbits 47 accepts gzip and zlib headers; a raw-deflate body fails like a bad body would.
        decompressor = zlib.decompressobj(wbits=47)
    elif encoding not in ("", "identity"):
        return b""  # An encoding we did not ask for: classify on status and headers alone.
    collected = bytearray()
    raw_read = 0
    async for chunk in response.aiter_raw():
        raw_read += len(chunk)
        if decompressor is None:
            collected += chunk[: body_limit - len(collected)]
        else:
            # max_length bounds the output, so a decompression bomb cannot exhaust memory.
            collected += decompressor.decompress(chunk, body_limit - len(collected))
        if len(collected) >= body_limit or raw_read >= 2 * body_limit:
            break
    return bytes(collected)


def _charset(response: httpx.Response) -> str:
    """The declared character set if Python knows it, else UTF-8."""
    declared = response.charset_encoding or "utf-8"
    try:
        "".encode(declared)
    except LookupError:
        return "utf-8"
    return declared


def _failure_verdict(failure: Exception) -> tuple[Verdict, str]:
    """Map a fetch failure to a verdict and reason."""
    if isinstance(failure, DestinationRefused):
        return Verdict.UNKNOWN, "destination_refused"
    if isinstance(failure, httpx.TimeoutException | TimeoutError):
        return Verdict.UNREACHABLE, "timeout"
    if isinstance(failure, ResolutionFailed):
        return Verdict.UNREACHABLE, "dns_error"
    if isinstance(failure, httpx.ConnectError):
        if _caused_by_tls(failure):
            return Verdict.UNREACHABLE, "tls_error"
        return Verdict.UNREACHABLE, "connect_error"
    if isinstance(failure, httpx.TooManyRedirects):
        return Verdict.UNKNOWN, "too_many_redirects"
    if isinstance(failure, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return Verdict.UNKNOWN, "invalid_url"
    if isinstance(failure, httpx.HTTPError):
        return Verdict.UNKNOWN, "http_error"
    if isinstance(failure, zlib.error):
        return Verdict.UNKNOWN, "decode_error"
    return Verdict.UNKNOWN, "internal_error"


def _caused_by_tls(failure: BaseException) -> bool:
    """Whether an exception chain contains an SSL error (httpcore wraps it in ConnectError)."""
    seen: set[int] = set()
    current: BaseException | None = failure
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError | ssl.CertificateError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return "SSL" in str(failure) or "CERTIFICATE" in str(failure).upper()
