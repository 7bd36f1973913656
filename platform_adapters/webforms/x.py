"""X (formerly Twitter): the US TAKE IT DOWN Act removal form.

Source: help.x.com/en/rules-and-policies/us-tida: in the app, "Private or Non-Consensual Content
> Report content under the US Take It Down Act", or the Help Center form (no X account needed);
X removes valid reports within 48 hours and notifies the reporter of the outcome. The fields
follow the Act's elements of a valid request (47 U.S.C. 223a: signature, identification and
location, good-faith statement, contact information); their exact labels are unconfirmed.
Soft-404 strings: DOMAIN.md §5 (Bellingcat auto-archiver) plus X's current wording.
"""

from __future__ import annotations

from typing import ClassVar

from platform_adapters.manual import FieldSpec, FormDefinition
from platform_adapters.page_markers import MarkerRules
from platform_adapters.webforms import WebFormAdapter

FORM = FormDefinition(
    form_url="https://help.x.com/forms/safety-and-sensitive-content/take-it-down",
    policy_category="Report content under the US Take It Down Act",
    category_path=(
        "Private or Non-Consensual Content",
        "Report content under the US Take It Down Act",
    ),
    fields=(
        FieldSpec("Full name", "reporter_name"),
        FieldSpec("Email address", "reporter_email"),
        FieldSpec("Relationship to the person depicted", "relationship"),
        FieldSpec("Country", "country"),
        FieldSpec("Link(s) to the content", "content_url", hint="one post URL per line"),
        FieldSpec("Description of the content", "description"),
        FieldSpec("Statement of authority", "statement_of_authority"),
        FieldSpec("Good-faith statement", "good_faith_statement"),
        FieldSpec("Electronic signature", "signature"),
    ),
    after_submission=(
        "X notifies the reporter of the outcome by e-mail: record the case number it gives. "
        "Removal of a valid request is due within 48 hours; re-check the URL after that."
    ),
    reference_format="case number from X's e-mail (format not published)",
    source="https://help.x.com/en/rules-and-policies/us-tida",
)

RULES = MarkerRules(
    hosts=frozenset({"x.com", "twitter.com"}),
    removed=(
        "this tweet is unavailable",
        "this post is unavailable",
        "hmm...this page doesn't exist",
        "this account doesn't exist",
        "account suspended",
        "account is suspended",
    ),
    private=("these posts are protected", "these tweets are protected"),
    login_required=("log in to x", "sign in to x"),
    geo_withheld=("withheld in",),
)


class XWebFormAdapter(WebFormAdapter):
    """Packet for X's TAKE IT DOWN form; classifies x.com and twitter.com pages."""

    slug: ClassVar[str] = "x_webform"
    form: ClassVar[FormDefinition] = FORM
    rules: ClassVar[MarkerRules | None] = RULES
