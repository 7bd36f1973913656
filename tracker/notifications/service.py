"""Creating notifications for the assigned caseworker, and recording each delivery attempt."""

import json
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from tracker.alerts.kinds import notification_kind
from tracker.alerts.service import raise_alert, resolve_alerts
from tracker.cases.models import Case
from tracker.db import utcnow
from tracker.jobs import JobKind, enqueue_after_commit
from tracker.metrics import DeliveryOutcome, count_delivery
from tracker.notifications.models import (
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    NotificationKind,
)
from tracker.organisations.models import Organisation, User
from tracker.pagination import paginate
from tracker.reports.models import Report
from tracker.settings import get_settings


def notify(
    *, session: Session, report: Report, kind: NotificationKind, message: str
) -> Notification:
    """Record a notification for the report's caseworker and queue its deliveries."""
    case = session.get(Case, report.case_id)
    user = session.get(User, case.assigned_to) if case and case.assigned_to else None
    organisation = session.get(Organisation, report.organisation_id)
    notification = Notification(
        organisation_id=report.organisation_id,
        user_id=user.id if user else None,
        case_id=report.case_id,
        report_id=report.id,
        kind=kind,
        message=message[:500],
    )
    session.add(notification)
    session.flush()
    targets = []
    if user is not None and user.notification_email:
        targets.append(("email", user.notification_email))
    if organisation is not None and organisation.webhook_url:
        targets.append(("webhook", organisation.webhook_url))
    now = utcnow()
    lease_until = now + timedelta(seconds=get_settings().lease_seconds)
    assert notification.id is not None
    for channel, target in targets:
        delivery = NotificationDelivery(
            notification_id=notification.id,
            channel=channel,
            target=target,
            next_attempt_at=now,
            lease_until=lease_until,
        )
        session.add(delivery)
        session.flush()
        enqueue_after_commit(session, JobKind.DELIVER, delivery.id)
    return notification


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    delivery_id: int
    notification_id: int
    channel: str
    target: str
    body: bytes
    subject: str
    text: str
    secret: str | None


def payload(notification: Notification) -> dict[str, Any]:
    """The webhook body: ids and the event, never a victim detail."""
    return {
        "id": notification.id,
        "kind": notification.kind,
        "report_id": notification.report_id,
        "case_id": notification.case_id,
        "message": notification.message,
        "created_at": notification.created_at.isoformat(),
    }


def claim_delivery(*, session: Session, delivery_id: int) -> ClaimedDelivery | None:
    """Take a delivery for sending (compare-and-set); None if taken or done."""
    now = utcnow()
    result = session.execute(
        update(NotificationDelivery)
        .where(col(NotificationDelivery.id) == delivery_id)
        .where(
            (
                (col(NotificationDelivery.status) == DeliveryStatus.PENDING)
                & (
                    col(NotificationDelivery.next_attempt_at).is_(None)
                    | (col(NotificationDelivery.next_attempt_at) <= now)
                )
            )
            | (
                (col(NotificationDelivery.status) == DeliveryStatus.SENDING)
                & (col(NotificationDelivery.lease_until) < now)
            )
        )
        .values(
            status=DeliveryStatus.SENDING,
            lease_until=now + timedelta(seconds=get_settings().lease_seconds),
            attempt_count=NotificationDelivery.attempt_count + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    delivery = session.get(NotificationDelivery, delivery_id)
    assert delivery is not None
    session.refresh(delivery)
    notification = session.get(Notification, delivery.notification_id)
    assert notification is not None
    organisation = session.get(Organisation, notification.organisation_id)
    body = json.dumps(payload(notification), separators=(",", ":")).encode()
    return ClaimedDelivery(
        delivery_id=delivery_id,
        notification_id=delivery.notification_id,
        channel=delivery.channel,
        target=delivery.target,
        body=body,
        subject=f"[Takedown tracker] {notification.kind} on report {notification.report_id}",
        text=f"{notification.message}\n\nReport {notification.report_id}, case "
        f"{notification.case_id}. Open the tracker to act; this e-mail holds no case details.",
        secret=organisation.webhook_secret if organisation else None,
    )


def record_delivery(
    *,
    session: Session,
    delivery_id: int,
    ok: bool,
    response_status: int | None,
    error: str | None,
    retryable: bool,
) -> None:
    """Record one attempt: delivered, retried later with back-off, or failed with an alert."""
    delivery = session.get(NotificationDelivery, delivery_id)
    assert delivery is not None
    settings = get_settings()
    now = utcnow()
    delivery.lease_until = None
    delivery.response_status = response_status
    delivery.last_error = error[:500] if error else None
    notification = session.get(Notification, delivery.notification_id)
    assert notification is not None
    if ok:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        # The channel works again: close the organisation's alert about it.
        resolve_alerts(
            session=session,
            organisation_id=notification.organisation_id,
            kind=notification_kind(delivery.channel),
            actor="worker",
            now=now,
        )
    elif retryable and delivery.attempt_count < settings.notification_max_attempts:
        delivery.status = DeliveryStatus.PENDING
        base = settings.notification_retry_base_seconds
        delay = base * 2 ** (delivery.attempt_count - 1) * random.uniform(0.5, 1.0)  # noqa: S311
        delivery.next_attempt_at = now + timedelta(seconds=delay)
    else:
        delivery.status = DeliveryStatus.FAILED
        # One alert per organisation and channel; the error stays on the delivery.
        raise_alert(
            session=session,
            organisation_id=notification.organisation_id,
            kind=notification_kind(delivery.channel),
            subject=delivery.channel,
            numbers={"count": delivery.attempt_count},
        )
    session.add(delivery)
    count_delivery(
        session=session,
        organisation_id=notification.organisation_id,
        channel=delivery.channel,
        outcome=DELIVERY_OUTCOMES.get(delivery.status, "other"),
    )


#: What an attempt came to, by the delivery's status after it.
DELIVERY_OUTCOMES = {
    DeliveryStatus.DELIVERED: DeliveryOutcome.DELIVERED,
    DeliveryStatus.PENDING: DeliveryOutcome.RETRYING,
    DeliveryStatus.FAILED: DeliveryOutcome.FAILED,
}


def list_notifications(
    *, session: Session, organisation_id: int, user_id: int | None, limit: int, offset: int
) -> tuple[list[Notification], dict[int, list[NotificationDelivery]], int]:
    """Notifications (of one user, or of the organisation) with their deliveries."""
    query = select(Notification).where(Notification.organisation_id == organisation_id)
    if user_id is not None:
        query = query.where(Notification.user_id == user_id)
    page, total = paginate(
        session=session,
        query=query,
        order_by=col(Notification.id).desc(),
        limit=limit,
        offset=offset,
    )
    deliveries: dict[int, list[NotificationDelivery]] = {row.id: [] for row in page if row.id}
    for delivery in session.exec(
        select(NotificationDelivery).where(
            col(NotificationDelivery.notification_id).in_(list(deliveries))
        )
    ).all():
        deliveries[delivery.notification_id].append(delivery)
    return page, deliveries, total
