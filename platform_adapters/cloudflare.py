"""Cloudflare (CDN) abuse reports for non-consensual sexually explicit imagery (``abuse_ncsei``).

API doc read 2026-11-23: https://developers.cloudflare.com/api/resources/abuse_reports/ (submit,
``/submitted`` list and get). Documented there: ``POST /accounts/{account_id}/abuse-reports/
{report_param}``, Bearer token, the account needs the abuse-reports entitlement (401 without);
NCSEI body fields ``act, email, email2, name, urls`` (newline-separated, at most 250, one
hostname, unique), ``host_notification`` (send | send-anon), ``owner_notification``
(send | send-anon | none), ``ncsei_subject_representation`` (bool), optional ``comments``
(<= 2000), ``company``, ``title``...; the answer's ``result`` is the string ``"success"`` and
carries no report id. ``GET .../abuse-reports/submitted`` filters by ``created_after``,
``domain``, ``type`` (``NCSEI``), ``page``/``per_page`` (<= 200) and lists
``{id, cdate, denial_reason, domain, status, type, submitter}`` with status submitted | accepted
| denied; ``GET .../submitted/{report_id}`` gives one report. Errors use the v4 envelope
``{"success": false, "errors": [{"code", "message"}], ...}``. ``agree`` is a DMCA-only field.

Assumed (not in the docs): the single-report answer lists the report's ``urls`` (the list does
not), so the id is recovered by reading candidates one by one; ``domain`` is the URL's hostname;
Cloudflare has no idempotency key, so a repeat is found by searching the last 24 h of reports.

Report id recovery: the create answer has no id, so after the POST the adapter lists reports
created since just before it and matches the URL. When the listing does not show it yet, the
receipt's reference is ``pending:<idempotency_key>:<url>`` and ``poll`` resolves it later (the
URL rides along because an adapter keeps no state between calls).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import Field, SecretStr

from platform_adapters.base import (
    Adapter,
    AdapterConfig,
    ChannelKind,
    FilingReceipt,
    FilingRequest,
    FilingStatus,
    InvalidCredentialsError,
    MissingCredentialsError,
    PermanentError,
    PlatformStatus,
    TransientError,
)
from platform_adapters.http_transport import (
    ERROR_DETAIL_LIMIT,
    json_body,
    retry_after_seconds,
    send_request,
    utc_from_timestamp,
)

MAX_URLS_PER_REPORT = 250
REPORT_TYPE = "abuse_ncsei"
LIST_TYPE = "NCSEI"
PENDING_PREFIX = "pending:"
REPEAT_WINDOW = timedelta(hours=24)
# Pending references are resolved against this much history.
PENDING_WINDOW = timedelta(days=30)
# Clock skew allowance between us and Cloudflare for "created after the POST".
CLOCK_SKEW = timedelta(seconds=30)
PAGE_SIZE = 200
MAX_PAGES = 5
STATUS_MAP = {
    "submitted": PlatformStatus.SUBMITTED,
    "accepted": PlatformStatus.ACKNOWLEDGED,
    "denied": PlatformStatus.REJECTED,
}

Resolver = Callable[[str], Sequence[str]]


class CloudflareConfig(AdapterConfig):
    """Cloudflare account, API token (Abuse Reports edit permission) and reporter identity."""

    api_base: str = "https://api.cloudflare.com/client/v4"
    account_id: str = Field(min_length=1, max_length=32)
    api_token: SecretStr
    # The organisation's name and e-mail go out when these are unset (never the victim's).
    reporter_name: str | None = Field(default=None, max_length=255)
    reporter_email: str | None = None
    timeout_seconds: float = Field(default=10, gt=0)
    verify_served_by_cloudflare: bool = True


def batch_urls(urls: Iterable[str]) -> list[list[str]]:
    """Unique URLs grouped per hostname, at most 250 per group, in first-seen order."""
    by_host: dict[str, list[str]] = {}
    for url in dict.fromkeys(urls):
        by_host.setdefault((urlsplit(url).hostname or "").lower(), []).append(url)
    return [
        group[start : start + MAX_URLS_PER_REPORT]
        for group in by_host.values()
        for start in range(0, len(group), MAX_URLS_PER_REPORT)
    ]


def cloudflare_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Cloudflare's published IP ranges, from ``data/cloudflare-ips.txt``."""
    text = resources.files("platform_adapters").joinpath("data/cloudflare-ips.txt").read_text()
    lines = (line.strip() for line in text.splitlines())
    return [ipaddress.ip_network(line) for line in lines if line and not line.startswith("#")]


def system_resolver(host: str) -> list[str]:
    """The host's addresses as the system resolver sees them."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


def is_served_by_cloudflare(host: str, resolver: Resolver = system_resolver) -> bool:
    """Whether every address ``host`` resolves to lies in Cloudflare's published ranges."""
    try:
        addresses = [ipaddress.ip_address(address) for address in resolver(host)]
    except OSError as error:
        raise TransientError(f"could not resolve {host} ({type(error).__name__})") from error
    networks = cloudflare_networks()
    return bool(addresses) and all(
        any(address in network for network in networks) for address in addresses
    )


class CloudflareAdapter(Adapter):
    """Files NCSEI abuse reports with Cloudflare and polls their submitter-facing status."""

    slug: ClassVar[str] = "cloudflare"
    channel_kind: ClassVar[ChannelKind] = ChannelKind.API
    config_model: ClassVar[type[AdapterConfig]] = CloudflareConfig
    can_poll: ClassVar[bool] = True

    config: CloudflareConfig

    def __init__(self, config: AdapterConfig, *, resolver: Resolver = system_resolver) -> None:
        super().__init__(config)
        self.resolver = resolver

    @classmethod
    def config_from(cls, settings: Any, stored: Mapping[str, Any]) -> AdapterConfig:
        """Stored ``account_id``/``api_token`` (credentials live only in the encrypted store)."""
        values: dict[str, Any] = {"timeout_seconds": settings.outbound_timeout_seconds}
        values.update(stored)
        missing = [name for name in ("account_id", "api_token") if not values.get(name)]
        if missing:
            raise MissingCredentialsError(f"cloudflare needs {' and '.join(missing)}")
        return CloudflareConfig.model_validate(values)

    def file(self, request: FilingRequest) -> FilingReceipt:
        """File one NCSEI report for one hostname's URLs; a repeat finds the earlier report."""
        urls = _urls_of(request)
        batches = batch_urls(urls)
        if len(batches) != 1:
            # One filing is one report: the filing service splits with batch_urls() first.
            raise PermanentError(f"cloudflare files one host's <= 250 URLs; got {len(batches)}")
        urls = batches[0]
        host = (urlsplit(urls[0]).hostname or "").lower()
        if self._should_verify(request) and not is_served_by_cloudflare(host, self.resolver):
            raise PermanentError("not served by Cloudflare")
        earlier = self._find_report(urls, host, since=datetime.now(UTC) - REPEAT_WINDOW)
        if earlier is not None:
            return _receipt(earlier[0], earlier[1], http_status=200)
        posted_at = datetime.now(UTC)
        response = self._request(
            "POST", f"/abuse-reports/{REPORT_TYPE}", json=self._body(request, urls)
        )
        if response.status_code != 200:
            raise _error_for(response)
        body = json_body(response, platform="cloudflare")
        if not isinstance(body, dict) or body.get("success") is not True:
            raise PermanentError(
                f"cloudflare refused the report: {_messages(body)}", http_status=200
            )
        found = self._find_report(urls, host, since=posted_at - CLOCK_SKEW)
        if found is None:
            pending = f"{PENDING_PREFIX}{request.idempotency_key}:{urls[0]}"
            return _receipt(pending, posted_at, http_status=200)
        return _receipt(found[0], found[1], http_status=200)

    def poll(self, external_ref: str) -> FilingStatus:
        """The report's submitter-facing status; a pending reference is resolved first."""
        report_id = external_ref
        if external_ref.startswith(PENDING_PREFIX):
            _, _, url = external_ref[len(PENDING_PREFIX) :].partition(":")
            host = (urlsplit(url).hostname or "").lower()
            found = self._find_report([url], host, since=datetime.now(UTC) - PENDING_WINDOW)
            if found is None:
                return FilingStatus(PlatformStatus.SUBMITTED, detail="report code not listed yet")
            report_id = found[0]
        response = self._request("GET", f"/abuse-reports/submitted/{quote(report_id, safe='')}")
        if response.status_code != 200:
            raise _error_for(response)
        report = _result(response)
        status = STATUS_MAP.get(str(report.get("status")), PlatformStatus.UNKNOWN)
        denial_reason = report.get("denial_reason")
        detail = denial_reason if isinstance(denial_reason, str) else None
        if status is PlatformStatus.REJECTED and denial_reason == "content_removed":
            # Denied because the content is already gone: for the tracker that is removal.
            status = PlatformStatus.REMOVED
        if report_id != external_ref:
            detail = f"report {report_id}" + (f": {detail}" if detail else "")
        return FilingStatus(status=status, detail=detail, http_status=200)

    def _should_verify(self, request: FilingRequest) -> bool:
        skip = bool(request.channel_params.get("skip_network_check"))
        return self.config.verify_served_by_cloudflare and not skip

    def _body(self, request: FilingRequest, urls: list[str]) -> dict[str, Any]:
        email = self.config.reporter_email or request.organisation_email
        comments = (
            f"Non-consensual intimate imagery reported on behalf of the person depicted. "
            f"Legal basis: {request.legal_basis}. Reference: {request.idempotency_key}."
        )
        return {
            "act": REPORT_TYPE,
            "name": self.config.reporter_name or request.organisation_name,
            "email": email,
            "email2": email,
            "urls": "\n".join(urls),
            # Anonymous notices: the host and site owner never learn who reported.
            "host_notification": "send-anon",
            "owner_notification": "send-anon",
            # The organisation files, not the person depicted.
            "ncsei_subject_representation": False,
            "company": request.organisation_name[:100],
            "comments": comments[:2000],
        }

    def _find_report(
        self, urls: list[str], host: str, *, since: datetime
    ) -> tuple[str, datetime] | None:
        """The newest NCSEI report since ``since`` whose URLs include all of ``urls``."""
        wanted = set(urls)
        for page in range(1, MAX_PAGES + 1):
            params = {
                "created_after": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "domain": host,
                "type": LIST_TYPE,
                "page": page,
                "per_page": PAGE_SIZE,
            }
            response = self._request("GET", "/abuse-reports/submitted", params=params)
            if response.status_code != 200:
                raise _error_for(response)
            body = json_body(response, platform="cloudflare")
            reports = _result_of(body).get("reports")
            for summary in reports if isinstance(reports, list) else []:
                report_id = summary.get("id") if isinstance(summary, dict) else None
                if isinstance(report_id, str) and wanted <= self._report_urls(report_id):
                    return report_id, utc_from_timestamp(summary.get("cdate"))
            info = body.get("result_info") if isinstance(body, dict) else None
            total_pages = info.get("total_pages", 1) if isinstance(info, dict) else 1
            if not isinstance(total_pages, int) or page >= total_pages:
                return None
        return None

    def _report_urls(self, report_id: str) -> set[str]:
        response = self._request("GET", f"/abuse-reports/submitted/{quote(report_id, safe='')}")
        if response.status_code != 200:
            raise _error_for(response)
        urls = _result(response).get("urls")
        return {url for url in urls if isinstance(url, str)} if isinstance(urls, list) else set()

    def _request(
        self, method: str, path: str, *, json: Any = None, params: Any = None
    ) -> httpx.Response:
        account = quote(self.config.account_id, safe="")
        url = f"{self.config.api_base.rstrip('/')}/accounts/{account}{path}"
        headers = {
            "Authorization": f"Bearer {self.config.api_token.get_secret_value()}",
            "Accept": "application/json",
        }
        content = None
        if json is not None:
            content = httpx.Request("POST", url, json=json).content
            headers["Content-Type"] = "application/json"
        return send_request(
            method,
            url,
            platform="cloudflare",
            timeout_seconds=self.config.timeout_seconds,
            headers=headers,
            params=params,
            content=content,
        )


def _urls_of(request: FilingRequest) -> list[str]:
    batch = request.channel_params.get("urls")
    if batch is None:
        return [request.url]
    if not isinstance(batch, list | tuple) or not all(isinstance(url, str) for url in batch):
        raise PermanentError("channel parameter 'urls' must be a list of URLs")
    return list(batch) or [request.url]


def _receipt(reference: str, submitted_at: datetime, *, http_status: int) -> FilingReceipt:
    return FilingReceipt(
        channel_kind=ChannelKind.API,
        external_ref=reference,
        submitted_at=submitted_at,
        http_status=http_status,
    )


def _result(response: httpx.Response) -> dict[str, Any]:
    return _result_of(json_body(response, platform="cloudflare"))


def _result_of(body: object) -> dict[str, Any]:
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, dict):
        raise TransientError("cloudflare answered without a result", http_status=200)
    return result


def _messages(body: object) -> str:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return "no detail"
    parts = [
        f"{item.get('message', '')} ({item.get('code')})"
        if item.get("code")
        else str(item.get("message", ""))
        for item in errors
        if isinstance(item, dict)
    ]
    return "; ".join(parts)[:ERROR_DETAIL_LIMIT]


def _error_for(response: httpx.Response) -> Exception:
    status = response.status_code
    try:
        detail = _messages(response.json())
    except ValueError:
        detail = response.reason_phrase or "no detail"
    if status == 429 or status >= 500:
        return TransientError(
            f"cloudflare answered {status}: {detail}",
            http_status=status,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if status in (401, 403):
        # 401: the account lacks the abuse-reports entitlement; 403: the token is refused.
        return InvalidCredentialsError(
            f"cloudflare refused access ({status}): {detail}", http_status=status
        )
    return PermanentError(f"cloudflare answered {status}: {detail}", http_status=status)
