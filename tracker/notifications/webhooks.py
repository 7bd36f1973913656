"""The organisation's webhook: where notifications are POSTed, and the key that signs them.

Every delivery is signed, so a webhook without a secret cannot work: setting a URL without one
(and none stored) generates a secret and hands it back once. The URL is a server-side fetch like
any other, so it must pass intake's address rules when it is set, not only when it is used.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlmodel import Session

from platform_adapters.addresses import AddressPolicy
from tracker.audit.service import record
from tracker.errors import Invalid
from tracker.organisations.models import Organisation

#: ``secrets.token_urlsafe(32)``: 32 random bytes, 43 characters.
GENERATED_SECRET_BYTES = 32


class SecretChange(enum.StrEnum):
    """What a change did to the signing secret (recorded in the audit event)."""

    GENERATED = "generated"
    GIVEN = "given"
    KEPT = "kept"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class WebhookState:
    """The webhook as an admin may see it: the URL, and whether a secret is stored."""

    url: str | None
    has_secret: bool


def check_destination(*, url: str, allowlist: list[str]) -> None:
    """Refuse (422 on ``url``) a webhook whose host, as typed, can never be a public address.

    The same rule as intake, without DNS: an address literal that is not public, ``localhost``,
    an internal name or a metadata name. Every delivery then checks the addresses the host
    resolves to (workers/notify.py), so a name pointing inside is refused when it is used.
    """
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise Invalid.one(("body", "url"), "must be an http(s) URL with a host", "webhook.url")
    refusal = AddressPolicy(allowlist).typed_host_refusal(host)
    if refusal is not None:
        raise Invalid.one(
            ("body", "url"),
            f"destination refused by policy: the webhook host is not a public address "
            f"({refusal.replace('_', ' ')})",
            "webhook.destination_refused",
        )


def get_webhook(*, session: Session, organisation_id: int) -> WebhookState:
    """The organisation's webhook URL and whether a signing secret is stored (never the secret)."""
    organisation = session.get(Organisation, organisation_id)
    assert organisation is not None
    return WebhookState(
        url=organisation.webhook_url, has_secret=organisation.webhook_secret is not None
    )


def set_webhook(
    *,
    session: Session,
    organisation_id: int,
    url: str | None,
    secret: str | None,
    actor: str,
    allowlist: list[str],
) -> tuple[WebhookState, str | None]:
    """Set (or, with no URL, clear) the webhook; returns it and a secret generated just now.

    A given secret replaces the stored one; without one the stored secret is kept, and when
    there is none a new one is generated. The generated secret is returned this once only.
    """
    organisation = session.get(Organisation, organisation_id)
    assert organisation is not None
    generated: str | None = None
    if url is None:
        change = SecretChange.CLEARED
        organisation.webhook_url = organisation.webhook_secret = None
    else:
        check_destination(url=url, allowlist=allowlist)
        organisation.webhook_url = url
        if secret is not None:
            change, organisation.webhook_secret = SecretChange.GIVEN, secret
        elif organisation.webhook_secret is not None:
            change = SecretChange.KEPT
        else:
            generated = secrets.token_urlsafe(GENERATED_SECRET_BYTES)
            change, organisation.webhook_secret = SecretChange.GENERATED, generated
    session.add(organisation)
    record(
        session=session,
        actor=actor,
        action="organisation.webhook_set" if url is not None else "organisation.webhook_cleared",
        object_type="organisation",
        object_id=organisation.id,
        organisation_id=organisation.id,
        details={"enabled": url is not None, "secret": change.value},
    )
    return get_webhook(session=session, organisation_id=organisation_id), generated
