"""The kinds of alert, the generic message of each, and how subjects are spelled.

An alert's message is fixed by its kind and can carry only numbers: no host, URL, case or
platform error text can reach someone who may not see the report behind it. The details stay on
the filing, check or delivery, which only people who may see the report can read.
"""

import enum
from collections.abc import Mapping


class AlertKind(enum.StrEnum):
    CHECKER_STALLED = "checker.stalled"
    CHANNEL_FAILING = "channel.failing"
    HOST_UNREACHABLE = "host.unreachable"
    FILING_ATTEMPTS_EXHAUSTED = "filing.attempts_exhausted"
    ADAPTER_MISSING_CREDENTIALS = "adapter.missing_credentials"
    ADAPTER_INVALID_CREDENTIALS = "adapter.invalid_credentials"
    REPORT_LADDER_EXHAUSTED = "report.ladder_exhausted"
    NOTIFICATION_EMAIL_FAILING = "notification.email_failing"
    NOTIFICATION_WEBHOOK_FAILING = "notification.webhook_failing"


class AlertState(enum.StrEnum):
    OPEN = "open"  # not resolved (acknowledged or not)
    ACKNOWLEDGED = "acknowledged"  # not resolved, and a supervisor has seen it
    RESOLVED = "resolved"


MESSAGES: dict[AlertKind, str] = {
    AlertKind.CHECKER_STALLED: (
        "due re-checks have waited more than {seconds} seconds; is a worker or the scheduler down?"
    ),
    AlertKind.CHANNEL_FAILING: "the last {count} filing attempts on this channel failed",
    AlertKind.HOST_UNREACHABLE: (
        "every check of this host in the last hour was unreachable ({count} or more)"
    ),
    AlertKind.FILING_ATTEMPTS_EXHAUSTED: (
        "a filing on this channel used up its attempts; the error is recorded on the filing"
    ),
    AlertKind.ADAPTER_MISSING_CREDENTIALS: (
        "this channel has no credentials configured; add them under channel credentials"
    ),
    AlertKind.ADAPTER_INVALID_CREDENTIALS: (
        "the platform refused this channel's credentials; replace them"
    ),
    AlertKind.REPORT_LADDER_EXHAUSTED: (
        "every rung of the escalation ladder was tried; a caseworker must decide"
    ),
    AlertKind.NOTIFICATION_EMAIL_FAILING: (
        "a notification e-mail failed after {count} attempts; the error is on the delivery"
    ),
    AlertKind.NOTIFICATION_WEBHOOK_FAILING: (
        "a webhook delivery failed after {count} attempts; the error is on the delivery"
    ),
}

# Subjects name what failed. These two name something of a case (a reported host, a report):
# only people who may see such a report read them.
HOST_PREFIX = "host:"
REPORT_PREFIX = "report:"
ADAPTER_PREFIX = "adapter:"
CHECKER_SUBJECT = "checker"


def message_of(kind: AlertKind, numbers: Mapping[str, int] | None = None) -> str:
    """The generic message of a kind, with its numbers filled in."""
    return MESSAGES[kind].format(**(numbers or {}))


def notification_kind(channel: str) -> AlertKind:
    """The alert kind of a failing notification channel ("email" or "webhook")."""
    return AlertKind(f"notification.{channel}_failing")
