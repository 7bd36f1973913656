"""Aylo (Pornhub and its sister sites): the Content Removal Request form.

Source: DOMAIN.md §4 (form with URL, reason and e-mail; Aylo suspends reported content while it
reviews) and the channel directory (pornhub.com/content-removal). Labels beyond those three
fields are unconfirmed. Page strings: Pornhub's disabled/removed video notices (assumed wording
beyond "This video has been disabled"/"removed"); a 404 is left to the generic rules.
"""

from __future__ import annotations

from typing import ClassVar

from platform_adapters.manual import FieldSpec, FormDefinition
from platform_adapters.page_markers import MarkerRules
from platform_adapters.webforms import WebFormAdapter

FORM = FormDefinition(
    form_url="https://www.pornhub.com/content-removal",
    policy_category="Non-consensual content",
    category_path=("Content Removal Request", "Reason: Non-consensual content"),
    fields=(
        FieldSpec("URL(s) of the content", "content_url", hint="one URL per line"),
        FieldSpec("Reason", "description", fixed="Non-consensual content"),
        FieldSpec("Email address", "reporter_email"),
        FieldSpec("Your name", "reporter_name"),
        FieldSpec("Relationship to the person depicted", "relationship"),
        FieldSpec("Additional information", "statement_of_authority"),
        FieldSpec("Signature", "signature"),
    ),
    after_submission=(
        "Aylo replies by e-mail: record the ticket number. Reported content should be suspended "
        "while Aylo reviews it; re-check the URL within a day."
    ),
    source="https://www.pornhub.com/content-removal",
)

RULES = MarkerRules(
    hosts=frozenset({"pornhub.com", "pornhub.org", "youporn.com", "redtube.com", "tube8.com"}),
    removed=(
        "this video has been disabled",
        "this video has been removed",
        "video has been removed",
        "this video was deleted",
    ),
    private=("this video is private",),
    login_required=("verify your age", "age verification"),
    geo_withheld=("not available in your country", "not available in your region"),
)


class AyloWebFormAdapter(WebFormAdapter):
    """Packet for Aylo's Content Removal Request; classifies Pornhub and sister-site pages."""

    slug: ClassVar[str] = "aylo_webform"
    form: ClassVar[FormDefinition] = FORM
    rules: ClassVar[MarkerRules | None] = RULES
