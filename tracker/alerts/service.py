"""Raising and listing alerts, one open alert per (kind, subject)."""

from sqlmodel import Session, col, select

from tracker.alerts.models import Alert


def raise_alert(
    *, session: Session, kind: str, subject: str, message: str, organisation_id: int | None
) -> Alert:
    """Open an alert, or return the one already open for the same kind and subject."""
    existing = session.exec(
        select(Alert)
        .where(Alert.kind == kind, Alert.subject == subject)
        .where(col(Alert.resolved_at).is_(None))
    ).first()
    if existing is not None:
        return existing
    alert = Alert(
        kind=kind, subject=subject, message=message[:500], organisation_id=organisation_id
    )
    session.add(alert)
    session.flush()
    return alert


def open_alerts(*, session: Session, organisation_id: int | None) -> list[Alert]:
    """Open alerts of an organisation plus system-wide ones."""
    query = select(Alert).where(col(Alert.resolved_at).is_(None))
    if organisation_id is not None:
        query = query.where(
            (Alert.organisation_id == organisation_id) | col(Alert.organisation_id).is_(None)
        )
    return list(session.exec(query.order_by(col(Alert.raised_at).desc())).all())
