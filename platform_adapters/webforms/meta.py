"""Meta (Facebook, Instagram): the NCII report, one form per app.

Source: Meta's NCII pages (about.meta.com/actions/safety/topics/bullying-harassment/ncii and
facebook.com/safety/notwithoutmyconsent): report in the app or through the help centre; outcomes
arrive in the Support Inbox. The form URLs are the channel directory's (it may override them);
field labels are as Meta's help pages describe the privacy-violation form (unconfirmed).
Page strings: DOMAIN.md §5 (Bellingcat auto-archiver).
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar
from urllib.parse import urlsplit

from platform_adapters.base import FilingRequest
from platform_adapters.manual import FieldSpec, FormDefinition
from platform_adapters.page_markers import MarkerRules, host_matches
from platform_adapters.webforms import WebFormAdapter

INSTAGRAM_HOSTS = frozenset({"instagram.com", "instagr.am"})
FACEBOOK_HOSTS = frozenset({"facebook.com", "fb.com", "fb.watch", "messenger.com"})

FACEBOOK_FORM = FormDefinition(
    form_url="https://www.facebook.com/help/contact/567360146613371",
    policy_category="Non-consensual intimate imagery",
    category_path=("Nudity", "Sharing private images"),
    fields=(
        FieldSpec("Your full name", "reporter_name"),
        FieldSpec("Contact email address", "reporter_email"),
        FieldSpec("Who is in the image?", "relationship"),
        FieldSpec("Country", "country"),
        FieldSpec("Links (URLs) to the content", "content_url", hint="one URL per line"),
        FieldSpec("Please provide additional information", "statement_of_authority"),
        FieldSpec("Reference", "reference"),
    ),
    after_submission=(
        "Meta answers in the Support Inbox or by e-mail: record any report id it gives. "
        "Re-check the URL; Meta also blocks re-uploads of removed images by photo matching."
    ),
    notes=("StopNCII.org hashing (done by the person on their own device) covers Meta's apps.",),
    source="https://about.meta.com/actions/safety/topics/bullying-harassment/ncii",
)
INSTAGRAM_FORM = replace(
    FACEBOOK_FORM, form_url="https://help.instagram.com/contact/567360146613371"
)

RULES = MarkerRules(
    hosts=FACEBOOK_HOSTS | INSTAGRAM_HOSTS,
    removed=(
        "this content isn't available",
        "the link you followed may be broken",
        "this page isn't available",
        "sorry, this page isn't available",
    ),
    private=("this account is private",),
    login_required=(
        "log in to continue",
        "you must log in to continue",
        "log in or sign up to view",
        "login \u2022 instagram",
    ),
)


class MetaWebFormAdapter(WebFormAdapter):
    """Packet for Meta's NCII report (Facebook or Instagram form by the URL's host)."""

    slug: ClassVar[str] = "meta_webform"
    form: ClassVar[FormDefinition] = FACEBOOK_FORM
    rules: ClassVar[MarkerRules | None] = RULES

    def form_for(self, request: FilingRequest) -> FormDefinition:
        """The Instagram form for Instagram URLs, the Facebook form otherwise."""
        if host_matches(urlsplit(request.url).hostname or "", INSTAGRAM_HOSTS):
            return INSTAGRAM_FORM
        return FACEBOOK_FORM
