"""AWS Abuse Signal API: XARF abuse reports about content hosted on AWS, with status polling.

Docs read 2026-11-23: https://docs.aws.amazon.com/abuse-signal/latest/APIReference/ (Create
AbuseReport, GetAbuseReportStatus, ListAbuseReportStatuses, ReportData, ReportStatusListItem),
the user guide (submitting-reports, report-format, quotas, regions-endpoints) and
https://docs.aws.amazon.com/general/latest/gr/abuse-signal.html.

Documented: ``POST /v1/abuse`` with JSON ``{"clientToken", "correlationId", "report": {"xarf":
{...}}}``; ``clientToken`` (``[\\x21-\\x7E]{1,128}``) makes a repeat within 24 h return the
existing report id; ``correlationId`` (``[a-zA-Z0-9-_]{1,256}``) is echoed and filters
``GET /v1/abusestatuses``; success is ``202 Accepted`` with a report id (``[a-zA-Z0-9]{20,64}``);
``GET /v1/abuse/{reportId}`` answers ``status`` QUEUED | PROCESSING | COMPLETED, ``reasonCode``
(ACTIONED | NOT_RESOLVABLE_TO_AWS | REVIEWED_NO_AWS_ACTION | CONTENT_DOWN_OR_INACCESSIBLE |
NEED_MORE_INFORMATION) once COMPLETED, ``description``, ``submittedAt``/``lastUpdatedAt``
(epoch numbers). SigV4 with signing name ``abuse`` at ``https://abuse.<region>.amazonaws.com``
(us-east-1, us-west-2, eu-west-2). Throttling is ``ThrottlingException`` (429) with
``Retry-After``. The XARF tag ``lifecycle:test`` marks a test report AWS does not process.

Assumed: the create answer's id field is named ``reportId`` (as in GetAbuseReportStatus); errors
follow AWS REST-JSON (``x-amzn-ErrorType`` header, ``{"message"}`` body); XARF v4 has no NCII
type, so the report goes as category ``content`` with a configurable ``type`` (default
``illegal``), with the laws named in ``description`` as the API reference asks.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import Field, SecretStr

from platform_adapters.aws_sigv4 import Credentials, sha256_hex, sign
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

SIGNING_SERVICE = "abuse"
CLIENT_TOKEN_PATTERN = re.compile(r"^[\x21-\x7E]{1,128}$")
REPORT_ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{20,64}$")
IN_PROGRESS = {"QUEUED": PlatformStatus.SUBMITTED, "PROCESSING": PlatformStatus.ACKNOWLEDGED}
# COMPLETED outcomes: "content down" means gone from AWS, which is what the victim needs.
REMOVED_REASONS = frozenset({"ACTIONED", "CONTENT_DOWN_OR_INACCESSIBLE"})


class AwsAbuseConfig(AdapterConfig):
    """An IAM identity allowed abuse:CreateAbuseReport and abuse:GetAbuseReportStatus."""

    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}-[a-z]+-\d$")
    # Unset: the Regional endpoint of ``region``; tests point it at the loopback simulator.
    api_base: str | None = None
    access_key_id: str = Field(min_length=16, max_length=128)
    secret_access_key: SecretStr
    session_token: SecretStr | None = None
    xarf_type: str = "illegal"
    # Adds the documented ``lifecycle:test`` tag: AWS validates but does not act on the report.
    is_test: bool = False
    timeout_seconds: float = Field(default=10, gt=0)

    @property
    def endpoint(self) -> str:
        """Where requests go."""
        return (self.api_base or f"https://abuse.{self.region}.amazonaws.com").rstrip("/")


class AwsAbuseAdapter(Adapter):
    """Files XARF reports through the AWS Abuse Signal API and polls their status."""

    slug: ClassVar[str] = "aws_abuse"
    channel_kind: ClassVar[ChannelKind] = ChannelKind.API
    config_model: ClassVar[type[AdapterConfig]] = AwsAbuseConfig
    can_poll: ClassVar[bool] = True

    config: AwsAbuseConfig

    @classmethod
    def config_from(cls, settings: Any, stored: Mapping[str, Any]) -> AdapterConfig:
        """Stored ``access_key_id``/``secret_access_key`` (only in the encrypted store)."""
        values: dict[str, Any] = {"timeout_seconds": settings.outbound_timeout_seconds}
        values.update(stored)
        missing = [name for name in ("access_key_id", "secret_access_key") if not values.get(name)]
        if missing:
            raise MissingCredentialsError(f"aws_abuse needs {' and '.join(missing)}")
        return AwsAbuseConfig.model_validate(values)

    def file(self, request: FilingRequest) -> FilingReceipt:
        """Create the report; AWS returns the same id for the same ``clientToken`` within 24 h."""
        correlation_id = _correlation_id(request.idempotency_key)
        body = {
            "clientToken": _client_token(request.idempotency_key),
            "correlationId": correlation_id,
            "report": {"xarf": self.xarf_report(request)},
        }
        response = self._send("POST", "/v1/abuse", body=body)
        if response.status_code == 409:
            # The token was used with other parameters (our XARF timestamp moves between
            # tries): the report exists, and the correlation id finds it.
            existing = self._find_by_correlation(correlation_id)
            if existing is not None:
                return _receipt(existing, datetime.now(UTC), http_status=409)
        if response.status_code not in (200, 201, 202):
            raise _error_for(response)
        answer = json_body(response, platform="aws_abuse")
        report_id = answer.get("reportId") if isinstance(answer, dict) else None
        if not isinstance(report_id, str) or not REPORT_ID_PATTERN.match(report_id):
            # The report may exist; retrying under the same clientToken is safe and finds it.
            raise TransientError("aws_abuse answered without a report id", http_status=202)
        submitted_at = utc_from_timestamp(answer.get("submittedAt"))
        return _receipt(report_id, submitted_at, http_status=response.status_code)

    def poll(self, external_ref: str) -> FilingStatus:
        """GetAbuseReportStatus, mapped onto the tracker's statuses."""
        response = self._send("GET", f"/v1/abuse/{quote(external_ref, safe='')}")
        if response.status_code != 200:
            raise _error_for(response)
        answer = json_body(response, platform="aws_abuse")
        answer = answer if isinstance(answer, dict) else {}
        status = str(answer.get("status"))
        reason_code = answer.get("reasonCode")
        description = answer.get("description")
        detail = str(description) if isinstance(description, str) else None
        if status in IN_PROGRESS:
            return FilingStatus(IN_PROGRESS[status], detail=detail, http_status=200)
        if status != "COMPLETED":
            return FilingStatus(PlatformStatus.UNKNOWN, detail=f"status {status}", http_status=200)
        detail = f"{reason_code}: {description}" if description else str(reason_code)
        outcome = (
            PlatformStatus.REMOVED if reason_code in REMOVED_REASONS else PlatformStatus.REJECTED
        )
        return FilingStatus(outcome, detail=detail, http_status=200)

    def xarf_report(self, request: FilingRequest) -> dict[str, Any]:
        """The XARF v4 report: the organisation reports; the affected person is never named."""
        organisation_domain = request.organisation_email.rpartition("@")[2]
        organisation = {
            "org": request.organisation_name,
            "contact": request.organisation_email,
            "domain": organisation_domain,
        }
        tags = ["ncii", "lifecycle:test"] if self.config.is_test else ["ncii"]
        description = (
            "Non-consensual intimate imagery: the person depicted did not consent to its "
            f"publication. Legal basis: {request.legal_basis}. Requested action: "
            f"{request.deadline_text}. Reference: {request.idempotency_key}."
        )
        return {
            "xarf_version": "4.0.0",
            # Derived from the key so every retry describes the same report.
            "report_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"ncii:{request.idempotency_key}")),
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "category": "content",
            "type": self.config.xarf_type,
            "reporter": organisation,
            "sender": organisation,
            "source_identifier": urlsplit(request.url).hostname or request.url,
            "url": request.url,
            "evidence_source": "user_report",
            "description": description,
            "tags": tags,
        }

    def _find_by_correlation(self, correlation_id: str) -> str | None:
        response = self._send(
            "GET", f"/v1/abusestatuses?correlationId={quote(correlation_id, safe='')}"
        )
        if response.status_code != 200:
            raise _error_for(response)
        answer = json_body(response, platform="aws_abuse")
        reports = answer.get("reports") if isinstance(answer, dict) else None
        for item in reports if isinstance(reports, list) else []:
            if isinstance(item, dict) and isinstance(item.get("reportId"), str):
                return str(item["reportId"])
        return None

    def _send(self, method: str, path: str, *, body: Any = None) -> httpx.Response:
        url = f"{self.config.endpoint}{path}"
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Accept": "application/json", "X-Amz-Content-Sha256": sha256_hex(content)}
        if body is not None:
            headers["Content-Type"] = "application/json"
        session_token = self.config.session_token
        credentials = Credentials(
            access_key_id=self.config.access_key_id,
            secret_access_key=self.config.secret_access_key.get_secret_value(),
            session_token=session_token.get_secret_value() if session_token else None,
        )
        signed = sign(
            method=method,
            url=url,
            headers=headers,
            body=content,
            credentials=credentials,
            region=self.config.region,
            service=SIGNING_SERVICE,
            now=datetime.now(UTC),
        )
        return send_request(
            method,
            url,
            platform="aws_abuse",
            timeout_seconds=self.config.timeout_seconds,
            headers=signed,
            content=content if body is not None else None,
        )


def _client_token(key: str) -> str:
    # Keys outside the documented alphabet or length are hashed, which stays deterministic.
    return key if CLIENT_TOKEN_PATTERN.match(key) else sha256_hex(key.encode())


def _correlation_id(key: str) -> str:
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "-", key)[:256]
    return cleaned or "filing"


def _receipt(report_id: str, submitted_at: datetime, *, http_status: int) -> FilingReceipt:
    return FilingReceipt(
        channel_kind=ChannelKind.API,
        external_ref=report_id,
        submitted_at=submitted_at,
        http_status=http_status,
    )


def _error_for(response: httpx.Response) -> Exception:
    status = response.status_code
    error_type = response.headers.get("x-amzn-ErrorType", "").split(":")[0] or "UnknownError"
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = ""
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("Message") or "")
    detail = f"{error_type}: {message}"[:ERROR_DETAIL_LIMIT]
    if status == 429 or status >= 500:
        return TransientError(
            f"aws_abuse answered {status}: {detail}",
            http_status=status,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if status in (401, 403):
        # Bad keys, a bad signature or a missing IAM permission: fix the identity, then retry.
        return InvalidCredentialsError(
            f"aws_abuse refused access ({status}): {detail}", http_status=status
        )
    return PermanentError(f"aws_abuse answered {status}: {detail}", http_status=status)
