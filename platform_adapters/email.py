"""E-mail channel: sends a plain-text removal notice to an abuse or grievance address over SMTP.

Used for hosts, registrars and grievance officers that take complaints by e-mail (addresses from
RDAP abuse contacts or policy data). The notice goes out under the organisation's identity and
never names the affected person unless the channel requires it and the case records consent.

The notice text comes from ``platform_adapters.notices`` (one template per jurisdiction).

E-mail cannot be deduplicated by the receiver the way an API key can, so the ``Message-ID`` is
derived from the idempotency key: a retry after an unclear failure re-sends a message with the
same ``Message-ID``, which mail systems and ticketing tools treat as the same message.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from platform_adapters.base import (
    Adapter,
    AdapterConfig,
    AdapterError,
    ChannelKind,
    FilingReceipt,
    FilingRequest,
    InvalidCredentialsError,
    MissingCredentialsError,
    PermanentError,
    TransientError,
    Withdrawable,
    WithdrawalRequest,
)
from platform_adapters.notices import UnknownNoticeTemplate, notice_reference, render_notice

MESSAGE_ID_DOMAIN = "takedown-tracker"
#: Failures are logged by the notice reference (the filing's idempotency key, also the
#: Message-ID) and the SMTP code or error class: never the address, the URL or the text.
logger = logging.getLogger(__name__)
#: Kept under its old name: the reference doubles as the Message-ID's local part.
message_reference = notice_reference


class EmailConfig(AdapterConfig):
    """SMTP relay settings and the address notices are sent from."""

    smtp_host: str
    smtp_port: int = Field(ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout_seconds: float = Field(default=15, gt=0)
    from_address: str


class EmailAdapter(Adapter, Withdrawable):
    """Files a report as one plain-text e-mail notice to the channel's abuse address; can tell
    the same address that a report is withdrawn."""

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
        try:
            self._send(message)
        except AdapterError as error:
            logger.warning(
                "e-mail filing %s failed (%s): %s",
                message_reference(request.idempotency_key),
                error.kind,
                error.message,
            )
            raise
        return FilingReceipt(
            channel_kind=ChannelKind.EMAIL,
            external_ref=str(message["Message-ID"]),
            submitted_at=datetime.now(UTC),
        )

    def build_message(self, request: FilingRequest, address: str) -> EmailMessage:
        """The complete e-mail for one filing, without sending it."""
        try:
            notice = render_notice(request, language=self.language_for(request))
        except UnknownNoticeTemplate as error:
            raise PermanentError(f"cannot build the notice: {error}") from error
        message = EmailMessage()
        try:
            message["From"] = self.config.from_address
            message["To"] = address
            message["Reply-To"] = request.organisation_email
            message["Subject"] = notice.subject
        except ValueError as error:
            # The header API refuses line breaks, which would otherwise inject headers.
            raise PermanentError(f"cannot build the notice: {error}") from error
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = (
            f"<{message_reference(request.idempotency_key)}@{MESSAGE_ID_DOMAIN}>"
        )
        message.set_content(notice.body)
        return message

    def withdraw(self, request: WithdrawalRequest) -> None:
        """Tell the channel's address that our earlier notice is withdrawn (a reply to it)."""
        address = request.channel_params.get("address")
        if not isinstance(address, str) or not address.strip():
            raise PermanentError("no abuse address for this channel")
        reference = message_reference(request.idempotency_key)
        message = EmailMessage()
        try:
            message["From"] = self.config.from_address
            message["To"] = address.strip()
            message["Reply-To"] = request.organisation_email
            message["Subject"] = f"Withdrawn: our removal request (reference {reference})"
        except ValueError as error:
            raise PermanentError(f"cannot build the withdrawal: {error}") from error
        message["Date"] = format_datetime(datetime.now(UTC))
        original = f"<{reference}@{MESSAGE_ID_DOMAIN}>"
        message["Message-ID"] = f"<{reference}.withdrawn@{MESSAGE_ID_DOMAIN}>"
        message["In-Reply-To"] = original
        message["References"] = original
        message.set_content(
            f"To the abuse / grievance team,\n\n"
            f"The affected person has withdrawn their consent for {request.organisation_name} "
            f"to act for them. Please treat our removal request with reference {reference} as "
            f"withdrawn by us, and take no further action on it because of our request.\n\n"
            f"This does not ask you to restore anything you removed; your own policies apply.\n\n"
            f"Reference: {reference}\n\n{request.organisation_name}\n"
            f"{request.organisation_email}\n"
        )
        try:
            self._send(message)
        except AdapterError as error:
            logger.warning("withdrawal %s failed (%s): %s", reference, error.kind, error.message)
            raise

    def language_for(self, request: FilingRequest) -> str:
        """The notice language: the channel's ``language`` parameter, else English."""
        language = request.channel_params.get("language")
        return language if isinstance(language, str) and language else "en"

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
