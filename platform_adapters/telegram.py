"""Telegram: reports go by e-mail to abuse@telegram.org; classifies t.me post pages.

Telegram has no reporting API; besides in-app reports it takes abuse reports at
abuse@telegram.org (https://telegram.org/faq_spam, DOMAIN.md §4). The notice is the e-mail
adapter's; the directory may give another ``address``.

A deleted post says "Message not found" (DOMAIN.md §5). The embedded form of a post
(``https://t.me/<channel>/<id>?embed=1``) renders Telegram's widget: a live post carries a
``tgme_widget_message`` block, a deleted one an error block or none. The plain post page never
carries that block, so its absence there means nothing.
"""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar
from urllib.parse import urlsplit

from platform_adapters.base import FetchedPage, FilingReceipt, FilingRequest, Verdict
from platform_adapters.email import EmailAdapter
from platform_adapters.page_markers import MarkerRules

DEFAULT_ADDRESS = "abuse@telegram.org"
_POST_PATH = re.compile(r"^/(?:s/)?[A-Za-z0-9_]{4,}/\d+/?$")


def _embed_rule(page: FetchedPage, title: str, text: str) -> Verdict | None:
    """An embedded post (``?embed=1``) whose widget has no message, or an error, is gone."""
    parts = urlsplit(page.final_url or page.url)
    if not (_POST_PATH.match(parts.path) and "embed=1" in parts.query):
        return None
    body = page.body_prefix
    # Only Telegram's own widget markup counts; the plain post page never has the block.
    if "tgme_widget_message_error" in body:
        return Verdict.REMOVED
    if "tgme_" in body and "tgme_widget_message" not in body:
        return Verdict.REMOVED
    return None


RULES = MarkerRules(
    hosts=frozenset({"t.me", "telegram.me"}),
    removed=("message not found", "post not found"),
    # Assumed wording of Telegram's previews of private channels and groups (unconfirmed).
    private=("this channel is private", "this group is private", "private channel"),
    page_rule=_embed_rule,
)


class TelegramAdapter(EmailAdapter):
    """E-mails the notice to Telegram's abuse address."""

    slug: ClassVar[str] = "telegram"

    def file(self, request: FilingRequest) -> FilingReceipt:
        """Send the notice to the channel's ``address``, by default abuse@telegram.org."""
        if request.channel_params.get("address"):
            return super().file(request)
        addressed = dataclasses.replace(
            request, channel_params={**request.channel_params, "address": DEFAULT_ADDRESS}
        )
        return super().file(addressed)

    def classify(self, page: FetchedPage) -> Verdict | None:
        """Removed, private or undecided (None) for t.me and telegram.me pages."""
        return RULES.classify(page)
