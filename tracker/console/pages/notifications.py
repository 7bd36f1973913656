"""The organisation's notifications for supervisors and admins, each with its deliveries.

The same listing as ``GET /api/v1/notifications`` for a supervisor
(``tracker.notifications.service.list_notifications`` over the whole organisation). A
notification names ids only; its deliveries show their status, never their error text.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tracker.api.deps import Offset, SessionDep
from tracker.console.context import SupervisorConsoleDep
from tracker.console.i18n import N_, translations
from tracker.console.render import render
from tracker.notifications.models import DeliveryStatus, NotificationKind
from tracker.notifications.service import list_notifications
from tracker.organisations.service import list_users

router = APIRouter()
PAGE_SIZE = 50

KINDS = {
    NotificationKind.DEADLINE_WARNING: N_("A deadline is near"),
    NotificationKind.REMINDER: N_("Reminder"),
    NotificationKind.ESCALATED: N_("Escalated to the next step"),
    NotificationKind.REMOVED: N_("Removal confirmed"),
    NotificationKind.REAPPEARED: N_("Back online after removal"),
    NotificationKind.EXHAUSTED: N_("Every step tried: a person must decide"),
    NotificationKind.REUPLOAD_FOUND: N_(
        "Re-upload found: the content matched another case's hash bank"
    ),
}
DELIVERY_CHANNELS = {"email": N_("E-mail"), "webhook": N_("Webhook")}
DELIVERY_STATUSES = {
    DeliveryStatus.PENDING: N_("Waiting to be sent"),
    DeliveryStatus.SENDING: N_("Being sent"),
    DeliveryStatus.DELIVERED: N_("Delivered"),
    DeliveryStatus.FAILED: N_("Failed"),
}


@router.get("/notifications")
def notifications(
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
) -> Response:
    """The organisation's notifications, newest first, with each delivery's status."""
    rows, deliveries, total = list_notifications(
        session=session,
        organisation_id=console.principal.organisation_id,
        user_id=None,  # a supervisor reads the organisation's, as in the API
        limit=limit,
        offset=offset,
    )
    gettext = translations(console.language).gettext
    users = {
        user.id: user.display_name
        for user in list_users(session=session, organisation_id=console.principal.organisation_id)
    }
    items = [
        {
            "notification": row,
            "kind_name": gettext(KINDS[row.kind]) if row.kind in KINDS else str(row.kind),
            "recipient": users.get(row.user_id) if row.user_id else None,
            "deliveries": [
                {
                    "delivery": delivery,
                    "channel": gettext(DELIVERY_CHANNELS.get(delivery.channel, delivery.channel)),
                    "status": gettext(DELIVERY_STATUSES[delivery.status])
                    if delivery.status in DELIVERY_STATUSES
                    else str(delivery.status),
                }
                for delivery in sorted(
                    deliveries.get(row.id or 0, []), key=lambda delivery: delivery.channel
                )
            ],
        }
        for row in rows
    ]
    return render(
        request,
        "notifications/list.html",
        {
            "items": items,
            "total": total,
            "offset": offset,
            "limit": limit,
            "query": f"limit={limit}" if limit != PAGE_SIZE else "",
        },
        console=console,
    )
