"""Web-form channel: prepares a complete packet that a caseworker submits by hand.

Consumer web forms (Meta, Google, X, TikTok, ...) are not automated: scripted submission risks
the platform's terms and deprioritised reports. Filing here only assembles the packet; the
report waits in ``awaiting_manual`` until the caseworker records the platform's reference.
"""

from __future__ import annotations

from typing import Any, ClassVar

from platform_adapters.base import (
    Adapter,
    AdapterConfig,
    ChannelKind,
    FilingReceipt,
    FilingRequest,
)

DEFAULT_POLICY_CATEGORY = "Non-consensual intimate imagery"

STATEMENT_OF_AUTHORITY = (
    "{organisation} submits this report on behalf of the person shown in the content, with "
    "their authority. The content was published without their consent. To protect them, "
    "their identity is not included; please direct all correspondence to {email}."
)

INSTRUCTIONS = (
    "1. Open the platform's reporting form{form_hint}.",
    '2. Choose the policy category "{policy_category}".',
    "3. Copy each field below into the form, in order.",
    "4. Submit the form before the deadline: {deadline}.",
    "5. Record the platform's reference id in the tracker afterwards "
    "(or note that none was given), quoting our reference {reference}.",
)


class ManualConfig(AdapterConfig):
    """The manual channel needs no configuration."""


class ManualAdapter(Adapter):
    """Builds a ready-to-paste packet for a web form; never touches the network."""

    slug: ClassVar[str] = "manual"
    channel_kind: ClassVar[ChannelKind] = ChannelKind.WEBFORM
    config_model: ClassVar[type[AdapterConfig]] = ManualConfig
    can_poll: ClassVar[bool] = False

    def file(self, request: FilingRequest) -> FilingReceipt:
        """Return the packet for a caseworker to submit; the filing awaits their confirmation."""
        return FilingReceipt(
            channel_kind=ChannelKind.WEBFORM,
            awaiting_manual=True,
            packet=build_packet(request),
        )


def build_packet(request: FilingRequest) -> dict[str, Any]:
    """The web-form packet for one filing: form URL, ordered fields and instructions."""
    form_url = request.channel_params.get("form_url")
    policy_category = request.channel_params.get("policy_category") or DEFAULT_POLICY_CATEGORY
    statement = STATEMENT_OF_AUTHORITY.format(
        organisation=request.organisation_name, email=request.organisation_email
    )
    fields = [
        {"name": "Content URL", "value": request.url},
        {"name": "Reason", "value": _reason_text(request.reason)},
        {"name": "Legal basis", "value": request.legal_basis},
        {"name": "Statement of authority", "value": statement},
        {"name": "Contact e-mail", "value": request.organisation_email},
        {"name": "Reference", "value": request.idempotency_key},
    ]
    instructions = "\n".join(INSTRUCTIONS).format(
        form_hint=f" at {form_url}" if form_url else "",
        policy_category=policy_category,
        deadline=request.deadline_text,
        reference=request.idempotency_key,
    )
    return {
        "platform": request.platform,
        "rung_target": request.rung_target,
        "form_url": form_url,
        "policy_category": policy_category,
        "fields": fields,
        "statement_of_authority": statement,
        "deadline": request.deadline_text,
        "reference": request.idempotency_key,
        "instructions": instructions,
    }


def _reason_text(reason: str) -> str:
    if reason == "non_consensual_intimate_imagery":
        return "Intimate images or video shared without the consent of the person shown."
    return reason.replace("_", " ")
