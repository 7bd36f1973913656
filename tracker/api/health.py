"""Liveness, readiness and metrics."""

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, text
from sqlmodel import col, select

from tracker.alerts.models import Alert
from tracker.alerts.watchdog import oldest_overdue_check
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
            open_kinds = session.exec(
                select(Alert.kind).where(col(Alert.resolved_at).is_(None)).distinct()
            ).all()
            checks["open_alerts"] = sorted(open_kinds)
            oldest = oldest_overdue_check(session=session, now=utcnow())
        checks["database"] = "ok"
        stall = timedelta(seconds=get_settings().checker_stall_seconds)
        checks["checker"] = "stalled" if oldest and utcnow() - oldest > stall else "ok"
    except Exception:
        checks["database"] = "unavailable"
    settings = get_settings()
    if settings.run_mode is RunMode.DISTRIBUTED:
        checks["broker"] = "ok" if _redis_ok(settings.redis_url) else "unavailable"
    ready = all(value != "unavailable" for value in checks.values())
    # A stalled checker or an open alert does not stop the API serving: it reports degraded.
    degraded = checks.get("checker") == "stalled" or bool(checks.get("open_alerts"))
    status = "not_ready" if not ready else "degraded" if degraded else "ready"
    return JSONResponse(
        status_code=200 if ready else 503, content={"status": status, "checks": checks}
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
    stalled_for = Gauge(
        "tracker_oldest_due_check_age_seconds",
        "Age of the most overdue re-check (0 when none is due)",
        registry=registry,
    )
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
        oldest = oldest_overdue_check(session=session, now=utcnow())
        stalled_for.set(max((utcnow() - oldest).total_seconds(), 0.0) if oldest else 0.0)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
