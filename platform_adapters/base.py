"""The narrow contract every platform adapter implements.

An adapter knows one platform or channel: how to *file* a removal report there, how to *poll*
the platform for that report's status, and how to *classify* a fetched page of that platform
("is the content gone?"). Adapters return typed frozen dataclasses and raise only the errors of
the taxonomy below; they know nothing of the database, Celery or FastAPI.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class ChannelKind(enum.StrEnum):
    """How a filing reaches the platform."""

    API = "api"
    EMAIL = "email"
    WEBFORM = "webform"


class Verdict(enum.StrEnum):
    """What one re-check of a URL concluded. Only ``REMOVED`` counts toward removal."""

    LIVE = "live"
    REMOVED = "removed"
    PRIVATE = "private"
    LOGIN_REQUIRED = "login_required"
    BLOCKED = "blocked"
    GEO_WITHHELD = "geo_withheld"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"


class PlatformStatus(enum.StrEnum):
    """A filing's status as the platform reports it."""

    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    REMOVED = "removed"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class FilingRequest:
    """Everything an adapter may use to file one report at one rung.

    Carries no victim identity: filings go out under the organisation's name.
    """

    idempotency_key: str
    url: str
    platform: str
    rung_target: str
    legal_basis: str
    deadline_text: str
    organisation_name: str
    organisation_email: str
    reason: str = "non_consensual_intimate_imagery"
    channel_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FilingReceipt:
    """What filing produced.

    ``external_ref`` is the platform's reference id when one comes back. ``awaiting_manual``
    with a ``packet`` means a caseworker must submit the packet and confirm the reference.
    """

    channel_kind: ChannelKind
    external_ref: str | None = None
    awaiting_manual: bool = False
    packet: Mapping[str, Any] | None = None
    submitted_at: datetime | None = None
    http_status: int | None = None


@dataclass(frozen=True, slots=True)
class FilingStatus:
    """One poll of the platform about a filing."""

    status: PlatformStatus
    detail: str | None = None
    http_status: int | None = None


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """A bounded view of one HTTP response, for classification. The body is a prefix only."""

    url: str
    final_url: str
    status_code: int
    headers: Mapping[str, str]
    body_prefix: str


#: The response headers a check keeps for its evidence capture record (none carries content).
CAPTURED_HEADERS = ("content-type", "content-length", "last-modified", "etag", "server", "date")


# --- error taxonomy -------------------------------------------------------------------------


class AdapterError(Exception):
    """Base of every error an adapter raises."""

    kind: ClassVar[str] = "adapter"

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class TransientError(AdapterError):
    """Network trouble, 5xx or 429: try again later (after ``retry_after`` seconds if given)."""

    kind = "transient"

    def __init__(
        self, message: str, *, http_status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, http_status=http_status)
        self.retry_after = retry_after


class PermanentError(AdapterError):
    """The platform refused this filing (4xx, rejected): record it and escalate."""

    kind = "permanent"


class MissingCredentialsError(AdapterError):
    """The adapter has no credentials configured: disable the channel and alert."""

    kind = "missing_credentials"


class InvalidCredentialsError(AdapterError):
    """The platform rejected our credentials (401/403 on auth): disable and alert."""

    kind = "invalid_credentials"


# --- the adapter ----------------------------------------------------------------------------


class AdapterConfig(BaseModel):
    """Base of each adapter's typed config. Secrets are ``SecretStr`` fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Adapter(abc.ABC):
    """One platform or channel. Build a fresh instance per use from its config."""

    slug: ClassVar[str]
    channel_kind: ClassVar[ChannelKind]
    config_model: ClassVar[type[AdapterConfig]] = AdapterConfig
    #: Whether ``poll`` can learn status from the platform (else status comes from re-checks).
    can_poll: ClassVar[bool] = False

    def __init__(self, config: AdapterConfig) -> None:
        self.config = config

    @classmethod
    def config_from(cls, settings: Any, stored: Mapping[str, Any]) -> AdapterConfig:
        """This adapter's config from the tracker's settings and its stored credentials.

        ``stored`` holds what an admin saved for this channel (decrypted); it wins over
        settings. Raise ``MissingCredentialsError`` when something required is absent.
        """
        return cls.config_model.model_validate(dict(stored))

    @abc.abstractmethod
    def file(self, request: FilingRequest) -> FilingReceipt:
        """File one removal report; idempotent under ``request.idempotency_key``."""

    def poll(self, external_ref: str) -> FilingStatus:
        """Ask the platform for a filing's status."""
        return FilingStatus(status=PlatformStatus.UNKNOWN)

    def classify(self, page: FetchedPage) -> Verdict | None:
        """Platform-specific verdict for a fetched page, or None to use the generic rules."""
        return None


# --- optional abilities ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WithdrawalRequest:
    """Tell a channel that an earlier report is withdrawn: the affected person no longer wants
    us to act. Carries no URL and no identity, only the references of the original filing."""

    idempotency_key: str  # the original filing's
    external_ref: str | None
    organisation_name: str
    organisation_email: str
    channel_params: Mapping[str, Any] = field(default_factory=dict)


class Withdrawable(abc.ABC):
    """A channel that can be told a report is withdrawn (e-mail can; most web forms cannot)."""

    @abc.abstractmethod
    def withdraw(self, request: WithdrawalRequest) -> None:
        """Send the withdrawal; raises an ``AdapterError`` like ``file``."""
