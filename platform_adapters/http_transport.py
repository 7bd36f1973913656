"""One outbound HTTP request for an API adapter: explicit timeouts, no transport retries.

A POST is retried only by the filing task under its idempotency key (STYLE.md rule 13), so the
transport never retries; network trouble becomes ``TransientError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from platform_adapters.base import TransientError

ERROR_DETAIL_LIMIT = 300


def send_request(
    method: str,
    url: str,
    *,
    platform: str,
    timeout_seconds: float,
    headers: Mapping[str, str] | None = None,
    params: Any = None,
    content: bytes | None = None,
    data: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
) -> httpx.Response:
    """Send one request; ``TransientError`` (naming ``platform``) on timeouts and network errors."""
    transport = httpx.HTTPTransport(retries=0)
    try:
        with httpx.Client(
            timeout=httpx.Timeout(timeout_seconds), transport=transport, follow_redirects=False
        ) as client:
            return client.request(
                method, url, headers=headers, params=params, content=content, data=data, auth=auth
            )
    except httpx.TimeoutException as error:
        raise TransientError(f"{platform} timed out ({type(error).__name__})") from error
    except httpx.HTTPError as error:
        raise TransientError(f"{platform} unreachable ({type(error).__name__})") from error


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def json_body(response: httpx.Response, *, platform: str) -> Any:
    """The parsed JSON body; a body that is not JSON is transient (a proxy page, a cut answer)."""
    try:
        return response.json()
    except ValueError as error:
        raise TransientError(
            f"{platform} answered with a body that is not JSON", http_status=response.status_code
        ) from error


def utc_from_timestamp(value: object) -> datetime:
    """A UTC time from an ISO 8601 string or epoch seconds; now when it cannot be read."""
    if isinstance(value, bool):
        return datetime.now(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return datetime.now(UTC)
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
    return datetime.now(UTC)
