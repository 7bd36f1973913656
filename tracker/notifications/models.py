"""A notification and one delivery row per channel, each attempt counted."""

import enum
from datetime import datetime

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from tracker.db import UTCDateTime, utcnow


class NotificationKind(enum.StrEnum):
    DEADLINE_WARNING = "deadline_warning"
    REMINDER = "reminder"
    ESCALATED = "escalated"
    REMOVED = "removed"
    REAPPEARED = "reappeared"
    EXHAUSTED = "exhausted"
    REUPLOAD_FOUND = "reupload_found"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Notification(SQLModel, table=True):
    """Something the assigned caseworker should know; names ids, never a victim detail."""

    __tablename__ = "notifications"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisations.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id")
    report_id: int | None = Field(default=None, foreign_key="reports.id")
    kind: NotificationKind = Field(sa_type=String(24))
    message: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class NotificationDelivery(SQLModel, table=True):
    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_notification_deliveries_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notifications.id", index=True)
    channel: str = Field(max_length=16)  # "email" or "webhook"
    target: str = Field(max_length=2048)
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=String(16))
    attempt_count: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    response_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
