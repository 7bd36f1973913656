"""TikTok: the privacy report web form, for intimate content shared without consent.

Source: the channel directory's form URL (tiktok.com/legal/report/privacy). Field labels are
as TikTok's report forms are publicly described (unconfirmed); TikTok sends updates by e-mail.
Page strings: DOMAIN.md §5 plus TikTok's "Video currently unavailable" notice.
"""

from __future__ import annotations

from typing import ClassVar

from platform_adapters.manual import FieldSpec, FormDefinition
from platform_adapters.page_markers import MarkerRules
from platform_adapters.webforms import WebFormAdapter

FORM = FormDefinition(
    form_url="https://www.tiktok.com/legal/report/privacy",
    policy_category="Non-consensual intimate imagery",
    category_path=("Privacy", "Non-consensual intimate imagery"),
    fields=(
        FieldSpec("Your full name", "reporter_name"),
        FieldSpec("Email address", "reporter_email"),
        FieldSpec("I am reporting on behalf of", "relationship"),
        FieldSpec("Country/region", "country"),
        FieldSpec("Link(s) to the content", "content_url", hint="one video URL per line"),
        FieldSpec("Description", "description"),
        FieldSpec("Statement of authority", "statement_of_authority"),
        FieldSpec("Signature", "signature"),
    ),
    after_submission=(
        "TikTok answers by e-mail: record the ticket number from its confirmation, then "
        "re-check the URL."
    ),
    source="https://www.tiktok.com/legal/report/privacy",
)

RULES = MarkerRules(
    hosts=frozenset({"tiktok.com"}),
    removed=(
        "this video is no longer available",
        "video currently unavailable",
        "couldn't find this account",
    ),
    private=("this account is private",),
    login_required=("log in to tiktok",),
)


class TikTokWebFormAdapter(WebFormAdapter):
    """Packet for TikTok's privacy report; classifies tiktok.com pages."""

    slug: ClassVar[str] = "tiktok_webform"
    form: ClassVar[FormDefinition] = FORM
    rules: ClassVar[MarkerRules | None] = RULES
