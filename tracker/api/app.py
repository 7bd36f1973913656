"""The FastAPI application: /api/v1, /docs, /healthz, /readyz, /metrics."""

from fastapi import APIRouter, FastAPI

from tracker.alerts.views import router as alerts_router
from tracker.api.errors import install_error_handlers
from tracker.api.health import router as health_router
from tracker.cases.views import router as cases_router
from tracker.channels.views import router as channels_router
from tracker.db import Database
from tracker.filings.views import router as filings_router
from tracker.notifications.views import router as notifications_router
from tracker.organisations.views import router as users_router
from tracker.policies.views import router as policies_router
from tracker.reports.views import router as reports_router

DESCRIPTION = """
Tracks takedown requests for non-consensual intimate imagery: cases, the leaked URLs in them
(reports), each filing to a platform or intermediary, every re-check, and escalation on the
legal clock. Authenticate with `Authorization: Bearer <API key>`. Every error has the shape
`{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.
"""


def create_app(database: Database) -> FastAPI:
    """The API bound to a database."""
    app = FastAPI(
        title="Takedown tracker",
        version="1",
        description=DESCRIPTION,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.database = database
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1")
    for router in (
        cases_router,
        reports_router,
        filings_router,
        users_router,
        policies_router,
        alerts_router,
        channels_router,
        notifications_router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(health_router)
    return app
