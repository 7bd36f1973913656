"""Re-check a batch of reported URLs concurrently and classify each response.

A check reads at most ``body_limit`` bytes of the (decompressed) body, fingerprints them
(SHA-256, plus a perceptual hash for images) and classifies the decoded prefix; the bytes are then
dropped, never stored (a re-check must not keep copies of the victim's media). One URL's failure
becomes that URL's outcome; a batch never raises.

The client keeps httpx's API; underneath it is ``FastTransport`` (asyncio + httptools with
keep-alive), behind the SSRF guard and the per-host politeness gate. On an asyncio loop this
checks about 2,000 loopback URLs a second (BENCHMARKS.md); ``new_event_loop`` gives uvloop.
"""

from __future__ import annotations

import asyncio
import codecs
import ssl
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urlsplit

import httpx

from platform_adapters.base import FetchedPage, Verdict
from workers.recheck.classify import classify_page
from workers.recheck.fingerprint import content_fingerprint
from workers.recheck.guard import (
    AddressPolicy,
    DestinationRefused,
    GuardedTransport,
    ResolutionFailed,
    Resolver,
)
from workers.recheck.politeness import HostDeferred, Politeness, PolitenessConfig, PoliteTransport
from workers.recheck.transport import FastTransport

USER_AGENT = "TakedownTracker-Recheck/0.1 (+caseworker tool)"
#: Encodings we can decompress with a bounded output size; others are not requested.
ACCEPT_ENCODING = "gzip, deflate"
#: Without an explicit deadline a URL gets this many read timeouts in all (slow-drip servers).
DEADLINE_READ_TIMEOUTS = 3.0
#: How long a host's resolved-and-checked address is reused (a batch takes seconds to minutes).
DECISION_TTL_SECONDS = 60.0

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
    politeness: Politeness | PolitenessConfig | None = None,
    decision_ttl: float = DECISION_TTL_SECONDS,
    verify: ssl.SSLContext | bool | str = True,
) -> httpx.AsyncClient:
    """An httpx client for re-checks: polite, guarded, fast transport; redirects followed.

    The transport stack, outermost first: per-host politeness (every hop), the SSRF guard (every
    hop resolved once per ``decision_ttl``, checked, pinned), then ``FastTransport``.
    """
    limits = httpx.Limits(
        max_connections=max_connections,
        # Keep-alive for every concurrent connection: a smaller cap under load closes and
        # reopens connections for most requests (httpx's default of 20 did so here).
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )
    if not isinstance(politeness, Politeness):
        politeness = Politeness(politeness)
    guarded = GuardedTransport(
        policy=AddressPolicy(allowlist),
        resolver=resolver,
        inner=FastTransport(verify=verify, limits=limits),
        decision_ttl=decision_ttl,
    )
    return RecheckClient(
        transport=PoliteTransport(guarded, politeness),
        timeout=httpx.Timeout(timeout),
        limits=limits,
        follow_redirects=True,
        max_redirects=max_redirects,
        # Proxy variables from the environment would mount transports that bypass the guard.
        trust_env=False,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
    )


class RecheckClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that keeps no cookies: checks are stateless.

    Beyond correctness this saves work: httpx would build a urllib request and response per hop
    just to offer them to a cookie jar (about a tenth of a check's CPU time on loopback).
    """

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        """An always-empty cookie store."""
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        """Cookies given to the client are ignored."""


class _DiscardingCookies(httpx.Cookies):
    """Cookies that keep nothing: a cookie from one platform page must not shape the next."""

    def __init__(self) -> None:
        super().__init__(CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))

    def extract_cookies(self, response: httpx.Response) -> None:
        """Drop every cookie a response sets."""

    def set_cookie_header(self, request: httpx.Request) -> None:
        """Send no cookies."""


_NO_COOKIES = _DiscardingCookies()


def politeness_config(settings: object) -> PolitenessConfig:
    """The per-host limits from the tracker's settings."""
    return PolitenessConfig(
        concurrency=settings.recheck_per_host_concurrency,  # type: ignore[attr-defined]
        min_interval=settings.recheck_per_host_min_interval_seconds,  # type: ignore[attr-defined]
        backoff_base=settings.recheck_backoff_base_seconds,  # type: ignore[attr-defined]
        backoff_max=settings.recheck_backoff_max_seconds,  # type: ignore[attr-defined]
        retry_after_max=settings.recheck_retry_after_max_seconds,  # type: ignore[attr-defined]
        max_wait=settings.recheck_max_host_wait_seconds,  # type: ignore[attr-defined]
    )


async def check_batch(
    items: Sequence[tuple[int, str, PlatformRule | None]],
    *,
    client: httpx.AsyncClient,
    body_limit: int,
    per_host_concurrency: int = 4,
    deadline_seconds: float | None = None,
    max_concurrency: int = 100,
    retries: int = 0,
) -> list[CheckOutcome]:
    """Check every (report id, URL, platform rule) concurrently; outcomes in input order.

    Each host gets its own queue and at most ``per_host_concurrency`` workers, so a slow or
    paused host never holds up the others and a batch of any size runs a bounded number of
    tasks. A throttled or transiently failing check is queued again up to ``retries`` times;
    the per-host gate makes it wait for the host's Retry-After or back-off.
    """
    if deadline_seconds is None:
        read_timeout = client.timeout.read or 30.0
        deadline_seconds = read_timeout * DEADLINE_READ_TIMEOUTS
    queues: dict[str, deque[tuple[int, int]]] = {}
    for index, (_key, url, _rule) in enumerate(items):
        queues.setdefault(_host_of(url), deque()).append((index, 0))
    outcomes: list[CheckOutcome | None] = [None] * len(items)
    everyone = asyncio.Semaphore(max_concurrency)

    async def work(queue: deque[tuple[int, int]]) -> None:
        while queue:
            index, attempt = queue.popleft()
            key, url, rule = items[index]
            async with everyone:
                outcome = await _check_one(
                    key,
                    url,
                    rule,
                    client=client,
                    body_limit=body_limit,
                    deadline_seconds=deadline_seconds,
                )
            if attempt < retries and _is_worth_retrying(outcome):
                queue.append((index, attempt + 1))
            outcomes[index] = outcome

    workers = [
        work(queue)
        for queue in queues.values()
        for _ in range(min(per_host_concurrency, len(queue)))
    ]
    await asyncio.gather(*workers)
    return [outcome for outcome in outcomes if outcome is not None]


def _host_of(url: str) -> str:
    """The URL's host name for queueing (an unparsable URL gets its own empty-named queue)."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


def _is_worth_retrying(outcome: CheckOutcome) -> bool:
    """Throttled, a server error, or a transient network failure: asking again may help."""
    if outcome.http_status is not None:
        return outcome.http_status in (429, 502, 503, 504)
    return outcome.reason in ("timeout", "connect_error")


async def _check_one(
    key: int,
    url: str,
    rule: PlatformRule | None,
    *,
    client: httpx.AsyncClient,
    body_limit: int,
    deadline_seconds: float,
) -> CheckOutcome:
    """Check one URL; every failure becomes an outcome."""
    checked_at = datetime.now(UTC)
    started = time.monotonic()
    status: int | None = None
    final_url: str | None = None
    fingerprint: str | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(deadline_seconds):
            async with client.stream("GET", url) as response:
                status, final_url = response.status_code, str(response.url)
                prefix = await _read_prefix(response, body_limit)
                headers = dict(response.headers)
                text = prefix.decode(_charset(response), errors="replace")
        fingerprint = content_fingerprint(prefix, headers.get("content-type", ""))
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
    # A plain split instead of httpx's email.message parsing, which costs ~20 us per check.
    content_type = response.headers.get("content-type", "")
    declared = "utf-8"
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            declared = value.strip().strip("\"'") or "utf-8"
    try:
        codecs.lookup(declared)
    except LookupError:
        return "utf-8"
    return declared


def _failure_verdict(failure: Exception) -> tuple[Verdict, str]:
    """Map a fetch failure to a verdict and reason."""
    if isinstance(failure, DestinationRefused):
        return Verdict.UNKNOWN, "destination_refused"
    if isinstance(failure, HostDeferred):
        return Verdict.UNKNOWN, "host_deferred"
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


def new_event_loop() -> asyncio.AbstractEventLoop:
    """An event loop for running batches: uvloop when installed (about 1.3x faster), else asyncio.

    Use as ``asyncio.Runner(loop_factory=new_event_loop)``.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
