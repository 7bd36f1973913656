"""HTTP endpoints: your notifications with each delivery, your address, the organisation webhook."""

from datetime import datetime

from fastapi import APIRouter
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field

from tracker.api.deps import AdminDep, Limit, Offset, PrincipalDep, SessionDep
from tracker.audit.service import record
from tracker.notifications.service import list_notifications
from tracker.organisations.models import Organisation, User

router = APIRouter(tags=["notifications"])


class DeliveryPublic(BaseModel):
    channel: str
    status: str
    attempt_count: int
    response_status: int | None
    last_error: str | None
    delivered_at: datetime | None


class NotificationPublic(BaseModel):
    id: int
    kind: str
    report_id: int | None
    case_id: int | None
    user_id: int | None
    message: str
    created_at: datetime
    deliveries: list[DeliveryPublic]


class NotificationPage(BaseModel):
    items: list[NotificationPublic]
    total: int
    limit: int
    offset: int


class NotificationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notification_email: EmailStr | None = Field(
        description="Where your deadline warnings, reminders and escalations are e-mailed"
    )


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl | None = Field(description="Receives every notification as signed JSON")
    secret: str | None = Field(
        default=None,
        min_length=32,
        max_length=200,
        description="HMAC-SHA256 key; at least 32 characters. Stored encrypted, never shown.",
    )


class WebhookPublic(BaseModel):
    url: str | None
    has_secret: bool


@router.get("/notifications", response_model=NotificationPage)
def list_(
    session: SessionDep, principal: PrincipalDep, limit: Limit = 50, offset: Offset = 0
) -> NotificationPage:
    """Your notifications (the organisation's for supervisors), each with its deliveries."""
    user_id = None if principal.sees_all_cases else principal.user_id
    rows, deliveries, total = list_notifications(
        session=session,
        organisation_id=principal.organisation_id,
        user_id=user_id,
        limit=limit,
        offset=offset,
    )
    items = [
        NotificationPublic(
            id=row.id or 0,
            kind=row.kind,
            report_id=row.report_id,
            case_id=row.case_id,
            user_id=row.user_id,
            message=row.message,
            created_at=row.created_at,
            deliveries=[
                DeliveryPublic.model_validate(item, from_attributes=True)
                for item in deliveries.get(row.id or 0, [])
            ],
        )
        for row in rows
    ]
    return NotificationPage(items=items, total=total, limit=limit, offset=offset)


@router.put("/me/notifications", response_model=NotificationSettings)
def set_mine(
    data: NotificationSettings, session: SessionDep, principal: PrincipalDep
) -> NotificationSettings:
    """Set (or clear) the address your notifications are e-mailed to."""
    user = session.get(User, principal.user_id)
    assert user is not None
    user.notification_email = str(data.notification_email) if data.notification_email else None
    session.add(user)
    session.commit()
    return data


@router.put("/organisation/webhook", response_model=WebhookPublic)
def set_webhook(data: WebhookSettings, session: SessionDep, principal: AdminDep) -> WebhookPublic:
    """Set the organisation's webhook; every notification is POSTed to it, signed."""
    organisation = session.get(Organisation, principal.organisation_id)
    assert organisation is not None
    organisation.webhook_url = str(data.url) if data.url else None
    if data.secret is not None:
        organisation.webhook_secret = data.secret
    if data.url is None:
        organisation.webhook_secret = None
    session.add(organisation)
    record(
        session=session,
        actor=principal.actor,
        action="organisation.webhook_set",
        object_type="organisation",
        object_id=organisation.id,
        organisation_id=organisation.id,
        details={"enabled": data.url is not None},
    )
    session.commit()
    return WebhookPublic(
        url=organisation.webhook_url, has_secret=organisation.webhook_secret is not None
    )
