"""Google Search: the request to remove non-consensual explicit or intimate personal images.

Source: support.google.com/websearch/answer/6302812 (the form is reached from that page) and
Google's companion help page for fake imagery (answer/9116649): an authorised representative
may file and "must explain how they have the authority to act on your behalf"; Google reviews
only the URLs submitted; an automated confirmation e-mail follows, then a notification of the
outcome; requests are tracked in "Results about you". Field labels are as Google's help pages
describe them, not copied from the live form (unconfirmed).

Delisting removes search results only: the source page is checked separately, so this adapter
classifies no pages.
"""

from __future__ import annotations

from typing import ClassVar

from platform_adapters.manual import FieldSpec, FormDefinition
from platform_adapters.webforms import WebFormAdapter

FORM = FormDefinition(
    form_url="https://support.google.com/websearch/answer/6302812",
    policy_category="Remove non-consensual explicit or intimate personal images from Google",
    category_path=(
        "Type of content you want to remove: Content contains nudity or sexual material",
        "Describe the content: Content shows me nude, in a sexual act, or in an intimate state",
    ),
    fields=(
        FieldSpec("Are you the person depicted or their representative?", "relationship"),
        FieldSpec("Your full name", "reporter_name"),
        FieldSpec("Name of the person you represent", "affected_person"),
        FieldSpec("Country of residence", "country"),
        FieldSpec("Contact email address", "reporter_email"),
        FieldSpec("Explain your authority to act on their behalf", "statement_of_authority"),
        FieldSpec(
            "URLs of the web pages or images to remove",
            "content_url",
            hint="one URL per line; Google reviews only the URLs given here",
        ),
        FieldSpec("Additional information", "description"),
        FieldSpec("Signature", "signature"),
    ),
    after_submission=(
        "Google sends an automated confirmation e-mail: record the request's reference from it. "
        "Track the request in Google's 'Results about you' (in progress / approved / denied) and "
        "record the outcome e-mail. Delisting is not source removal: keep the source URL's "
        "rung going."
    ),
    reference_format="from Google's confirmation e-mail (format not published)",
    notes=(
        "Google may ask for more information; a denied request can be resubmitted with more "
        "material.",
    ),
    source="https://support.google.com/websearch/answer/6302812",
)


class GoogleSearchWebFormAdapter(WebFormAdapter):
    """Packet for Google's NCII delisting request."""

    slug: ClassVar[str] = "google_search_webform"
    form: ClassVar[FormDefinition] = FORM
