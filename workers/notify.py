"""Sending one notification delivery: an e-mail, or a webhook POST signed with HMAC-SHA256.

Webhook receivers verify ``X-Tracker-Signature: sha256=<hex>`` computed over
``<X-Tracker-Timestamp>.<body>`` with the organisation's secret, and reject stale timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import smtplib
import socket
import time
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx

from tracker.notifications.service import ClaimedDelivery
from tracker.settings import Settings
from workers.recheck.guard import REFUSED_BY_POLICY, AddressPolicy, DestinationRefused

USER_AGENT = "TakedownTracker-Webhook/0.1"

#: Failures are logged with the delivery's and notification's ids and a class of error only:
#: never the webhook URL, the e-mail address or the text (the log is read by more people).
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    response_status: int | None = None
    error: str | None = None
    retryable: bool = True


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for a body sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _check_destination(url: str, allowlist: list[str]) -> None:
    # The webhook URL is an admin's, but it is still a server-side fetch: same guard as re-checks.
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationRefused("invalid_url")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = {
        ipaddress.ip_address(info[4][0])
        for info in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    }
    AddressPolicy(allowlist).check(parts.hostname, sorted(addresses, key=str))


def _failed(delivery: ClaimedDelivery, result: SendResult, cause: str) -> SendResult:
    """Log a failed attempt by ids and return it."""
    logger.warning(
        "notification %s: %s delivery %s failed (%s)%s",
        delivery.notification_id,
        delivery.channel,
        delivery.delivery_id,
        cause,
        "; will retry" if result.retryable else "",
    )
    return result


def send_webhook(delivery: ClaimedDelivery, settings: Settings) -> SendResult:
    """POST the event; 2xx delivers, 408/429/5xx and network errors retry, other 4xx fail."""
    if not delivery.secret:
        result = SendResult(ok=False, error="no webhook secret configured", retryable=False)
        return _failed(delivery, result, "no secret")
    try:
        _check_destination(delivery.target, settings.outbound_allowlist)
    except DestinationRefused as refusal:
        result = SendResult(ok=False, error=REFUSED_BY_POLICY, retryable=False)
        return _failed(delivery, result, f"destination refused: {refusal.address_class}")
    except (OSError, UnicodeError) as error:
        # DNS failures (socket.gaierror) are usually passing: try again later.
        result = SendResult(ok=False, error=f"DNS resolution failed ({type(error).__name__})")
        return _failed(delivery, result, f"DNS error {type(error).__name__}")
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Tracker-Delivery": str(delivery.delivery_id),
        "X-Tracker-Timestamp": timestamp,
        "X-Tracker-Signature": signature(delivery.secret, timestamp, delivery.body),
    }
    try:
        with httpx.Client(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
        ) as client:
            response = client.post(delivery.target, content=delivery.body, headers=headers)
    except httpx.HTTPError as error:
        result = SendResult(ok=False, error=f"{type(error).__name__}", retryable=True)
        return _failed(delivery, result, type(error).__name__)
    if 200 <= response.status_code < 300:
        return SendResult(ok=True, response_status=response.status_code)
    retryable = response.status_code in (408, 429) or response.status_code >= 500
    result = SendResult(
        ok=False,
        response_status=response.status_code,
        error=f"HTTP {response.status_code}",
        retryable=retryable,
    )
    return _failed(delivery, result, f"HTTP {response.status_code}")


def send_email(delivery: ClaimedDelivery, settings: Settings) -> SendResult:
    """Send the notice to the caseworker's notification address."""
    message = EmailMessage()
    message["From"] = settings.organisation_email
    message["To"] = delivery.target
    message["Subject"] = delivery.subject
    message["Message-ID"] = f"<notification-{delivery.delivery_id}@takedown-tracker>"
    message.set_content(delivery.text)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        # The address itself was refused (550 no such mailbox): retrying cannot help.
        code = max((code for code, _ in error.recipients.values()), default=550)
        result = SendResult(
            ok=False,
            response_status=code,
            error=f"SMTP {code} recipient refused",
            retryable=code < 500,
        )
        return _failed(delivery, result, f"SMTP {code} recipient refused")
    except smtplib.SMTPResponseException as error:
        result = SendResult(
            ok=False,
            response_status=error.smtp_code,
            error=f"SMTP {error.smtp_code}",
            retryable=error.smtp_code < 500,
        )
        return _failed(delivery, result, f"SMTP {error.smtp_code}")
    except (OSError, smtplib.SMTPException) as error:
        # Refused connections, DNS errors (gaierror) and timeouts: the relay may be back later.
        result = SendResult(ok=False, error=type(error).__name__, retryable=True)
        return _failed(delivery, result, type(error).__name__)
    return SendResult(ok=True)
