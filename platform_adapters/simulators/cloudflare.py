"""Cloudflare abuse-reports API (NCSEI only), simulated over real HTTP on loopback.

It checks requests the way Cloudflare's API reference (read 2026-11-23) documents them, under
``/client/v4``: ``Authorization: Bearer <token>`` (403 ``Authentication error`` otherwise), an
entitled account (401 otherwise), ``POST /accounts/{account_id}/abuse-reports/abuse_ncsei`` with
``Content-Type: application/json`` and the NCSEI fields (``act`` equal to the path's type,
``email2 == email``, notification enums, boolean ``ncsei_subject_representation``, ``urls``
newline-separated, 1-250, unique, one hostname, http(s)); answers ``{"success": true, "errors":
[], "messages": [], "result": "success"}``. ``GET .../abuse-reports/submitted`` (filters
``created_after``, ``domain``, ``type``, ``status``, ``page``, ``per_page`` <= 200) and
``GET .../abuse-reports/submitted/{id}``. Errors use the v4 envelope; error codes are invented.

Report outcome by URL path: ``/deny-...`` is denied (``no_abuse_found``), ``/gone-...`` denied
as ``content_removed``, anything else accepted; the decision comes ``decide_after`` seconds after
filing. ``listing_delay`` hides new reports from the ``submitted`` endpoints for that long, as an
eventually consistent listing would. Controls: ``POST /_sim/fail-next`` (see ``faults``),
``GET /_sim/stats`` -> ``{"report_posts": n, "reports_per_url": {url: n}}``.
"""

from __future__ import annotations

import hmac
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from platform_adapters.simulators.faults import FailureQueue, add_fail_next_route
from platform_adapters.simulators.runner import LoopbackServer

DEFAULT_TOKEN = "cloudflare-test-token"  # noqa: S105 - a loopback test default, not a secret
DEFAULT_ACCOUNT = "0123456789abcdef0123456789abcdef"
MAX_URLS = 250


class NcseiReport(BaseModel):
    """The documented NCSEI body (``AbuseNcsei``)."""

    model_config = ConfigDict(extra="forbid")

    act: Literal["abuse_ncsei"]
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    email2: str
    name: str = Field(min_length=1, max_length=255)
    urls: str = Field(min_length=1)
    host_notification: Literal["send", "send-anon"]
    owner_notification: Literal["send", "send-anon", "none"]
    ncsei_subject_representation: StrictBool
    comments: str | None = Field(default=None, max_length=2000)
    company: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=255)
    reported_country: str | None = Field(default=None, min_length=2, max_length=2)
    reported_user_agent: str | None = Field(default=None, max_length=255)
    tele: str | None = Field(default=None, max_length=20)
    title: str | None = Field(default=None, max_length=255)


@dataclass(frozen=True, slots=True)
class StoredReport:
    """One NCSEI report the simulated Cloudflare holds."""

    id: str
    urls: tuple[str, ...]
    domain: str
    created_at: datetime
    body: dict[str, Any]


class CloudflareState:
    """Reports and counters, guarded by one lock."""

    def __init__(self, *, decide_after: float, listing_delay: float) -> None:
        self.decide_after = timedelta(seconds=decide_after)
        self.listing_delay = timedelta(seconds=listing_delay)
        self._lock = threading.Lock()
        self._reports: dict[str, StoredReport] = {}
        self.report_posts = 0
        self.reports_per_url: Counter[str] = Counter()

    def add(self, body: dict[str, Any], urls: list[str]) -> StoredReport:
        """Store a new report."""
        report = StoredReport(
            id=uuid.uuid4().hex[:16],
            urls=tuple(urls),
            domain=(urlsplit(urls[0]).hostname or "").lower(),
            created_at=datetime.now(UTC),
            body=body,
        )
        with self._lock:
            self._reports[report.id] = report
            self.reports_per_url.update(urls)
        return report

    def listed(self) -> list[StoredReport]:
        """Reports old enough to show in the listing, newest first."""
        cutoff = datetime.now(UTC) - self.listing_delay
        with self._lock:
            reports = list(self._reports.values())
        return sorted(
            (report for report in reports if report.created_at <= cutoff),
            key=lambda report: report.created_at,
            reverse=True,
        )

    def describe(self, report: StoredReport) -> dict[str, Any]:
        """The report as the ``submitted`` endpoints show it."""
        status, denial_reason = "submitted", None
        if datetime.now(UTC) - report.created_at >= self.decide_after:
            paths = [urlsplit(url).path for url in report.urls]
            if any(path.startswith("/deny-") for path in paths):
                status, denial_reason = "denied", "no_abuse_found"
            elif any(path.startswith("/gone-") for path in paths):
                status, denial_reason = "denied", "content_removed"
            else:
                status = "accepted"
        return {
            "id": report.id,
            "cdate": report.created_at.isoformat().replace("+00:00", "Z"),
            "denial_reason": denial_reason,
            "domain": report.domain,
            "status": status,
            "type": "NCSEI",
            "submitter": {"name": report.body["name"], "email": report.body["email"]},
        }


def envelope_error(status: int, code: int, message: str, **headers: str) -> JSONResponse:
    """Cloudflare's v4 error envelope."""
    body = {"success": False, "errors": [{"code": code, "message": message}], "messages": []}
    return JSONResponse(body | {"result": None}, status_code=status, headers=headers)


class EnvelopeError(Exception):
    """Raised by request checks; answered in the v4 envelope."""

    def __init__(self, status: int, code: int, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.response = envelope_error(status, code, message, **headers)


def check_urls(urls_field: str) -> list[str]:
    """The report's URLs, checked as documented; ValueError names the rule broken."""
    urls = [line.strip() for line in urls_field.split("\n") if line.strip()]
    if not 1 <= len(urls) <= MAX_URLS:
        raise ValueError(f"urls must list 1 to {MAX_URLS} URLs")
    if len(set(urls)) != len(urls):
        raise ValueError("each URL must be unique")
    parts = [urlsplit(url) for url in urls]
    if any(part.scheme not in ("http", "https") or not part.hostname for part in parts):
        raise ValueError("urls must be valid http(s) URLs")
    if len({part.hostname.lower() for part in parts if part.hostname}) != 1:
        raise ValueError("all URLs must have the same hostname")
    return urls


def create_app(
    *,
    api_token: str = DEFAULT_TOKEN,
    account_id: str = DEFAULT_ACCOUNT,
    decide_after: float = 0.3,
    listing_delay: float = 0.0,
) -> FastAPI:
    """Build the simulated Cloudflare API with fresh in-memory state."""
    state = CloudflareState(decide_after=decide_after, listing_delay=listing_delay)
    failures = FailureQueue()
    app = FastAPI(title="Cloudflare abuse reports (simulated)")
    app.state.cloudflare = state

    @app.exception_handler(EnvelopeError)
    async def envelope_handler(_: Request, error: EnvelopeError) -> JSONResponse:
        return error.response

    def guard(request: Request) -> None:
        failure = failures.take()
        if failure is not None:
            headers = failure.retry_after_header()
            raise EnvelopeError(failure.status, 10000 + failure.status, "injected failure", headers)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.encode(), api_token.encode()
        ):
            raise EnvelopeError(403, 10000, "Authentication error", {})
        if request.path_params.get("account_id") != account_id:
            raise EnvelopeError(401, 10401, "account is not entitled to abuse reports", {})

    api = APIRouter(prefix="/client/v4/accounts/{account_id}", dependencies=[Depends(guard)])

    @api.post("/abuse-reports/{report_type}")
    async def submit(report_type: str, request: Request) -> JSONResponse:
        state.report_posts += 1
        if report_type != "abuse_ncsei":
            return envelope_error(400, 11001, "the simulator only accepts abuse_ncsei reports")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return envelope_error(415, 11002, "Content-Type must be application/json")
        try:
            raw = await request.json()
            report = NcseiReport.model_validate(raw)
        except ValueError as error:
            return envelope_error(400, 11003, _validation_message(error))
        if report.email2 != report.email:
            return envelope_error(400, 11004, "email2 must match email")
        try:
            urls = check_urls(report.urls)
        except ValueError as error:
            return envelope_error(400, 11005, str(error))
        state.add(report.model_dump(), urls)
        return JSONResponse({"success": True, "errors": [], "messages": [], "result": "success"})

    @api.get("/abuse-reports/submitted")
    def list_submitted(
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        domain: list[str] = Query(default=[]),
        type: list[str] = Query(default=[]),  # noqa: A002 - the documented parameter name
        status: list[Literal["submitted", "accepted", "denied"]] = Query(default=[]),
        page: int = Query(default=1, ge=1),
        per_page: int = Query(default=20, ge=1, le=200),
    ) -> JSONResponse:
        reports = [
            state.describe(report)
            for report in state.listed()
            if (created_after is None or report.created_at > _aware(created_after))
            and (created_before is None or report.created_at < _aware(created_before))
            and (not domain or report.domain in {name.lower() for name in domain})
        ]
        reports = [
            item
            for item in reports
            if (not type or item["type"] in type) and (not status or item["status"] in status)
        ]
        total_pages = max(1, -(-len(reports) // per_page))
        shown = reports[(page - 1) * per_page : page * per_page]
        info = {
            "page": page,
            "per_page": per_page,
            "count": len(shown),
            "total_count": len(reports),
            "total_pages": total_pages,
        }
        body = {"success": True, "errors": [], "messages": [], "result": {"reports": shown}}
        return JSONResponse(body | {"result_info": info})

    @api.get("/abuse-reports/submitted/{report_id}")
    def get_submitted(report_id: str) -> JSONResponse:
        for report in state.listed():
            if report.id == report_id:
                result = state.describe(report) | {"urls": list(report.urls)}
                return JSONResponse(
                    {"success": True, "errors": [], "messages": [], "result": result}
                )
        return envelope_error(404, 10404, "abuse report not found")

    app.include_router(api)
    add_fail_next_route(app, failures)

    @app.get("/_sim/stats")
    def stats() -> dict[str, Any]:
        return {"report_posts": state.report_posts, "reports_per_url": dict(state.reports_per_url)}

    return app


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _validation_message(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return "body is not valid JSON"


class CloudflareServer(LoopbackServer):
    """The simulated Cloudflare API on a loopback port; ``api_base`` is what the adapter needs."""

    def __init__(self, *, port: int = 0, **options: Any) -> None:
        super().__init__(create_app(**options), port=port, name="cloudflare-simulator")

    @property
    def api_base(self) -> str:
        """The API root, like ``https://api.cloudflare.com/client/v4``."""
        return f"{self.base_url}/client/v4"
