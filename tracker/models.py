"""Every table model, imported in one place for Alembic and for metadata creation."""

from tracker.alerts.models import Alert
from tracker.audit.models import AuditEvent
from tracker.cases.models import Case
from tracker.channels.models import ChannelCredential
from tracker.checks.models import Check
from tracker.filings.models import Filing, FilingAttempt
from tracker.notifications.models import Notification, NotificationDelivery
from tracker.organisations.models import ApiKey, Organisation, User
from tracker.policies.models import PolicyVersion
from tracker.reports.models import Report, ReportTransition

__all__ = [
    "Alert",
    "ApiKey",
    "AuditEvent",
    "Case",
    "ChannelCredential",
    "Check",
    "Filing",
    "FilingAttempt",
    "Notification",
    "NotificationDelivery",
    "Organisation",
    "PolicyVersion",
    "Report",
    "ReportTransition",
    "User",
]
