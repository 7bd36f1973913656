"""What people read and do with alerts: list, count, acknowledge, resolve.

Who reads what: supervisors and admins every alert of their organisation; a caseworker the
organisation's channel, checker and notification alerts, and host or report alerts only for
reports they may see; a role without case data (dashboard, metrics) counts by kind only.
"""

from sqlalchemy import String, cast, func, literal, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from tracker.alerts.kinds import HOST_PREFIX, REPORT_PREFIX, AlertKind, AlertState
from tracker.alerts.models import Alert
from tracker.audit.service import record
from tracker.db import utcnow
from tracker.errors import Conflict, Forbidden, NotFound
from tracker.organisations.service import Principal
from tracker.pagination import paginate
from tracker.reports.service import visible_reports


def visible_alerts(principal: Principal) -> SelectOfScalar[Alert]:
    """The alerts the principal may read (subjects included)."""
    if not principal.sees_case_data:
        raise Forbidden.one(
            ("auth",),
            "this role sees alert counts only: GET /alerts/counts",
            "auth.forbidden",
        )
    query = select(Alert).where(Alert.organisation_id == principal.organisation_id)
    if principal.sees_all_cases:
        return query
    reports = visible_reports(principal).subquery()
    subject = col(Alert.subject)
    names_a_case = subject.startswith(HOST_PREFIX) | subject.startswith(REPORT_PREFIX)
    return query.where(
        ~names_a_case
        | subject.in_(select(literal(HOST_PREFIX, String) + reports.c.host))
        | subject.in_(select(literal(REPORT_PREFIX, String) + cast(reports.c.id, String)))
    )


def list_alerts(
    *,
    session: Session,
    principal: Principal,
    kind: AlertKind | None,
    state: AlertState,
    limit: int,
    offset: int,
) -> tuple[list[Alert], int]:
    """Visible alerts of one state (and kind), newest first, and how many match."""
    query = visible_alerts(principal)
    if kind is not None:
        query = query.where(Alert.kind == kind.value)
    resolved = col(Alert.resolved_at)
    if state == AlertState.RESOLVED:
        query = query.where(resolved.is_not(None))
    else:
        query = query.where(resolved.is_(None))
    if state == AlertState.ACKNOWLEDGED:
        query = query.where(col(Alert.acknowledged_at).is_not(None))
    return paginate(
        session=session,
        query=query,
        order_by=col(Alert.id).desc(),  # ids grow with raised_at
        limit=limit,
        offset=offset,
    )


def count_open(*, session: Session, organisation_id: int) -> dict[str, int]:
    """Open alerts of the organisation by kind: no subject, so any role may read it."""
    rows = session.exec(
        select(Alert.kind, func.count())
        .where(Alert.organisation_id == organisation_id)
        .where(col(Alert.resolved_at).is_(None))
        .group_by(Alert.kind)
    ).all()
    return {kind: int(count) for kind, count in sorted(rows)}


def state_of(alert: Alert) -> AlertState:
    """Open, acknowledged (still open) or resolved."""
    if alert.resolved_at is not None:
        return AlertState.RESOLVED
    return AlertState.OPEN if alert.acknowledged_at is None else AlertState.ACKNOWLEDGED


def _require_alert(session: Session, principal: Principal, alert_id: int) -> Alert:
    alert = session.exec(visible_alerts(principal).where(Alert.id == alert_id)).first()
    if alert is None:
        raise NotFound.one(("path", "alert_id"), "alert not found", "alert.not_found")
    return alert


def _refuse_resolved(alert: Alert) -> None:
    if alert.resolved_at is not None:
        raise Conflict.one(("path", "alert_id"), "the alert is already resolved", "alert.resolved")


def _audit(session: Session, principal: Principal, alert: Alert, action: str) -> None:
    record(
        session=session,
        actor=principal.actor,
        action=action,
        object_type="alert",
        object_id=alert.id,
        organisation_id=alert.organisation_id,
        details={"kind": alert.kind},  # not the subject: it may name a reported host
    )


def acknowledge_alert(*, session: Session, principal: Principal, alert_id: int) -> Alert:
    """Mark an open alert as seen; it stays open until its cause clears or someone resolves it."""
    alert = _require_alert(session, principal, alert_id)
    changed = session.execute(
        update(Alert)
        .where(col(Alert.id) == alert_id)
        .where(col(Alert.resolved_at).is_(None), col(Alert.acknowledged_at).is_(None))
        .values(acknowledged_at=utcnow(), acknowledged_by=principal.actor)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(alert)
    _refuse_resolved(alert)
    if changed == 1:  # acknowledging twice changes nothing and records nothing
        _audit(session, principal, alert, "alert.acknowledged")
    return alert


def resolve_alert(*, session: Session, principal: Principal, alert_id: int) -> Alert:
    """Close an alert by hand (if its cause persists, the next watchdog run opens a new one)."""
    alert = _require_alert(session, principal, alert_id)
    changed = session.execute(
        update(Alert)
        .where(col(Alert.id) == alert_id, col(Alert.resolved_at).is_(None))
        .values(resolved_at=utcnow(), resolved_by=principal.actor)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(alert)
    if changed != 1:
        _refuse_resolved(alert)
    _audit(session, principal, alert, "alert.resolved")
    return alert
