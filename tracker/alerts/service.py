"""Raising and resolving alerts: one open alert per (organisation, kind, subject)."""

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from tracker.alerts.kinds import AlertKind, message_of
from tracker.alerts.models import OPEN_WHERE, Alert
from tracker.db import utcnow

DEDUPE_COLUMNS = ["organisation_id", "kind", "subject"]


def _open_alert(session: Session, organisation_id: int, kind: str, subject: str) -> Alert | None:
    return session.exec(
        select(Alert)
        .where(Alert.organisation_id == organisation_id)
        .where(Alert.kind == kind, Alert.subject == subject)
        .where(col(Alert.resolved_at).is_(None))
    ).first()


def raise_alert(
    *,
    session: Session,
    organisation_id: int,
    kind: str,
    subject: str,
    numbers: Mapping[str, int] | None = None,
) -> Alert:
    """Open an alert, or return the one already open for the organisation, kind and subject.

    The message is the kind's generic text (``numbers`` fill it in), never free text: a
    platform's error could name a host.
    """
    alert_kind = AlertKind(kind)
    subject = subject[:200]
    existing = _open_alert(session, organisation_id, alert_kind, subject)
    if existing is not None:
        return existing
    # Another watchdog may insert the same alert between that read and this insert: the
    # partial unique index refuses the second, ON CONFLICT turns that into "nothing inserted"
    # (no IntegrityError to catch, so no savepoint, which pysqlite handles badly), and the
    # re-read below returns the one that won.
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(Alert)
        .values(
            organisation_id=organisation_id,
            kind=alert_kind.value,
            subject=subject,
            message=message_of(alert_kind, numbers)[:500],
            raised_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=DEDUPE_COLUMNS, index_where=text(OPEN_WHERE))
    )
    alert = _open_alert(session, organisation_id, alert_kind, subject)
    assert alert is not None  # inserted now, or by the transaction that won the race
    return alert


def resolve_alerts(
    *,
    session: Session,
    organisation_id: int,
    kind: str,
    actor: str,
    subject: str | None = None,
    now: datetime | None = None,
) -> int:
    """Resolve the organisation's open alerts of a kind (one subject, or all); how many closed."""
    query = (
        update(Alert)
        .where(col(Alert.organisation_id) == organisation_id)
        .where(col(Alert.kind) == AlertKind(kind).value)
        .where(col(Alert.resolved_at).is_(None))
    )
    if subject is not None:
        query = query.where(col(Alert.subject) == subject)
    result = session.execute(
        query.values(resolved_at=now or utcnow(), resolved_by=actor).execution_options(
            synchronize_session="fetch"
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def open_alerts_of_kind(*, session: Session, kind: AlertKind) -> list[Alert]:
    """Every open alert of one kind, across organisations (for the watchdog)."""
    return list(
        session.exec(
            select(Alert).where(Alert.kind == kind.value).where(col(Alert.resolved_at).is_(None))
        ).all()
    )


def open_alerts(*, session: Session, organisation_id: int) -> list[Alert]:
    """Open alerts of one organisation, newest first (every alert is one organisation's)."""
    return list(
        session.exec(
            select(Alert)
            .where(Alert.organisation_id == organisation_id)
            .where(col(Alert.resolved_at).is_(None))
            .order_by(col(Alert.id).desc())
        ).all()
    )
