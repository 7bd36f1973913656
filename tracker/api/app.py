"""The FastAPI application: /api/v1, /docs, /healthz, /readyz, /metrics, and the console at /."""

from fastapi import APIRouter, Depends, FastAPI

from tracker.alerts.views import router as alerts_router
from tracker.api.auth import AuthenticationMiddleware
from tracker.api.contract import install_contract, operation_id
from tracker.api.docs import install_docs
from tracker.api.errors import install_error_handlers
from tracker.api.health import router as health_router
from tracker.api.input_guard import intake_body_limits, screen_input
from tracker.api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from tracker.audit.views import router as audit_router
from tracker.cases.views import router as cases_router
from tracker.cases.withdrawal_views import router as withdrawal_router
from tracker.channels.views import router as channels_router
from tracker.console.app import install_console
from tracker.db import Database
from tracker.evidence.views import router as evidence_router
from tracker.evidence.views import upload_limits as evidence_upload_limits
from tracker.exports.views import router as exports_router
from tracker.filings.views import router as filings_router
from tracker.matching.views import router as matching_router
from tracker.matching.views import upload_limits as bank_upload_limits
from tracker.notifications.views import router as notifications_router
from tracker.organisations.views import router as users_router
from tracker.policies.views import router as policies_router
from tracker.reports.export_views import router as report_export_router
from tracker.reports.views import router as reports_router
from tracker.scorecards.views import router as scorecards_router
from tracker.settings import get_settings
from tracker.status_links.views import router as status_links_router

DESCRIPTION = """
Tracks takedown requests for non-consensual intimate imagery: cases, the leaked URLs in them
(reports), each filing to a platform or intermediary, every re-check, and escalation on the
legal clock. Authenticate with `Authorization: Bearer <API key>`. Every error has the shape
`{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`; every list answers
`{"items": [...], "total": n, "limit": n, "offset": n}`.
"""

#: Paths that take uploads and their own body limits ("*": one path segment); evidence adds
#: its upload paths from its size setting in ``create_app``.
UPLOAD_LIMITS: dict[str, int] = {}


def create_app(database: Database) -> FastAPI:
    """The API bound to a database."""
    settings = get_settings()
    app = FastAPI(
        title="Takedown tracker",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        generate_unique_id_function=operation_id,
    )
    app.state.database = database
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(screen_input)])
    for router in (
        cases_router,
        report_export_router,  # before /reports/{report_id}
        reports_router,
        filings_router,
        users_router,
        policies_router,
        alerts_router,
        channels_router,
        notifications_router,
        evidence_router,
        audit_router,
        status_links_router,
        exports_router,
        withdrawal_router,
        matching_router,
        scorecards_router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(health_router)
    install_docs(app)
    install_console(app)
    install_contract(app)
    # The last added runs first: the request id, then the size limit, before anything reads.
    app.add_middleware(AuthenticationMiddleware)  # innermost: still before any body read
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.request_body_limit_bytes,
        limits_by_prefix={
            **UPLOAD_LIMITS,
            **evidence_upload_limits(settings),
            **bank_upload_limits(settings),
            **intake_body_limits(settings),
        },
    )
    app.add_middleware(RequestIdMiddleware)
    return app
