"""HTTP endpoints: your notifications with each delivery, your address, the organisation webhook."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field, UrlConstraints

from tracker.api.deps import AdminDep, Limit, Offset, PrincipalDep, SessionDep
from tracker.api.pages import Page
from tracker.notifications import webhooks
from tracker.notifications.service import list_notifications
from tracker.organisations.models import User
from tracker.settings import get_settings

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


class NotificationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notification_email: EmailStr | None = Field(
        description="Where your deadline warnings, reminders and escalations are e-mailed"
    )


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2048)] | None = Field(
        description="Receives every notification as signed JSON; a public address "
        "(private, loopback and metadata addresses are refused). null turns the webhook off."
    )
    secret: str | None = Field(
        default=None,
        min_length=32,
        max_length=200,
        pattern=r"^[!-~]+$",
        description="HMAC-SHA256 key: 32 to 200 printable ASCII characters, no spaces. Stored "
        "encrypted, never shown. Leave it out to keep the stored one, or to have one generated.",
    )


class WebhookPublic(BaseModel):
    url: str | None = Field(description="Where notifications are POSTed; null when off")
    has_secret: bool = Field(description="Whether a signing secret is stored (it is never shown)")


class WebhookSetAnswer(WebhookPublic):
    secret: str | None = Field(
        default=None,
        description="Present only when this request generated the signing secret: shown this "
        "once, store it in the receiver now.",
    )


@router.get("/notifications", response_model=Page[NotificationPublic])
def list_(
    session: SessionDep, principal: PrincipalDep, limit: Limit = 50, offset: Offset = 0
) -> Page[NotificationPublic]:
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
    return Page[NotificationPublic](items=items, total=total, limit=limit, offset=offset)


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


@router.get("/organisation/webhook", response_model=WebhookPublic)
def get_webhook(session: SessionDep, principal: AdminDep) -> WebhookPublic:
    """The organisation's webhook URL and whether a signing secret is stored (never the secret)."""
    state = webhooks.get_webhook(session=session, organisation_id=principal.organisation_id)
    return WebhookPublic(url=state.url, has_secret=state.has_secret)


@router.put(
    "/organisation/webhook", response_model=WebhookSetAnswer, response_model_exclude_unset=True
)
def set_webhook(
    data: WebhookSettings, session: SessionDep, principal: AdminDep
) -> WebhookSetAnswer:
    """Set the organisation's webhook; every notification is POSTed to it, signed.

    Without a secret the stored one is kept; with none stored, one is generated and returned
    in ``secret`` this once. A URL whose host is not a public address answers 422.
    """
    state, generated = webhooks.set_webhook(
        session=session,
        organisation_id=principal.organisation_id,
        url=str(data.url) if data.url else None,
        secret=data.secret,
        actor=principal.actor,
        allowlist=get_settings().outbound_allowlist,
    )
    session.commit()
    answer = WebhookSetAnswer(url=state.url, has_secret=state.has_secret)
    if generated is not None:
        answer.secret = generated
    return answer
