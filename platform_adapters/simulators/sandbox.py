"""Sandbox: a simulated video platform with a reporting API, served over real HTTP on loopback.

Run it::

    python -m platform_adapters.simulators.sandbox --host 127.0.0.1 --port 8765 \\
        --ack-after 2 --decide-after 5

or, in tests, ``with SandboxServer(ack_after=0.2, decide_after=0.5) as server: server.base_url``.

Content
-------
``GET /videos/{slug}`` serves a small HTML page (title ``Sandbox video <slug>``) while the video
is live. Once the platform removes it the page answers 404, except slugs starting with ``soft-``,
which answer 200 with a page titled ``This content isn't available`` (a "soft 404", as Facebook
does). The slug prefix chooses how the platform treats reports, so a demo needs no set-up:

- ``comply-`` (and any other slug): acknowledged after ``ack_after`` s, removed after
  ``decide_after`` s. ``soft-``: the same, and the removed page is a 200 soft 404.
- ``ignore-``: acknowledged, never decided; ``reject-``: rejected at decide time (both stay live).
- ``flaky-``: the first 2 report POSTs answer 503 with ``Retry-After: 1``, then like ``comply-``.

A video is removed only if a report was filed for it (on any channel).

Reporting API (v1)
------------------
Every ``/api/v1`` call needs ``Authorization: Bearer <token>`` (401 otherwise). Errors use one
envelope: ``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}``.

``POST /api/v1/reports`` with header ``Idempotency-Key`` (required, 400 without) and JSON body::

    {"url": "http://<this host>/videos/<slug>", "reason": "non_consensual_intimate_imagery",
     "channel": "platform" | "grievance_officer",
     "reporter": {"organisation": "...", "email": "..."}, "legal_basis": "..."}

answers 201 ``{"id": "SBX-<n>", "status": "submitted", "created_at": "<iso 8601>"}``. The same
``Idempotency-Key`` again answers 200 with the same report; reusing a key for a different URL or
channel answers 409. Invalid fields answer 422 naming them; a URL that is not a ``/videos/`` URL
of this host answers 422 ``url not on this platform``.

``GET /api/v1/reports/{id}`` answers ``{"id", "url", "channel", "status", "created_at",
"updated_at"}`` plus ``rejection_reason`` when rejected; status moves submitted → acknowledged →
removed | rejected. Unknown id: 404. ``GET /api/v1/reports?channel=&url=`` lists reports as
``{"items": [...], "total": n}``.

Simulator controls (not part of the "platform"): ``GET /_sim/stats`` answers
``{"report_posts": {url: count}}``, counting every authenticated report POST, 503s included.
``POST /_sim/fail-next`` ``{"status": 503, "retry_after": 7, "count": 1}`` makes the next API
calls fail with that status (see ``platform_adapters.simulators.faults``).
"""

from __future__ import annotations

import argparse
import hmac
import html
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from platform_adapters.simulators.faults import FailureQueue, add_fail_next_route
from platform_adapters.simulators.runner import LoopbackServer

DEFAULT_API_TOKEN = "sandbox-token"  # noqa: S105 - a public demo default, not a secret
FLAKY_FAILURES = 2
SOFT_REMOVED_TITLE = "This content isn't available"
VIDEO_PATH = re.compile(r"^/videos/(?P<slug>[A-Za-z0-9._~-]+)/?$")

Channel = Literal["platform", "grievance_officer"]


class Reporter(BaseModel):
    """Who files the report: always an organisation, never the affected person."""

    model_config = ConfigDict(extra="forbid")

    organisation: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class ReportSubmission(BaseModel):
    """The body of ``POST /api/v1/reports``."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048)
    reason: str = Field(min_length=1, max_length=200)
    channel: Channel
    reporter: Reporter
    legal_basis: str = Field(min_length=1, max_length=2000)


@dataclass(frozen=True, slots=True)
class SimulatedReport:
    """One report the platform received."""

    id: str
    url: str
    slug: str
    channel: str
    idempotency_key: str
    created_at: datetime


class IdempotencyConflict(Exception):
    """An Idempotency-Key was reused for a different report."""


class SandboxState:
    """All of the platform's mutable state, guarded by one lock."""

    def __init__(
        self,
        *,
        ack_after: float,
        decide_after: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not 0 <= ack_after <= decide_after:
            raise ValueError("need 0 <= ack_after <= decide_after")
        self.ack_after = timedelta(seconds=ack_after)
        self.decide_after = timedelta(seconds=decide_after)
        self.clock = clock
        self._lock = threading.Lock()
        self._reports: dict[str, SimulatedReport] = {}
        self._report_by_key: dict[str, str] = {}
        self._report_ids_by_slug: dict[str, list[str]] = {}
        self._posts_per_url: Counter[str] = Counter()
        self._posts_per_flaky_slug: Counter[str] = Counter()

    def count_post(self, url: str) -> None:
        """Count one report POST for ``url`` (for ``/_sim/stats``)."""
        with self._lock:
            self._posts_per_url[url] += 1

    def should_fail_flakily(self, slug: str) -> bool:
        """Whether this POST for a ``flaky-`` video is one of its first failing ones."""
        if not slug.startswith("flaky-"):
            return False
        with self._lock:
            self._posts_per_flaky_slug[slug] += 1
            return self._posts_per_flaky_slug[slug] <= FLAKY_FAILURES

    def create_or_get(
        self, *, idempotency_key: str, url: str, slug: str, channel: str
    ) -> tuple[SimulatedReport, bool]:
        """The report for this key, creating it if new; the flag says whether it was created."""
        with self._lock:
            existing_id = self._report_by_key.get(idempotency_key)
            if existing_id is not None:
                existing = self._reports[existing_id]
                if (existing.url, existing.channel) != (url, channel):
                    raise IdempotencyConflict(idempotency_key)
                return existing, False
            report = SimulatedReport(
                id=f"SBX-{len(self._reports) + 1}",
                url=url,
                slug=slug,
                channel=channel,
                idempotency_key=idempotency_key,
                created_at=self.clock(),
            )
            self._reports[report.id] = report
            self._report_by_key[idempotency_key] = report.id
            self._report_ids_by_slug.setdefault(slug, []).append(report.id)
            return report, True

    def get(self, report_id: str) -> SimulatedReport | None:
        """One report by id."""
        with self._lock:
            return self._reports.get(report_id)

    def find(self, *, channel: str | None = None, url: str | None = None) -> list[SimulatedReport]:
        """Reports in filing order, optionally filtered."""
        with self._lock:
            reports = list(self._reports.values())
        return [
            report
            for report in reports
            if (channel is None or report.channel == channel) and (url is None or report.url == url)
        ]

    def post_counts(self) -> dict[str, int]:
        """Report POSTs received per URL."""
        with self._lock:
            return dict(self._posts_per_url)

    def describe(self, report: SimulatedReport) -> dict[str, Any]:
        """The report as the API shows it, with its status computed from elapsed time."""
        elapsed = self.clock() - report.created_at
        status, updated_at, rejection_reason = "submitted", report.created_at, None
        if elapsed >= self.ack_after:
            status, updated_at = "acknowledged", report.created_at + self.ack_after
        if elapsed >= self.decide_after and not report.slug.startswith("ignore-"):
            updated_at = report.created_at + self.decide_after
            if report.slug.startswith("reject-"):
                status, rejection_reason = "rejected", "The content does not violate our policies."
            else:
                status = "removed"
        body: dict[str, Any] = {
            "id": report.id,
            "url": report.url,
            "channel": report.channel,
            "status": status,
            "created_at": report.created_at.isoformat(),
            "updated_at": updated_at.isoformat(),
        }
        if rejection_reason is not None:
            body["rejection_reason"] = rejection_reason
        return body

    def is_removed(self, slug: str) -> bool:
        """Whether any report for this video has led to its removal by now."""
        with self._lock:
            reports = [
                self._reports[report_id] for report_id in self._report_ids_by_slug.get(slug, [])
            ]
        return any(self.describe(report)["status"] == "removed" for report in reports)


def _error_items(location: list[str], message: str, error_type: str) -> list[dict[str, Any]]:
    return [{"loc": location, "msg": message, "type": error_type}]


def _error(status_code: int, location: list[str], message: str, error_type: str) -> JSONResponse:
    detail = _error_items(location, message, error_type)
    return JSONResponse({"detail": detail}, status_code=status_code)


def _video_page(title: str, text: str, status_code: int) -> HTMLResponse:
    # The title is already escaped by the caller where it holds request data.
    page = (
        f"<!doctype html><html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    )
    return HTMLResponse(page, status_code=status_code)


def create_app(
    *,
    api_token: str = DEFAULT_API_TOKEN,
    ack_after: float = 2.0,
    decide_after: float = 5.0,
) -> FastAPI:
    """Build the simulated platform's ASGI app with fresh in-memory state."""
    state = SandboxState(ack_after=ack_after, decide_after=decide_after)
    app = FastAPI(title="Sandbox platform (simulated)", docs_url="/docs", redoc_url=None)
    app.state.sandbox = state

    def require_token(authorization: str | None = Header(default=None)) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        expected = api_token.encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            message = "missing or invalid bearer token"
            detail = _error_items(["header", "Authorization"], message, "auth.invalid_token")
            raise HTTPException(status_code=401, detail=detail)

    failures = FailureQueue()

    def inject_failure() -> None:
        # Runs before the token check, so a test can fail any API call (``/_sim/fail-next``).
        failure = failures.take()
        if failure is not None:
            detail = _error_items([], "injected failure", "simulator.injected")
            headers = failure.retry_after_header()
            raise HTTPException(status_code=failure.status, detail=detail, headers=headers)

    api = APIRouter(
        prefix="/api/v1", dependencies=[Depends(inject_failure), Depends(require_token)]
    )

    @api.post("/reports")
    async def submit_report(request: Request) -> JSONResponse:
        try:
            raw_body = await request.json()
        except ValueError:
            return _error(422, ["body"], "body is not valid JSON", "json_invalid")
        if isinstance(raw_body, dict) and isinstance(raw_body.get("url"), str):
            state.count_post(raw_body["url"])
        idempotency_key = request.headers.get("idempotency-key", "").strip()
        if not idempotency_key:
            return _error(400, ["header", "Idempotency-Key"], "header required", "missing")
        try:
            submission = ReportSubmission.model_validate(raw_body)
        except ValidationError as error:
            detail = [
                {"loc": ["body", *map(str, item["loc"])], "msg": item["msg"], "type": item["type"]}
                for item in error.errors()
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        target = urlsplit(submission.url)
        match = VIDEO_PATH.match(target.path)
        host = request.headers.get("host", "").lower()
        if target.scheme not in ("http", "https") or target.netloc.lower() != host or not match:
            return _error(422, ["body", "url"], "url not on this platform", "value_error")
        slug = match.group("slug")
        if state.should_fail_flakily(slug):
            response = _error(503, [], "service temporarily unavailable", "unavailable")
            response.headers["Retry-After"] = "1"
            return response
        try:
            report, created = state.create_or_get(
                idempotency_key=idempotency_key,
                url=submission.url,
                slug=slug,
                channel=submission.channel,
            )
        except IdempotencyConflict:
            message = "Idempotency-Key already used for a different report"
            return _error(409, ["header", "Idempotency-Key"], message, "conflict")
        described = state.describe(report)
        body = {key: described[key] for key in ("id", "status", "created_at")}
        return JSONResponse(body, status_code=201 if created else 200)

    @api.get("/reports/{report_id}")
    def get_report(report_id: str) -> JSONResponse:
        report = state.get(report_id)
        if report is None:
            return _error(404, ["path", "report_id"], "no such report", "report.not_found")
        return JSONResponse(state.describe(report))

    @api.get("/reports")
    def list_reports(channel: Channel | None = None, url: str | None = None) -> JSONResponse:
        items = [state.describe(report) for report in state.find(channel=channel, url=url)]
        return JSONResponse({"items": items, "total": len(items)})

    app.include_router(api)

    @app.get("/videos/{slug}", response_class=HTMLResponse)
    def video_page(slug: str) -> HTMLResponse:
        if not state.is_removed(slug):
            title = f"Sandbox video {html.escape(slug)}"
            return _video_page(title, "A simulated video; there is no media here.", 200)
        if slug.startswith("soft-"):
            # Like Facebook: a deleted item answers 200 with an apology page.
            text = "The link you followed may be broken, or the page may have been removed."
            return _video_page(SOFT_REMOVED_TITLE, text, 200)
        return _video_page("Page not found", "This video has been removed.", 404)

    add_fail_next_route(app, failures)

    @app.get("/_sim/stats")
    def simulator_stats() -> dict[str, dict[str, int]]:
        return {"report_posts": state.post_counts()}

    return app


class SandboxServer(LoopbackServer):
    """Runs the sandbox on a loopback port in a background thread; use as a context manager."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ack_after: float = 2.0,
        decide_after: float = 5.0,
        api_token: str = DEFAULT_API_TOKEN,
        startup_timeout: float = 10.0,
    ) -> None:
        app = create_app(api_token=api_token, ack_after=ack_after, decide_after=decide_after)
        super().__init__(
            app, host=host, port=port, startup_timeout=startup_timeout, name="sandbox-server"
        )


def main(arguments: list[str] | None = None) -> None:
    """Serve the sandbox in the foreground (see the module docstring)."""
    parser = argparse.ArgumentParser(description="Run the simulated sandbox platform.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--ack-after", type=float, default=2.0, help="seconds to acknowledge")
    parser.add_argument("--decide-after", type=float, default=5.0, help="seconds to decide")
    parser.add_argument("--api-token", default=DEFAULT_API_TOKEN)
    options = parser.parse_args(arguments)
    if options.ack_after > options.decide_after:
        parser.error("--ack-after must not exceed --decide-after")
    timings = {"ack_after": options.ack_after, "decide_after": options.decide_after}
    app = create_app(api_token=options.api_token, **timings)
    uvicorn.run(app, host=options.host, port=options.port, log_level="info")


if __name__ == "__main__":
    main()
