"""``httpx.URL`` for the URLs a re-check sends, made without httpx's full parse when the URL is
already in the canonical form httpx would give it.

``httpx.URL(text)`` validates and normalises every character in pure Python: about 12 us of a
check's ~110 us on loopback (BENCHMARKS.md), as much as the rest of the engine's own work on
the URL. The tracker stores canonical URLs (``tracker.reports.urls``), so most are already in
httpx's normal form: lower-case scheme and host, no default port, no dot segments, only
characters httpx leaves as they are. For those the parse result is built directly; anything
else (user info, IPv6, upper case, characters httpx would escape, a fragment...) takes
``httpx.URL`` as before. ``tests/test_fast_url.py`` checks that both give the same URL over
a generated corpus, so a change in httpx's normal form fails there, not silently.
"""

from __future__ import annotations

import re

import httpx

try:  # httpx's parse result, the one private piece used here (checked by the tests)
    from httpx._urlparse import ParseResult
except ImportError:  # pragma: no cover - another httpx: every URL takes the full parse
    ParseResult = None  # type: ignore[assignment,misc]

_CANONICAL = re.compile(
    r"(https?)://"
    r"([a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)"  # a lower-case host name or dotted quad
    r"(?::([1-9][0-9]{0,4}))?"  # a port, not written with leading zeros
    r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*)"  # an absolute path httpx keeps as it is
    r"(?:\?([A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*))?"  # a query httpx keeps as it is
)
_DOTTED_QUAD = re.compile(r"[0-9.]+")
_OCTET = re.compile(r"25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|$)")
DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_url(url: str) -> httpx.URL:
    """``httpx.URL(url)``, built directly when the URL is already in httpx's normal form."""
    found = _CANONICAL.fullmatch(url) if ParseResult is not None else None
    if found is None:
        return httpx.URL(url)
    scheme, host, port_text, path, query = found.groups()
    if (
        (_DOTTED_QUAD.fullmatch(host) and not _is_dotted_quad(host))
        or "%" in url
        and _BAD_ESCAPE.search(url)
        or "/." in path
        and _DOT_SEGMENT.search(path)
    ):
        return httpx.URL(url)
    port = int(port_text) if port_text is not None else None
    if port is not None and (port > 65535 or port == DEFAULT_PORTS[scheme]):
        return httpx.URL(url)
    parsed = httpx.URL.__new__(httpx.URL)
    parsed._uri_reference = ParseResult(scheme, "", host, port, path, query, None)
    return parsed


def _is_dotted_quad(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(_OCTET.fullmatch(part) for part in parts)
