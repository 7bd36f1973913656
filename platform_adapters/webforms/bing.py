"""Bing: Microsoft's "Report a Concern" form for non-consensual intimate imagery.

Source: Microsoft's announcement of the form (July 2015, via Search Engine Land): it asks for
the reporter's name and e-mail address, the URL of the content, whether the person ever agreed
to its distribution, and whether personal information appears with it. Microsoft removes the
links from Bing results globally. Field labels paraphrase that description (unconfirmed).

Search results are not content pages, so this adapter classifies no pages.
"""

from __future__ import annotations

from typing import ClassVar

from platform_adapters.manual import FieldSpec, FormDefinition
from platform_adapters.webforms import WebFormAdapter

FORM = FormDefinition(
    form_url="https://www.microsoft.com/en-us/concern/revengeporn",
    policy_category="Non-consensual intimate imagery (Report a Concern)",
    category_path=("Report a Concern to Bing", "Non-consensual intimate imagery"),
    fields=(
        FieldSpec("Your name", "reporter_name"),
        FieldSpec("Email address", "reporter_email"),
        FieldSpec("Relationship to the person depicted", "relationship"),
        FieldSpec("URL of the content", "content_url", hint="one URL per line"),
        FieldSpec(
            "Did the person depicted ever agree to the distribution of this content?",
            "description",
            fixed="No",
        ),
        FieldSpec("Additional information", "statement_of_authority"),
        FieldSpec("Reference", "reference"),
    ),
    after_submission=(
        "Record any confirmation number Microsoft shows or e-mails; re-check Bing results for "
        "the URL afterwards (removal is global)."
    ),
    source="https://www.microsoft.com/en-us/concern/revengeporn",
)


class BingWebFormAdapter(WebFormAdapter):
    """Packet for Bing's NCII Report a Concern form."""

    slug: ClassVar[str] = "bing_webform"
    form: ClassVar[FormDefinition] = FORM
