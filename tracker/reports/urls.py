"""URL intake: validate a URL a caseworker typed and reduce it to one canonical form.

The canonical form is what deduplicates reports within a case, so two spellings of the same
content (``twitter.com`` and ``x.com``, a share link with ``?s=20``, a trailing slash) must fold
together. Folding too much is worse than folding too little: a URL wrongly taken for a duplicate
is never reported. So only parameters known to be tracking noise are dropped, and fragments that
look like client-side routes (``#!/...``, ``#/...``) are kept.

Decisions, in order of application:

- Surrounding whitespace is stripped; a URL without a scheme (``example.test/x``) gets ``https://``.
- Only ``http`` and ``https``; no user name or password; at most ``max_length`` characters.
- The host is lower-cased, IDNA-encoded (stdlib IDNA 2003) and validated label by label
  (letters, digits, hyphens, and underscores as browsers accept them); IP
  literals must be in canonical form (``2130706433`` or ``0x7f.1`` are refused as ambiguous).
- Default ports are dropped; known platform hosts (every platform host of the channel
  directory) fold to one host (``HOST_ALIASES``, ``www.``) and are upgraded to ``https`` (they
  serve nothing else).
- Percent-encoding is normalised: upper-case hex, unreserved characters decoded, characters that
  may not appear raw are encoded.
- Dot segments are resolved; the empty path becomes ``/``; trailing slashes are removed from
  non-root paths, because platforms serve the same content with and without them.
- Tracking query parameters are dropped; the others are sorted by name (stable, so repeated
  names keep their order): parameter order does not make two reports.
- ``check_fetchable`` (called at intake, apart from canonicalisation because it depends on the
  outbound allowlist) refuses hosts that can never be fetched: non-public IP literals and
  internal names, judged without DNS.
"""

from __future__ import annotations

import ipaddress
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import SplitResult, unquote_plus, urlsplit

from platform_adapters.addresses import AddressClass, AddressPolicy
from tracker.reports.url_rules import (
    HOST_ALIASES,
    IDENTITY_PARAMETERS,
    PLATFORM_HOSTS,
    PLATFORM_TRACKING_PARAMETERS,
    TRACKING_PARAMETER_PREFIXES,
    TRACKING_PARAMETERS,
)

MAX_ECHO = 200

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_HOST_AND_PORT = re.compile(r"^[^/?#:@\s]+:\d+(?:[/?#]|$)")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?$")
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PERCENT_TRIPLET = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# RFC 3986 characters allowed raw in a path segment besides unreserved ones.
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
# Query parameters are split on "&" before normalising; "=" and "&" are kept as typed.
_QUERY_SAFE = _PATH_SAFE | frozenset("?")


class UrlRejected(ValueError):
    """A URL that cannot be logged; ``code`` is machine-readable, ``message`` names the problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CanonicalUrl:
    """A URL as typed and its canonical form; ``host`` is lower-case punycode without port."""

    original: str
    canonical: str
    host: str


def canonicalise(raw: str, *, max_length: int = 2048) -> CanonicalUrl:
    """Validate a typed URL and return its canonical form, or raise ``UrlRejected``."""
    text = (raw or "").strip()
    if not text:
        raise UrlRejected("url.empty", "the URL is empty")
    if len(text) > max_length:
        raise UrlRejected(
            "url.too_long", f"the URL is {len(text)} characters long; the limit is {max_length}"
        )
    if _CONTROL.search(text):
        raise UrlRejected("url.not_a_url", "the URL contains control characters or line breaks")
    parts = _split(text)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlRejected(
            "url.credentials_not_allowed", "the URL contains a user name or password; remove it"
        )
    scheme = parts.scheme.lower()
    host = _canonical_host(parts.netloc)
    port = _port(parts.netloc, scheme)
    if host.startswith("www.") and host[4:] in PLATFORM_HOSTS:
        host = host[4:]
    host = HOST_ALIASES.get(host, host)
    if host in PLATFORM_HOSTS:
        scheme = "https"
        port = None
    path = _normalise_path(parts.path)
    parameters = _parameters(parts.query)
    fragment = _normalise_percent(parts.fragment, _QUERY_SAFE)

    if host == "youtu.be" and path != "/":
        # A youtu.be short link names the video in its path; no network needed to expand it.
        video_id = path.lstrip("/").split("/", 1)[0]
        host, path = "youtube.com", "/watch"
        parameters = [("v", f"v={video_id}"), *parameters]
    if host == "x.com" and path == "/" and fragment.startswith("!/"):
        # Old twitter.com/#!/user/status/1 links route in the fragment.
        path, fragment = _normalise_path(fragment[1:]), ""

    # Parameters sorted by name (stable: a repeated name keeps its values' order), so two
    # spellings of one URL that differ only in parameter order are one report.
    kept = [
        text_value
        for key, text_value in sorted(parameters, key=lambda parameter: parameter[0])
        if _keeps(host, path, key, text_value)
    ]
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    canonical = f"{scheme}://{netloc}{path}"
    if kept:
        canonical += "?" + "&".join(kept)
    # Fragments are client-side; keep only those that look like routes of a single-page app, so
    # two different pieces of content on such a site are not taken for duplicates.
    if fragment.startswith(("!", "/")):
        canonical += "#" + fragment
    if len(canonical) > max_length:
        raise UrlRejected(
            "url.too_long",
            f"the URL is {len(canonical)} characters long once encoded; the limit is {max_length}",
        )
    return CanonicalUrl(original=raw, canonical=canonical, host=host)


def _split(text: str) -> SplitResult:
    """Split a URL, adding ``https://`` when the caseworker left the scheme out."""
    scheme_match = _SCHEME.match(text)
    has_scheme = scheme_match is not None and not _HOST_AND_PORT.match(text)
    if text.startswith("//"):
        text, has_scheme = "https:" + text, True
    elif not has_scheme:
        host_part = re.split(r"[/?#]", text, maxsplit=1)[0]
        if not host_part or any(character.isspace() for character in host_part):
            raise UrlRejected("url.not_a_url", "this does not look like a web address")
        if "." not in host_part and not host_part.startswith("["):
            raise UrlRejected(
                "url.not_a_url", "this does not look like a web address (no domain name)"
            )
        text = "https://" + text
    elif scheme_match is not None:
        scheme = scheme_match.group(1).lower()
        if scheme not in ("http", "https"):
            raise UrlRejected(
                "url.scheme_not_allowed",
                f"only http and https addresses can be tracked, not {scheme[:20]!r}",
            )
        if not text[scheme_match.end() :].startswith("//"):
            raise UrlRejected("url.not_a_url", f"expected '//' after '{scheme}:'")
    try:
        return urlsplit(text)
    except ValueError as error:
        # urlsplit refuses malformed IPv6 brackets.
        raise UrlRejected("url.host_invalid", "the host name is not valid") from error


def _canonical_host(netloc: str) -> str:
    """Lower-case, IDNA-encoded host of an authority, validated; raises ``UrlRejected``."""
    if netloc.startswith("["):
        closing = netloc.find("]")
        literal = netloc[1:closing] if closing > 0 else ""
        try:
            address = ipaddress.IPv6Address(literal)
        except ValueError as error:
            raise UrlRejected("url.host_invalid", "the IPv6 address is not valid") from error
        if address.scope_id:
            raise UrlRejected("url.host_invalid", "IPv6 zone identifiers are not allowed")
        return address.compressed
    host = netloc.rsplit(":", 1)[0] if ":" in netloc else netloc
    if not host:
        raise UrlRejected("url.host_invalid", "the URL has no host name")
    if any(character.isspace() for character in host) or "%" in host or "\\" in host:
        raise UrlRejected("url.host_invalid", "the host name contains spaces or invalid characters")
    host = host.lower()
    if host.endswith(".") and not host.endswith(".."):
        host = host[:-1]  # The root label: "example.test." is "example.test".
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise UrlRejected(
            "url.host_invalid", f"the host name {host[:MAX_ECHO]!r} is not valid"
        ) from error
    labels = encoded.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        # Browsers read a host ending in a number as an IPv4 address, in decimal, octal or hex
        # parts; only the unambiguous dotted-quad form is accepted.
        try:
            return str(ipaddress.IPv4Address(encoded))
        except ValueError as error:
            raise UrlRejected(
                "url.host_invalid", "numeric hosts must be a dotted IPv4 address like 192.0.2.1"
            ) from error
    if len(encoded) > 253 or not all(_LABEL.match(label) for label in labels):
        raise UrlRejected("url.host_invalid", f"the host name {host[:MAX_ECHO]!r} is not valid")
    for label in labels:
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError as error:
                raise UrlRejected(
                    "url.host_invalid", "the host name has an invalid punycode label"
                ) from error
    return encoded


def _port(netloc: str, scheme: str) -> int | None:
    """The explicit port, or None when absent or the scheme's default."""
    after_host = netloc[netloc.find("]") + 1 :] if netloc.startswith("[") else netloc
    if ":" not in after_host:
        return None
    text = after_host.rsplit(":", 1)[1]
    if text == "":
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UrlRejected("url.host_invalid", "the port must be a number from 1 to 65535")
    port = int(text)
    if (scheme, port) in (("http", 80), ("https", 443)):
        return None
    return port


def _normalise_percent(text: str, safe: frozenset[str]) -> str:
    """Upper-case escapes, decode unreserved characters, encode what may not appear raw."""
    output: list[str] = []
    index = 0
    while index < len(text):
        character = text[index]
        if character == "%" and _PERCENT_TRIPLET.match(text, index):
            decoded = chr(int(text[index + 1 : index + 3], 16))
            output.append(decoded if decoded in _UNRESERVED else text[index : index + 3].upper())
            index += 3
            continue
        if character in safe:
            output.append(character)
        else:
            output.append("".join(f"%{byte:02X}" for byte in character.encode("utf-8")))
        index += 1
    return "".join(output)


def _normalise_path(path: str) -> str:
    """Percent-normalised path without dot segments or trailing slash; empty becomes ``/``."""
    segments: list[str] = []
    for segment in _normalise_percent(path, _PATH_SAFE).split("/")[1:]:
        if segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    normalised = "/" + "/".join(segments)
    return normalised.rstrip("/") or "/"


def _parameters(query: str) -> list[tuple[str, str]]:
    """Query parameters in order as (decoded key, normalised ``key=value`` text)."""
    parameters: list[tuple[str, str]] = []
    for part in query.split("&"):
        if not part:
            continue
        text = _normalise_percent(part, _QUERY_SAFE)
        parameters.append((unquote_plus(text.split("=", 1)[0]), text))
    return parameters


def _keeps(host: str, path: str, key: str, text: str) -> bool:
    """Whether a query parameter is part of the content's identity."""
    identity = IDENTITY_PARAMETERS.get((host, path))
    if identity is not None:
        return key in identity
    lowered = key.lower()
    if lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PARAMETER_PREFIXES):
        return False
    platform_rule = PLATFORM_TRACKING_PARAMETERS.get(host, {})
    if key in platform_rule:
        values = platform_rule[key]
        value = unquote_plus(text.split("=", 1)[1]) if "=" in text else ""
        return values is not None and value not in values
    return True


#: How intake describes each reason a host can never be fetched.
_NOT_PUBLIC = {
    "metadata": "a cloud metadata service",
    "loopback": "a loopback address (this server itself)",
    "private": "a private network address",
    "link_local": "a link-local address",
    "cgnat": "a carrier-grade NAT address",
    "multicast": "a multicast address",
    "unspecified": "an unspecified address",
    "reserved": "a reserved or documentation address",
    "internal_name": "an internal host name",
    "no_address": "not an address",
}


@lru_cache(maxsize=8)
def _policy(allowlist: tuple[str, ...]) -> AddressPolicy:
    return AddressPolicy(allowlist)


def check_fetchable(host: str, *, allowlist: tuple[str, ...] = ()) -> None:
    """Raise ``UrlRejected`` if a canonical host can never be fetched (no DNS is asked).

    Non-public IP literals and internal names (``localhost``, ``*.internal``, single labels,
    ...) are refused unless the outbound allowlist admits them; metadata services always are.
    """
    found: AddressClass | None = _policy(allowlist).typed_host_refusal(host)
    if found is not None:
        raise UrlRejected(
            "url.not_public",
            f"{host[:MAX_ECHO]} is {_NOT_PUBLIC[found]}, not on the public internet: "
            "it can never be checked or reported",
        )
