"""Liveness, readiness and metrics.

``/healthz`` is public. ``/readyz`` answers its status to anyone (a load balancer or an
orchestrator needs no key); the detail (checks, open alert kinds) only to an admin or metrics
key. ``/metrics`` needs such a key and counts only the key's organisation; the age of the most
overdue re-check, the job queues' depth and latency and the sweeps' durations stay global (they
name nothing of any organisation).
"""

import enum
import logging
from collections import Counter
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field
from sqlalchemy import func, text
from sqlmodel import col, select

from tracker.alerts.models import Alert
from tracker.alerts.service import open_alerts
from tracker.alerts.watchdog import oldest_overdue_check
from tracker.api.contract import ErrorEnvelope
from tracker.api.deps import OperationsDep, OptionalCallerDep
from tracker.db import Database, utcnow
from tracker.metrics import SeriesCollector
from tracker.organisations.service import Principal
from tracker.reports.rollups import counted_rows, overdue_count_query
from tracker.settings import RunMode, get_settings

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


class ReadinessStatus(enum.StrEnum):
    READY = "ready"
    DEGRADED = "degraded"  # serving, but a checker stalled or an alert is open
    NOT_READY = "not_ready"  # the database (or the broker, when distributed) is unavailable


class ReadinessChecks(BaseModel):
    """What readiness is made of; for an admin or metrics key only."""

    database: Literal["ok", "unavailable"]
    broker: Literal["ok", "unavailable"] | None = Field(
        default=None, description="Redis; distributed mode only"
    )
    checker: Literal["ok", "stalled"] | None = Field(
        default=None, description="Whether due re-checks are being made (absent without database)"
    )
    open_alerts: list[str] = Field(
        default_factory=list,
        description="Kinds of the open alerts of your organisation and of the system",
    )


class Readiness(BaseModel):
    status: ReadinessStatus
    checks: ReadinessChecks | None = Field(
        default=None, description="Only with an admin or metrics key"
    )


def _redis_ok(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return bool(client.ping())
    except redis.RedisError:
        return False


def _readiness(database: Database, principal: Principal | None) -> Readiness:
    checks = ReadinessChecks(database="unavailable")
    any_open_alert = False
    try:
        with database.session() as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            # The status counts every open alert (one bit, naming nothing); the detail lists
            # only the kinds the caller's organisation may see.
            any_open_alert = (
                session.exec(select(Alert.id).where(col(Alert.resolved_at).is_(None))).first()
                is not None
            )
            if principal is not None:
                visible = open_alerts(session=session, organisation_id=principal.organisation_id)
                checks.open_alerts = sorted({alert.kind for alert in visible})
            oldest = oldest_overdue_check(session=session, now=utcnow())
        checks.database = "ok"
        stall = timedelta(seconds=get_settings().checker_stall_seconds)
        checks.checker = "stalled" if oldest and utcnow() - oldest > stall else "ok"
    except Exception as error:  # a probe answers; it never fails with a 500
        logger.warning("readiness: database unavailable (%s)", type(error).__name__)
    settings = get_settings()
    if settings.run_mode is RunMode.DISTRIBUTED:
        checks.broker = "ok" if _redis_ok(settings.redis_url) else "unavailable"
    if checks.database == "unavailable" or checks.broker == "unavailable":
        status = ReadinessStatus.NOT_READY
    elif checks.checker == "stalled" or any_open_alert:
        # A stalled checker or an open alert does not stop the API serving: it is degraded.
        status = ReadinessStatus.DEGRADED
    else:
        status = ReadinessStatus.READY
    return Readiness(status=status, checks=checks if principal is not None else None)


@router.get(
    "/readyz",
    response_model=Readiness,
    response_model_exclude_none=True,
    responses={
        401: {"model": ErrorEnvelope, "description": "A key was given and is not valid"},
        429: {"model": ErrorEnvelope, "description": "Too many failed authentications"},
        503: {"model": Readiness, "description": "Not ready: the database or broker is away"},
    },
    # The key is optional here: without one the answer is the status alone.
    openapi_extra={"security": [{}, {"HTTPBearer": []}]},
)
def readyz(request: Request, response: Response, caller: OptionalCallerDep) -> Readiness:
    """Ready to serve: the database answers, Redis too in distributed mode.

    Anyone gets the status; an admin or metrics key also gets the checks and open alert kinds.
    """
    database: Database = request.app.state.database
    principal = caller if caller is not None and caller.reads_operations else None
    readiness = _readiness(database, principal)
    if readiness.status is ReadinessStatus.NOT_READY:
        response.status_code = 503
    return readiness


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, principal: OperationsDep) -> Response:
    """Prometheus metrics of the key's organisation: gauges read from the database at scrape
    time, and the counters and histograms every process keeps (``tracker.metrics``)."""
    database: Database = request.app.state.database
    organisation_id = principal.organisation_id
    registry = CollectorRegistry()
    registry.register(SeriesCollector(organisation_id=organisation_id))
    by_state = Gauge(
        "tracker_reports", "Reports by state and platform", ["state", "platform"], registry=registry
    )
    overdue = Gauge("tracker_reports_overdue", "Reports past their deadline", registry=registry)
    stalled_for = Gauge(
        "tracker_oldest_due_check_age_seconds",
        "Age of the most overdue re-check, of any organisation (0 when none is due)",
        registry=registry,
    )
    alerts = Gauge("tracker_alerts_open", "Open alerts by kind", ["kind"], registry=registry)
    with database.session() as session:
        # The counts the database keeps, and the index of reports on the clock: a scrape costs
        # the same at a million reports as at ten.
        rows = counted_rows(organisation_id=organisation_id).alias("metric_rows")
        for state, platform, count in session.execute(
            select(rows.c.state, rows.c.platform, func.sum(rows.c.n))
            .group_by(rows.c.state, rows.c.platform)
            .having(func.sum(rows.c.n) != 0)
        ).all():
            by_state.labels(state=state, platform=platform).set(count)
        overdue.set(
            session.execute(
                overdue_count_query(organisation_id=organisation_id, now=utcnow())
            ).scalar_one()
        )
        kinds = Counter(
            alert.kind for alert in open_alerts(session=session, organisation_id=organisation_id)
        )
        for kind, count in kinds.items():
            alerts.labels(kind=kind).set(count)
        oldest = oldest_overdue_check(session=session, now=utcnow())
        stalled_for.set(max((utcnow() - oldest).total_seconds(), 0.0) if oldest else 0.0)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
