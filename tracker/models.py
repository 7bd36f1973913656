"""Every table model, imported in one place for Alembic and for metadata creation."""

from tracker.alerts.models import Alert
from tracker.audit.models import AuditChainHead, AuditEvent
from tracker.cases.keys import CaseKey
from tracker.cases.models import Case
from tracker.channels.models import ChannelCredential
from tracker.checks.models import Check
from tracker.evidence.models import Evidence
from tracker.filings.models import Filing, FilingAttempt
from tracker.matching.models import BankEntry, ContentMatch, MediaItem
from tracker.notifications.models import Notification, NotificationDelivery
from tracker.organisations.models import ApiKey, Organisation, User
from tracker.policies.models import PolicyVersion
from tracker.reports.models import (
    CaseReportCount,
    OrganisationReportCount,
    Report,
    ReportCountDelta,
    ReportTransition,
)
from tracker.scorecards.models import ReportOutcome, ScorecardCell, ScorecardDelta
from tracker.status_links.models import StatusLink

__all__ = [
    "Alert",
    "ApiKey",
    "AuditChainHead",
    "AuditEvent",
    "BankEntry",
    "Case",
    "CaseKey",
    "CaseReportCount",
    "ChannelCredential",
    "Check",
    "ContentMatch",
    "Evidence",
    "Filing",
    "FilingAttempt",
    "MediaItem",
    "Notification",
    "NotificationDelivery",
    "Organisation",
    "OrganisationReportCount",
    "PolicyVersion",
    "Report",
    "ReportOutcome",
    "ReportCountDelta",
    "ReportTransition",
    "ScorecardCell",
    "ScorecardDelta",
    "StatusLink",
    "User",
]
