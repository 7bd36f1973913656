"""Web-form channel: prepares a complete packet that a caseworker submits by hand.

Consumer web forms (Meta, Google, X, TikTok, ...) are not automated: scripted submission risks
the platform's terms and deprioritised reports. Filing here only assembles the packet; the
report waits in ``awaiting_manual`` until the caseworker records the platform's reference.

Packets are data-driven: a ``FormDefinition`` names the form's URL, the policy category to
choose and its fields in order, each mapped to one value of a small vocabulary computed from
the filing request (``packet_values``). Each platform's module is then a form definition plus
its page rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from platform_adapters.base import (
    Adapter,
    AdapterConfig,
    ChannelKind,
    FilingReceipt,
    FilingRequest,
)
from platform_adapters.notices import is_identity_disclosed

DEFAULT_POLICY_CATEGORY = "Non-consensual intimate imagery"

STATEMENT_OF_AUTHORITY = (
    "{organisation} submits this report on behalf of the person shown in the content, with "
    "their authority. The content was published without their consent. To protect them, "
    "their identity is not included; please direct all correspondence to {email}."
)
STATEMENT_OF_AUTHORITY_NAMED = (
    "{organisation} submits this report on behalf of {identity}, the person shown in the "
    "content, with their authority and their consent to be named. The content was published "
    "without their consent. Please direct all correspondence to {email}."
)
GOOD_FAITH_STATEMENT = (
    "I have a good-faith belief that the intimate image or video identified above is not "
    "consensual: it was published without the consent of the identifiable person shown."
)
#: Shown where a value must come from the caseworker; the packet lists these under "to_fill".
TO_FILL = "[caseworker: fill in]"
WITHHELD_IDENTITY = "[withheld: no consent recorded to name the affected person]"

INSTRUCTIONS = (
    "1. Open the platform's reporting form{form_hint}.",
    '2. Choose the policy category "{policy_category}".',
    "3. Copy each field below into the form, in order.",
    "4. Submit the form before the deadline: {deadline}.",
    "5. Record the platform's reference id in the tracker afterwards "
    "(or note that none was given), quoting our reference {reference}.",
)

#: The values a form field can take, by name (see ``packet_values``).
VOCABULARY = (
    "content_url",
    "reporter_name",
    "reporter_organisation",
    "reporter_email",
    "legal_basis",
    "statement_of_authority",
    "good_faith_statement",
    "signature",
    "reference",
    "description",
    "country",
    "deadline",
    "affected_person",
    "relationship",
)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One form field: its label as on the form, the vocabulary value it takes, a hint."""

    name: str
    source: str
    hint: str | None = None
    #: A fixed answer (e.g. a radio choice) instead of a vocabulary value.
    fixed: str | None = None


@dataclass(frozen=True, slots=True)
class FormDefinition:
    """One web form: where it is, what to choose, its fields in order, what to record after."""

    form_url: str | None
    policy_category: str
    fields: tuple[FieldSpec, ...]
    category_path: tuple[str, ...] = ()
    after_submission: str = ""
    reference_format: str | None = None
    notes: tuple[str, ...] = ()
    source: str = ""


DEFAULT_FORM = FormDefinition(
    form_url=None,
    policy_category=DEFAULT_POLICY_CATEGORY,
    fields=(
        FieldSpec("Content URL", "content_url"),
        FieldSpec("Reason", "description"),
        FieldSpec("Legal basis", "legal_basis"),
        FieldSpec("Statement of authority", "statement_of_authority"),
        FieldSpec("Contact e-mail", "reporter_email"),
        FieldSpec("Reference", "reference"),
    ),
)


class ManualConfig(AdapterConfig):
    """The manual channel needs no configuration."""


class ManualAdapter(Adapter):
    """Builds a ready-to-paste packet for a web form; never touches the network."""

    slug: ClassVar[str] = "manual"
    channel_kind: ClassVar[ChannelKind] = ChannelKind.WEBFORM
    config_model: ClassVar[type[AdapterConfig]] = ManualConfig
    can_poll: ClassVar[bool] = False
    form: ClassVar[FormDefinition] = DEFAULT_FORM

    def form_for(self, request: FilingRequest) -> FormDefinition:
        """The form this filing goes through (one per adapter unless a subclass chooses)."""
        return self.form

    def file(self, request: FilingRequest) -> FilingReceipt:
        """Return the packet for a caseworker to submit; the filing awaits their confirmation."""
        return FilingReceipt(
            channel_kind=ChannelKind.WEBFORM,
            awaiting_manual=True,
            packet=build_packet(request, self.form_for(request)),
        )


def packet_values(request: FilingRequest) -> dict[str, str]:
    """Every vocabulary value for one filing."""
    params = request.channel_params
    urls = [request.url]
    for extra_url in params.get("urls") or []:
        if isinstance(extra_url, str) and extra_url not in urls:
            urls.append(extra_url)
    organisation, email = request.organisation_name, request.organisation_email
    if is_identity_disclosed(params):
        identity = str(params["identity"]).strip()
        statement = STATEMENT_OF_AUTHORITY_NAMED.format(
            organisation=organisation, identity=identity, email=email
        )
    else:
        identity = WITHHELD_IDENTITY
        statement = STATEMENT_OF_AUTHORITY.format(organisation=organisation, email=email)
    signatory = str(params.get("signatory") or organisation)
    return {
        "content_url": "\n".join(urls),
        "reporter_name": signatory,
        "reporter_organisation": organisation,
        "reporter_email": email,
        "legal_basis": request.legal_basis,
        "statement_of_authority": statement,
        "good_faith_statement": GOOD_FAITH_STATEMENT,
        "signature": f"/s/ {signatory}, authorised representative, for {organisation}",
        "reference": request.idempotency_key,
        "description": _reason_text(request.reason),
        "country": str(params.get("country") or TO_FILL),
        "deadline": request.deadline_text,
        "affected_person": identity,
        "relationship": f"Authorised representative ({organisation})",
    }


def build_packet(request: FilingRequest, form: FormDefinition = DEFAULT_FORM) -> dict[str, Any]:
    """The web-form packet for one filing: form URL, ordered fields and instructions."""
    params: Mapping[str, Any] = request.channel_params
    # The channel directory wins over the module's defaults: forms move.
    form_url = params.get("form_url") or form.form_url
    policy_category = params.get("policy_category") or form.policy_category
    values = packet_values(request)
    fields = [
        {"name": spec.name, "value": spec.fixed if spec.fixed is not None else values[spec.source]}
        | ({"hint": spec.hint} if spec.hint else {})
        for spec in form.fields
    ]
    instructions = "\n".join(INSTRUCTIONS).format(
        form_hint=f" at {form_url}" if form_url else "",
        policy_category=policy_category,
        deadline=request.deadline_text,
        reference=request.idempotency_key,
    )
    packet: dict[str, Any] = {
        "platform": request.platform,
        "rung_target": request.rung_target,
        "form_url": form_url,
        "policy_category": policy_category,
        "fields": fields,
        "statement_of_authority": values["statement_of_authority"],
        "deadline": request.deadline_text,
        "reference": request.idempotency_key,
        "instructions": instructions,
    }
    if form is not DEFAULT_FORM:
        packet |= {
            "category_path": list(form.category_path),
            "after_submission": form.after_submission,
            "reference_format": form.reference_format,
            "notes": list(form.notes),
            "to_fill": [field["name"] for field in fields if field["value"] == TO_FILL],
            "source": form.source,
        }
    return packet


def _reason_text(reason: str) -> str:
    if reason == "non_consensual_intimate_imagery":
        return "Intimate images or video shared without the consent of the person shown."
    return reason.replace("_", " ")
