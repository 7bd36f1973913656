"""Adapter for the sandbox platform (``platform_adapters.simulators.sandbox``), an API channel.

It is the reference for API adapters: idempotent POST under the filing's key, status polling,
a soft-404 rule in ``classify``, and every failure mapped onto the error taxonomy.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import Field, SecretStr

from platform_adapters.base import (
    Adapter,
    AdapterConfig,
    ChannelKind,
    FetchedPage,
    FilingReceipt,
    FilingRequest,
    FilingStatus,
    InvalidCredentialsError,
    PermanentError,
    PlatformStatus,
    TransientError,
    Verdict,
)

SUPPORTED_RUNGS = frozenset({"platform", "grievance_officer"})
SOFT_REMOVED_TITLE = "this content isn't available"
TITLE_PATTERN = re.compile(r"<title[^>]*>(?P<title>.*?)</title>", re.IGNORECASE | re.DOTALL)
ERROR_DETAIL_LIMIT = 300


class SandboxConfig(AdapterConfig):
    """Where the sandbox platform is and the API token to use there."""

    base_url: str
    api_token: SecretStr
    timeout_seconds: float = Field(default=10, gt=0)


class SandboxAdapter(Adapter):
    """Files reports through the sandbox platform's reporting API and polls their status."""

    slug: ClassVar[str] = "sandbox"
    channel_kind: ClassVar[ChannelKind] = ChannelKind.API
    config_model: ClassVar[type[AdapterConfig]] = SandboxConfig
    can_poll: ClassVar[bool] = True

    config: SandboxConfig

    @classmethod
    def config_from(cls, settings: Any, stored: Mapping[str, Any]) -> AdapterConfig:
        """Base URL and token from settings, overridden by stored credentials."""
        values: dict[str, Any] = {
            "base_url": settings.sandbox_base_url,
            "api_token": settings.sandbox_api_token,
            "timeout_seconds": settings.outbound_timeout_seconds,
        }
        values.update(stored)
        return SandboxConfig.model_validate(values)

    def file(self, request: FilingRequest) -> FilingReceipt:
        """Post one report; the platform deduplicates on ``request.idempotency_key``."""
        if request.rung_target not in SUPPORTED_RUNGS:
            raise PermanentError(f"the sandbox has no {request.rung_target!r} channel")
        payload = {
            "url": request.url,
            "reason": request.reason,
            "channel": request.rung_target,
            "reporter": {
                "organisation": request.organisation_name,
                "email": request.organisation_email,
            },
            "legal_basis": request.legal_basis,
        }
        headers = {"Idempotency-Key": request.idempotency_key}
        response = self._send("POST", "/api/v1/reports", json=payload, headers=headers)
        if response.status_code not in (200, 201):
            raise _error_for(response)
        body = _json_object(response)
        report_id = body.get("id")
        if not isinstance(report_id, str) or not report_id:
            # The report may exist; retrying under the same key is safe and finds it.
            raise TransientError("sandbox answered without a report id", http_status=200)
        return FilingReceipt(
            channel_kind=ChannelKind.API,
            external_ref=report_id,
            submitted_at=_parse_timestamp(body.get("created_at")),
            http_status=response.status_code,
        )

    def poll(self, external_ref: str) -> FilingStatus:
        """Ask the sandbox for one report's status."""
        response = self._send("GET", f"/api/v1/reports/{quote(external_ref, safe='')}")
        if response.status_code != 200:
            raise _error_for(response)
        body = _json_object(response)
        try:
            status = PlatformStatus(str(body.get("status")))
        except ValueError:
            status = PlatformStatus.UNKNOWN
        rejection_reason = body.get("rejection_reason")
        return FilingStatus(
            status=status,
            detail=rejection_reason if isinstance(rejection_reason, str) else None,
            http_status=response.status_code,
        )

    def classify(self, page: FetchedPage) -> Verdict | None:
        """A sandbox page titled "This content isn't available" is a soft 404: removed."""
        page_origin = _origin(page.final_url or page.url)
        if not page_origin[0] or page_origin != _origin(self.config.base_url):
            return None
        match = TITLE_PATTERN.search(page.body_prefix)
        if match is None:
            return None
        title = " ".join(html.unescape(match.group("title")).split()).lower()
        # Some pages use a typographic apostrophe; treat it like the plain one.
        if title.replace("\u2019", "'") == SOFT_REMOVED_TITLE:
            return Verdict.REMOVED
        return None

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = {
            "Authorization": f"Bearer {self.config.api_token.get_secret_value()}",
            "Accept": "application/json",
            **(headers or {}),
        }
        # No transport retries: a POST is retried only by the filing task, under its key.
        timeout = httpx.Timeout(self.config.timeout_seconds)
        transport = httpx.HTTPTransport(retries=0)
        try:
            with httpx.Client(
                base_url=self.config.base_url,
                timeout=timeout,
                transport=transport,
                follow_redirects=False,
            ) as client:
                return client.request(method, path, json=json, headers=all_headers)
        except httpx.TimeoutException as error:
            raise TransientError(f"sandbox timed out ({type(error).__name__})") from error
        except httpx.HTTPError as error:
            raise TransientError(f"sandbox unreachable ({type(error).__name__})") from error


def _error_for(response: httpx.Response) -> Exception:
    status = response.status_code
    detail = _error_detail(response)
    if status == 429 or status >= 500:
        return TransientError(
            f"sandbox answered {status}: {detail}",
            http_status=status,
            retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
        )
    if status in (401, 403):
        # base.py: the platform rejecting our credentials means disable the channel and alert.
        return InvalidCredentialsError(
            f"sandbox refused the API token ({status})", http_status=status
        )
    return PermanentError(f"sandbox answered {status}: {detail}", http_status=status)


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no detail"
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        parts = [
            f"{'.'.join(map(str, item.get('loc', [])))}: {item.get('msg', '')}"
            for item in detail
            if isinstance(item, dict)
        ]
        return "; ".join(parts)[:ERROR_DETAIL_LIMIT]
    return str(detail)[:ERROR_DETAIL_LIMIT]


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise TransientError(
            "sandbox answered with a body that is not JSON", http_status=response.status_code
        ) from error
    if not isinstance(body, dict):
        raise TransientError(
            "sandbox answered with unexpected JSON", http_status=response.status_code
        )
    return body


def _parse_timestamp(value: object) -> datetime:
    """The platform's receipt time in UTC; now if it sent none we can read."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(UTC)
    return datetime.now(UTC)


def _origin(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return ("", None)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    return ((parts.hostname or "").lower(), port or default_port)
