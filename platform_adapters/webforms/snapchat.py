"""Snapchat: the safety support request, for sexual content shared without consent.

Source: the channel directory's form URL and category (help.snapchat.com requests). Field
labels and page strings are assumed from Snapchat's public web pages (unconfirmed): public
Snapchat content lives at story.snapchat.com and snapchat.com/add|spotlight, and a gone story
or profile says it is no longer available or not found.
"""

from __future__ import annotations

from typing import ClassVar

from platform_adapters.manual import TO_FILL, FieldSpec, FormDefinition
from platform_adapters.page_markers import MarkerRules
from platform_adapters.webforms import WebFormAdapter

FORM = FormDefinition(
    form_url="https://help.snapchat.com/hc/en-us/requests/new",
    policy_category="Sexual content involving me shared without consent",
    category_path=("Report a safety concern", "Sexual content involving me shared without consent"),
    fields=(
        FieldSpec("Your email", "reporter_email"),
        FieldSpec("Your name", "reporter_name"),
        FieldSpec(
            "Username of the account that shared it",
            "description",
            fixed=TO_FILL,
            hint="from the link or the story",
        ),
        FieldSpec("Link to the content", "content_url"),
        FieldSpec("Country", "country"),
        FieldSpec("Please describe the issue", "statement_of_authority"),
        FieldSpec("Reference", "reference"),
    ),
    after_submission=(
        "Snapchat answers by e-mail with a ticket: record its number, then re-check the link."
    ),
    source="https://help.snapchat.com/hc/en-us/requests/new",
)

RULES = MarkerRules(
    hosts=frozenset({"snapchat.com"}),
    removed=(
        "this content is no longer available",
        "this story is no longer available",
        "sorry, this page was not found",
    ),
    private=("this account is private",),
)


class SnapchatWebFormAdapter(WebFormAdapter):
    """Packet for Snapchat's safety request; classifies snapchat.com pages."""

    slug: ClassVar[str] = "snapchat_webform"
    form: ClassVar[FormDefinition] = FORM
    rules: ClassVar[MarkerRules | None] = RULES
