"""E-mail channel: sends a plain-text removal notice to an abuse or grievance address over SMTP.

Used for hosts, registrars and grievance officers that take complaints by e-mail (addresses from
RDAP abuse contacts or policy data). The notice goes out under the organisation's identity and
never names or contacts the affected person: ``FilingRequest`` carries no such data.

E-mail cannot be deduplicated by the receiver the way an API key can, so the ``Message-ID`` is
derived from the idempotency key: a retry after an unclear failure re-sends a message with the
same ``Message-ID``, which mail systems and ticketing tools treat as the same message.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from string import Template
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from platform_adapters.base import (
    Adapter,
    AdapterConfig,
    ChannelKind,
    FilingReceipt,
    FilingRequest,
    InvalidCredentialsError,
    MissingCredentialsError,
    PermanentError,
    TransientError,
)

MESSAGE_ID_DOMAIN = "takedown-tracker"
SAFE_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+=-]*(\.[A-Za-z0-9_+=-]+)*$")
MAX_REFERENCE_LENGTH = 128

SUBJECT_TEMPLATE = Template(
    "Removal request: non-consensual intimate imagery (reference $reference)"
)

# Lines stay under 78 characters so ordinary notices travel unencoded and read well anywhere.
NOTICE_TEMPLATE = Template(
    """\
To the abuse / grievance team,

This is a request to remove non-consensual intimate imagery: intimate
images or video of a person, published without that person's consent.

Content to remove:
$url_lines

Legal basis: $legal_basis
Deadline: $deadline_text

$organisation_name acts on behalf of the affected person, with their
authority. To protect them, this notice does not identify them; please
direct all correspondence about it to us.

Please remove or disable access to the content above, and to identical
copies of it, and reply to $organisation_email quoting reference
$reference.

Reference: $reference

$organisation_name
$organisation_email
"""
)


class EmailConfig(AdapterConfig):
    """SMTP relay settings and the address notices are sent from."""

    smtp_host: str
    smtp_port: int = Field(ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout_seconds: float = Field(default=15, gt=0)
    from_address: str


def message_reference(idempotency_key: str) -> str:
    """The reference quoted in the notice and used in its Message-ID, derived from the key."""
    if len(idempotency_key) <= MAX_REFERENCE_LENGTH and SAFE_REFERENCE.match(idempotency_key):
        return idempotency_key
    # Keys with characters a Message-ID or subject cannot hold get a stable digest instead.
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def render_notice(request: FilingRequest) -> tuple[str, str]:
    """The notice's subject and plain-text body for one filing."""
    reference = message_reference(request.idempotency_key)
    urls = [request.url]
    for extra_url in request.channel_params.get("urls") or []:
        if isinstance(extra_url, str) and extra_url not in urls:
            urls.append(extra_url)
    body = NOTICE_TEMPLATE.substitute(
        url_lines="\n".join(f"  - {url}" for url in urls),
        legal_basis=request.legal_basis,
        deadline_text=request.deadline_text,
        organisation_name=request.organisation_name,
        organisation_email=request.organisation_email,
        reference=reference,
    )
    return SUBJECT_TEMPLATE.substitute(reference=reference), body


class EmailAdapter(Adapter):
    """Files a report as one plain-text e-mail notice to the channel's abuse address."""

    slug: ClassVar[str] = "email"
    channel_kind: ClassVar[ChannelKind] = ChannelKind.EMAIL
    config_model: ClassVar[type[AdapterConfig]] = EmailConfig
    can_poll: ClassVar[bool] = False

    config: EmailConfig

    @classmethod
    def config_from(cls, settings: Any, stored: Mapping[str, Any]) -> AdapterConfig:
        """SMTP settings and the organisation's sender address, overridden by stored values."""
        values: dict[str, Any] = {
            "smtp_host": settings.smtp_host,
            "smtp_port": settings.smtp_port,
            "username": settings.smtp_username,
            "password": settings.smtp_password,
            "starttls": settings.smtp_starttls,
            "timeout_seconds": settings.smtp_timeout_seconds,
            "from_address": settings.organisation_email,
        }
        values.update(stored)
        return EmailConfig.model_validate(values)

    def file(self, request: FilingRequest) -> FilingReceipt:
        """Send the notice; the receipt's reference is the deterministic Message-ID."""
        address = request.channel_params.get("address")
        if not isinstance(address, str) or not address.strip():
            raise PermanentError("no abuse address for this channel")
        message = self.build_message(request, address.strip())
        self._send(message)
        return FilingReceipt(
            channel_kind=ChannelKind.EMAIL,
            external_ref=str(message["Message-ID"]),
            submitted_at=datetime.now(UTC),
        )

    def build_message(self, request: FilingRequest, address: str) -> EmailMessage:
        """The complete e-mail for one filing, without sending it."""
        subject, body = render_notice(request)
        message = EmailMessage()
        try:
            message["From"] = self.config.from_address
            message["To"] = address
            message["Reply-To"] = request.organisation_email
            message["Subject"] = subject
        except ValueError as error:
            # The header API refuses line breaks, which would otherwise inject headers.
            raise PermanentError(f"cannot build the notice: {error}") from error
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = (
            f"<{message_reference(request.idempotency_key)}@{MESSAGE_ID_DOMAIN}>"
        )
        message.set_content(body)
        return message

    def _send(self, message: EmailMessage) -> None:
        config = self.config
        if config.username and config.password is None:
            raise MissingCredentialsError("SMTP username is set but no password is configured")
        try:
            with smtplib.SMTP(
                config.smtp_host, config.smtp_port, timeout=config.timeout_seconds
            ) as client:
                if config.starttls:
                    client.starttls(context=ssl.create_default_context())
                if config.username and config.password is not None:
                    client.login(config.username, config.password.get_secret_value())
                client.send_message(message)
        except smtplib.SMTPAuthenticationError as error:
            raise InvalidCredentialsError(
                f"SMTP server refused our credentials ({error.smtp_code})"
            ) from error
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            code = max(codes) if codes else 550
            raise _error_for_code(code, "recipient refused") from error
        except smtplib.SMTPConnectError as error:
            # Raised while connecting (e.g. 421/554 greeting): the server is not taking mail now.
            raise TransientError(f"SMTP connection failed ({error.smtp_code})") from error
        except smtplib.SMTPResponseException as error:
            raise _error_for_code(error.smtp_code, "SMTP server refused the message") from error
        except smtplib.SMTPNotSupportedError as error:
            raise PermanentError(f"SMTP server lacks a required feature: {error}") from error
        except (smtplib.SMTPException, OSError) as error:
            # Disconnects, refused connections, DNS failures and timeouts (TimeoutError is OSError).
            raise TransientError(f"SMTP delivery failed ({type(error).__name__})") from error


def _error_for_code(code: int, what: str) -> TransientError | PermanentError:
    if 400 <= code < 500:
        return TransientError(f"{what}, try later ({code})")
    return PermanentError(f"{what} ({code})")
