"""YouTube: the privacy complaint process, for sexually explicit or intimate content.

Source: support.google.com/youtube/answer/142443 (privacy guidelines): the person must be
uniquely identifiable; YouTube accepts complaints from others only in narrow cases (the person
has no computer access, is vulnerable, is the reporter's child, or the reporter is their legal
representative); the reporter identifies where in the video the person appears; the uploader
has reportedly been given 48 hours to remove or edit before YouTube reviews. Field labels are
as the help pages describe the form (unconfirmed). Page strings: DOMAIN.md §5 and YouTube's
player messages.
"""

from __future__ import annotations

from typing import ClassVar

from platform_adapters.manual import TO_FILL, FieldSpec, FormDefinition
from platform_adapters.page_markers import MarkerRules
from platform_adapters.webforms import WebFormAdapter

FORM = FormDefinition(
    form_url="https://support.google.com/youtube/answer/142443",
    policy_category="Privacy complaint: sexually explicit or intimate content",
    category_path=(
        "Privacy complaint process: Continue",
        "I am the legal representative of the person whose privacy is violated",
        "Sexually explicit or intimate content",
    ),
    fields=(
        FieldSpec("Your relationship to the person in the video", "relationship"),
        FieldSpec("Your full legal name", "reporter_name"),
        FieldSpec("Email address", "reporter_email"),
        FieldSpec("Country", "country"),
        FieldSpec("Video URL", "content_url", hint="one video URL per line"),
        FieldSpec(
            "Timestamp where the person appears",
            "description",
            fixed=TO_FILL,
            hint="mm:ss; needed for review",
        ),
        FieldSpec("Describe the privacy violation", "description"),
        FieldSpec("Explain your authority to act on their behalf", "statement_of_authority"),
        FieldSpec("Signature", "signature"),
    ),
    after_submission=(
        "Record the confirmation YouTube shows or e-mails. YouTube reportedly gives the uploader "
        "48 hours to remove the video before review: re-check the URL after that."
    ),
    notes=(
        "YouTube accepts representatives only in narrow cases (legal representative, parent or "
        "guardian, or a person without computer access or who is vulnerable): state which applies.",
    ),
    source="https://support.google.com/youtube/answer/142443",
)

RULES = MarkerRules(
    hosts=frozenset({"youtube.com", "youtu.be", "youtube-nocookie.com"}),
    removed=(
        "this video isn't available anymore",
        "this video has been removed",
        "video unavailable",
    ),
    private=("this video is private",),
    login_required=("sign in to confirm your age",),
    geo_withheld=(
        "not available in your country",
        "has not made this video available in your country",
    ),
)


class YouTubeWebFormAdapter(WebFormAdapter):
    """Packet for YouTube's privacy complaint; classifies youtube.com and youtu.be pages."""

    slug: ClassVar[str] = "youtube_webform"
    form: ClassVar[FormDefinition] = FORM
    rules: ClassVar[MarkerRules | None] = RULES
