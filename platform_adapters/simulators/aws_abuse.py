"""AWS Abuse Signal API, simulated over real HTTP on loopback.

Checks what the API reference (read 2026-11-23) documents: a valid SigV4 signature for service
``abuse`` in the simulator's region by a known access key (403 ``UnrecognizedClientException``,
``InvalidSignatureException`` or ``MissingAuthenticationTokenException`` otherwise; signatures
older than 15 minutes are refused); ``POST /v1/abuse`` with ``Content-Type: application/json``,
``clientToken`` and ``correlationId`` patterns, ``report`` holding exactly ``xarf``, and the XARF
v4 core fields (``xarf_version`` 4.x, ``report_id``, ``timestamp``, ``category``, ``type``,
``reporter``, ``sender``, ``source_identifier``; ``url`` for category ``content``); 400
``ValidationException`` otherwise. Answers 202 ``{"reportId", "correlationId"}``; the same
``clientToken`` within 24 h answers the existing id. ``GET /v1/abuse/{reportId}`` and
``GET /v1/abusestatuses?correlationId=&maxResults=`` as documented. Errors: REST-JSON,
``x-amzn-ErrorType`` header and ``{"message"}``.

Outcome by URL path: ``/deny-...`` completes as REVIEWED_NO_AWS_ACTION, ``/elsewhere-...`` as
NOT_RESOLVABLE_TO_AWS, anything else as ACTIONED; QUEUED until ``ack_after`` s, PROCESSING until
``decide_after`` s. Controls: ``POST /_sim/fail-next`` (see ``faults``) and ``GET /_sim/stats``
-> ``{"report_posts": n, "reports_per_url": {url: n}}`` (distinct reports).
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from platform_adapters.aws_sigv4 import (
    AUTHORIZATION_PATTERN,
    canonical_request,
    sha256_hex,
    signature,
)
from platform_adapters.simulators.faults import FailureQueue, add_fail_next_route
from platform_adapters.simulators.runner import LoopbackServer

DEFAULT_ACCESS_KEY_ID = "AKIAEXAMPLESIMULATOR"
DEFAULT_SECRET = "simulator/secret/EXAMPLEKEY"  # noqa: S105 - a loopback test default
CLIENT_TOKEN = re.compile(r"^[\x21-\x7E]{1,128}$")
CORRELATION_ID = re.compile(r"^[a-zA-Z0-9_-]{1,256}$")
REPORT_ID = re.compile(r"^[a-zA-Z0-9]{20,64}$")
XARF_REQUIRED = ("report_id", "timestamp", "category", "type", "reporter", "sender")
MAX_PAYLOAD = 5 * 1024 * 1024
SIGNATURE_MAX_AGE = timedelta(minutes=15)
FAILURE_TYPES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    409: "ConflictException",
    429: "ThrottlingException",
}


class AwsError(Exception):
    """An error answered in AWS REST-JSON form."""

    def __init__(self, status: int, error_type: str, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message, self.headers = (
            status,
            error_type,
            message,
            headers,
        )


@dataclass(frozen=True, slots=True)
class StoredReport:
    """One report the simulated service holds."""

    report_id: str
    correlation_id: str | None
    url: str
    submitted_at: float


class AbuseSignalState:
    """Reports by id and by client token, guarded by one lock."""

    def __init__(self, *, ack_after: float, decide_after: float) -> None:
        self.ack_after, self.decide_after = ack_after, decide_after
        self._lock = threading.Lock()
        self.reports: dict[str, StoredReport] = {}
        self._by_token: dict[str, tuple[str, float]] = {}
        self.report_posts = 0
        self.reports_per_url: Counter[str] = Counter()

    def create_or_get(
        self, token: str | None, correlation_id: str | None, url: str
    ) -> StoredReport:
        """The report for ``token`` if used in the last 24 h, else a new one."""
        now = time.time()
        with self._lock:
            self.report_posts += 1
            if token is not None and token in self._by_token:
                report_id, first_used = self._by_token[token]
                if now - first_used < 86400:
                    return self.reports[report_id]
            report = StoredReport(uuid.uuid4().hex, correlation_id, url, now)
            self.reports[report.report_id] = report
            self.reports_per_url[url] += 1
            if token is not None:
                self._by_token[token] = (report.report_id, now)
            return report

    def describe(self, report: StoredReport) -> dict[str, Any]:
        """The report as GetAbuseReportStatus shows it."""
        elapsed = time.time() - report.submitted_at
        body: dict[str, Any] = {
            "reportId": report.report_id,
            "status": "QUEUED",
            "description": "AWS has received your report and it is being queued for processing.",
            "submittedAt": report.submitted_at,
            "lastUpdatedAt": report.submitted_at,
        }
        if report.correlation_id:
            body["correlationId"] = report.correlation_id
        if elapsed >= self.ack_after:
            body |= {"status": "PROCESSING", "description": "AWS is processing your report."}
            body["lastUpdatedAt"] = report.submitted_at + self.ack_after
        if elapsed >= self.decide_after:
            path = report.url.split("://", 1)[-1].partition("/")[2]
            reason = "ACTIONED"
            if path.startswith("deny-"):
                reason = "REVIEWED_NO_AWS_ACTION"
            elif path.startswith("elsewhere-"):
                reason = "NOT_RESOLVABLE_TO_AWS"
            body |= {"status": "COMPLETED", "reasonCode": reason, "description": "Resolved."}
            body["lastUpdatedAt"] = report.submitted_at + self.decide_after
        return body


def verify_signature(request: Request, body: bytes, *, keys: dict[str, str], region: str) -> None:
    """Raise AwsError unless the request carries a valid, fresh SigV4 signature."""
    authorization = request.headers.get("authorization")
    if not authorization:
        raise AwsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    match = AUTHORIZATION_PATTERN.match(authorization)
    if match is None:
        raise AwsError(403, "IncompleteSignatureException", "Authorization header is malformed")
    secret = keys.get(match["key"])
    if secret is None:
        raise AwsError(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    amz_date = request.headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as error:
        raise AwsError(403, "IncompleteSignatureException", "X-Amz-Date is missing") from error
    if abs(datetime.now(UTC) - signed_at) > SIGNATURE_MAX_AGE:
        raise AwsError(403, "InvalidSignatureException", "Signature expired")
    names = match["headers"].split(";")
    if match["region"] != region or match["service"] != "abuse" or match["date"] != amz_date[:8]:
        raise AwsError(403, "InvalidSignatureException", "Credential should be scoped correctly")
    if "host" not in names or "x-amz-date" not in names or names != sorted(names):
        raise AwsError(
            403, "InvalidSignatureException", "SignedHeaders must include host and x-amz-date"
        )
    headers = {name: request.headers.get(name, "") for name in names}
    url = str(request.url)
    canonical = canonical_request(request.method, url, headers, names, sha256_hex(body))
    expected = signature(
        secret_access_key=secret,
        amz_date=amz_date,
        region=region,
        service="abuse",
        canonical=canonical,
    )
    if not hmac.compare_digest(expected, match["signature"]):
        raise AwsError(
            403,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )


def check_create(raw: object) -> tuple[str | None, str | None, str]:
    """(clientToken, correlationId, url) of a valid CreateAbuseReport body; AwsError if not."""
    if not isinstance(raw, dict) or set(raw) - {"clientToken", "correlationId", "report"}:
        raise AwsError(400, "ValidationException", "Unknown or malformed request fields")
    token, correlation_id, report = (
        raw.get("clientToken"),
        raw.get("correlationId"),
        raw.get("report"),
    )
    if token is not None and not (isinstance(token, str) and CLIENT_TOKEN.match(token)):
        raise AwsError(400, "ValidationException", "clientToken fails to satisfy its constraint")
    if correlation_id is not None and not (
        isinstance(correlation_id, str) and CORRELATION_ID.match(correlation_id)
    ):
        raise AwsError(400, "ValidationException", "correlationId fails to satisfy its constraint")
    if (
        not isinstance(report, dict)
        or list(report) != ["xarf"]
        or not isinstance(report["xarf"], dict)
    ):
        raise AwsError(400, "ValidationException", "report must set exactly one member: xarf")
    xarf = report["xarf"]
    missing = [name for name in XARF_REQUIRED if not xarf.get(name)]
    if not str(xarf.get("xarf_version", "")).startswith("4."):
        missing.insert(0, "xarf_version")
    if not xarf.get("source_identifier"):
        missing.append("source_identifier")
    for party in ("reporter", "sender"):
        value = xarf.get(party)
        if value and not (isinstance(value, dict) and value.get("org") and value.get("contact")):
            missing.append(f"{party}.org/contact")
    url = xarf.get("url")
    if xarf.get("category") == "content" and not (isinstance(url, str) and "://" in url):
        missing.append("url")
    if missing:
        raise AwsError(400, "ValidationException", f"XARF report invalid: {', '.join(missing)}")
    return token, correlation_id, str(url)


def create_app(
    *,
    access_key_id: str = DEFAULT_ACCESS_KEY_ID,
    secret_access_key: str = DEFAULT_SECRET,
    region: str = "us-east-1",
    ack_after: float = 0.1,
    decide_after: float = 0.3,
) -> FastAPI:
    """Build the simulated Abuse Signal API with fresh in-memory state."""
    state = AbuseSignalState(ack_after=ack_after, decide_after=decide_after)
    failures = FailureQueue()
    keys = {access_key_id: secret_access_key}
    app = FastAPI(title="AWS Abuse Signal API (simulated)")

    @app.exception_handler(AwsError)
    async def aws_error(_: Request, error: AwsError) -> JSONResponse:
        headers = {"x-amzn-ErrorType": error.error_type, **error.headers}
        return JSONResponse({"message": error.message}, status_code=error.status, headers=headers)

    async def guard(request: Request) -> bytes:
        failure = failures.take()
        if failure is not None:
            error_type = FAILURE_TYPES.get(failure.status, "InternalServerException")
            raise AwsError(
                failure.status, error_type, "injected failure", **failure.retry_after_header()
            )
        body = await request.body()
        verify_signature(request, body, keys=keys, region=region)
        return body

    @app.post("/v1/abuse")
    async def create_report(request: Request) -> JSONResponse:
        body = await guard(request)
        if len(body) > MAX_PAYLOAD:
            raise AwsError(413, "ValidationException", "payload exceeds 5 MB")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise AwsError(
                415, "UnsupportedMediaTypeException", "Content-Type must be application/json"
            )
        try:
            raw = json.loads(body)
        except ValueError as error:
            raise AwsError(400, "SerializationException", "body is not valid JSON") from error
        token, correlation_id, url = check_create(raw)
        report = state.create_or_get(token, correlation_id, url)
        answer: dict[str, Any] = {"reportId": report.report_id}
        if report.correlation_id:
            answer["correlationId"] = report.correlation_id
        return JSONResponse(answer, status_code=202)

    @app.get("/v1/abuse/{report_id}")
    async def get_status(report_id: str, request: Request) -> JSONResponse:
        await guard(request)
        if not REPORT_ID.match(report_id):
            raise AwsError(400, "ValidationException", "reportId fails to satisfy its constraint")
        report = state.reports.get(report_id)
        if report is None:
            raise AwsError(404, "ResourceNotFoundException", "Report not found")
        return JSONResponse(state.describe(report))

    @app.get("/v1/abusestatuses")
    async def list_statuses(request: Request) -> JSONResponse:
        await guard(request)
        correlation_id = request.query_params.get("correlationId")
        max_results = int(request.query_params.get("maxResults", "50"))
        if not 1 <= max_results <= 50:
            raise AwsError(400, "ValidationException", "maxResults must be 1-50")
        reports = sorted(state.reports.values(), key=lambda report: report.submitted_at)
        items = [
            {
                key: value
                for key, value in state.describe(report).items()
                if key not in ("submittedAt", "lastUpdatedAt")
            }
            for report in reports
            if correlation_id is None or report.correlation_id == correlation_id
        ]
        return JSONResponse({"reports": items[:max_results]})

    add_fail_next_route(app, failures)

    @app.get("/_sim/stats")
    def stats() -> dict[str, Any]:
        return {"report_posts": state.report_posts, "reports_per_url": dict(state.reports_per_url)}

    return app


class AwsAbuseServer(LoopbackServer):
    """The simulated Abuse Signal API on a loopback port."""

    def __init__(self, *, port: int = 0, **options: Any) -> None:
        super().__init__(create_app(**options), port=port, name="aws-abuse-simulator")
