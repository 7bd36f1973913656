"""Liveness, readiness and metrics."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, text
from sqlmodel import col, select

from tracker.alerts.models import Alert
from tracker.db import Database, utcnow
from tracker.reports.lifecycle import ON_THE_CLOCK
from tracker.reports.models import Report
from tracker.settings import RunMode, get_settings

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def _redis_ok(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return bool(client.ping())
    except redis.RedisError:
        return False


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers, Redis too in distributed mode; open alerts listed."""
    database: Database = request.app.state.database
    checks: dict[str, Any] = {}
    try:
        with database.session() as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            checks["open_alerts"] = session.exec(
                select(func.count()).select_from(Alert).where(col(Alert.resolved_at).is_(None))
            ).one()
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "unavailable"
    settings = get_settings()
    if settings.run_mode is RunMode.DISTRIBUTED:
        checks["broker"] = "ok" if _redis_ok(settings.redis_url) else "unavailable"
    ready = all(value != "unavailable" for value in checks.values())
    return JSONResponse(
        status_code=200 if ready else 503,
        content={"status": "ready" if ready else "not_ready", "checks": checks},
    )


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus metrics, read from the database at scrape time (true across processes)."""
    database: Database = request.app.state.database
    registry = CollectorRegistry()
    by_state = Gauge(
        "tracker_reports", "Reports by state and platform", ["state", "platform"], registry=registry
    )
    overdue = Gauge("tracker_reports_overdue", "Reports past their deadline", registry=registry)
    alerts = Gauge("tracker_alerts_open", "Open alerts by kind", ["kind"], registry=registry)
    with database.session() as session:
        for state, platform, count in session.exec(
            select(Report.state, Report.platform, func.count()).group_by(
                Report.state, Report.platform
            )
        ).all():
            by_state.labels(state=state, platform=platform).set(count)
        overdue.set(
            session.exec(
                select(func.count())
                .select_from(Report)
                .where(col(Report.state).in_(list(ON_THE_CLOCK)))
                .where(col(Report.deadline_at) <= utcnow())
            ).one()
        )
        for kind, count in session.exec(
            select(Alert.kind, func.count())
            .where(col(Alert.resolved_at).is_(None))
            .group_by(Alert.kind)
        ).all():
            alerts.labels(kind=kind).set(count)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
