"""AWS Signature Version 4 request signing with the standard library (hmac, hashlib).

Follows "Create a signed AWS API request" (docs.aws.amazon.com/IAM/latest/UserGuide/
create-signed-request.html, read 2026-11-23) and is tested against AWS's published
``get-vanilla`` vector. Header signing only: no presigned URLs, no SigV4a, no S3 special cases
(the Abuse Signal API is a plain REST JSON service; its global endpoint needs SigV4a, so the
adapter uses a Regional endpoint).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
AUTHORIZATION_PATTERN = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request, ?SignedHeaders=(?P<headers>[a-z0-9;_-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
UNRESERVED = "-_.~"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access key pair, with the session token of temporary credentials."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def canonical_uri(path: str) -> str:
    """The path with each segment URI-encoded (again), as non-S3 services expect."""
    return "/".join(quote(segment, safe=UNRESERVED) for segment in (path or "/").split("/"))


def canonical_query(query: str) -> str:
    """Query parameters encoded and sorted by name, then value."""
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = sorted(
        (quote(name, safe=UNRESERVED), quote(value, safe=UNRESERVED)) for name, value in pairs
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_request(
    method: str, url: str, headers: Mapping[str, str], signed_headers: list[str], payload_hash: str
) -> str:
    """The canonical request string for the given signed header names (lower case, sorted)."""
    parts = urlsplit(url)
    lowered = {name.lower(): value for name, value in headers.items()}
    header_lines = "".join(f"{name}:{' '.join(lowered[name].split())}\n" for name in signed_headers)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(parts.path),
            canonical_query(parts.query),
            header_lines,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """The derived key: HMAC chain over date, region, service and ``aws4_request``."""
    key = f"AWS4{secret_access_key}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(
    *,
    secret_access_key: str,
    amz_date: str,
    region: str,
    service: str,
    canonical: str,
) -> str:
    """The hex signature of a canonical request."""
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    string_to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{sha256_hex(canonical.encode())}"
    key = signing_key(secret_access_key, amz_date[:8], region, service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def host_header(url: str) -> str:
    """The Host header value for ``url`` (the port only when it is not the default)."""
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return host if parts.port in (None, default_port) else f"{host}:{parts.port}"


def sign(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """``headers`` plus Host, X-Amz-Date, the session token if any, and Authorization."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    signed = {name: value for name, value in headers.items() if name.lower() != "authorization"}
    signed["Host"] = host_header(url)
    signed["X-Amz-Date"] = amz_date
    if credentials.session_token:
        signed["X-Amz-Security-Token"] = credentials.session_token
    names = sorted(name.lower() for name in signed)
    canonical = canonical_request(method, url, signed, names, sha256_hex(body))
    value = signature(
        secret_access_key=credentials.secret_access_key,
        amz_date=amz_date,
        region=region,
        service=service,
        canonical=canonical,
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    signed["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={value}"
    )
    return signed
