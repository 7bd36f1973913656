"""Platform-specific "is it gone" rules from marker strings, shared by the platform adapters.

The rules lean away from a false "removed": only 2xx pages of the platform's own hosts are
judged (404/410/451 and 403 are left to the generic rules, which never treat 403 as removal),
and a marker counts only in the page title or on a short page, where it is the page's message
rather than a quotation in a long page. Checked in a fixed order: bot wall, country withholding,
private, login wall, removed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from platform_adapters.base import FetchedPage, Verdict

#: Visible text longer than this is a real page; markers then count only in the title.
SHORT_PAGE_CHARACTERS = 4000

BOT_WALL_MARKERS = (
    "captcha",
    "just a moment...",
    "checking your browser",
    "verify you are human",
    "unusual traffic",
    "sign in to confirm you're not a bot",
)

_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_INVISIBLE = re.compile(
    r"<(script|style|noscript|template)\b.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL
)
_TAG = re.compile(r"<[^>]*>?", re.DOTALL)


@dataclass(frozen=True, slots=True)
class MarkerRules:
    """One platform's hosts and the lower-case strings that decide a verdict."""

    hosts: frozenset[str]
    removed: tuple[str, ...] = ()
    private: tuple[str, ...] = ()
    login_required: tuple[str, ...] = ()
    geo_withheld: tuple[str, ...] = ()
    bot_wall: tuple[str, ...] = BOT_WALL_MARKERS
    #: Extra rule run on a 2xx own-host page before the markers (e.g. a URL-path rule).
    page_rule: Callable[[FetchedPage, str, str], Verdict | None] | None = None

    def classify(self, page: FetchedPage) -> Verdict | None:
        """The verdict for a page of these hosts, or None for other hosts and non-2xx pages."""
        if not is_own_host(page, self.hosts) or not 200 <= page.status_code < 300:
            return None
        title, text = page_text(page.body_prefix)
        searched = title if len(text) >= SHORT_PAGE_CHARACTERS else f"{title}\n{text}"
        ordered: Iterable[tuple[tuple[str, ...], Verdict]] = (
            (self.bot_wall, Verdict.BLOCKED),
            (self.geo_withheld, Verdict.GEO_WITHHELD),
            (self.private, Verdict.PRIVATE),
            (self.login_required, Verdict.LOGIN_REQUIRED),
        )
        for markers, marked in ordered:
            if any(marker in searched for marker in markers):
                return marked
        if self.page_rule is not None:
            verdict = self.page_rule(page, title, text)
            if verdict is not None:
                return verdict
        if any(marker in searched for marker in self.removed):
            return Verdict.REMOVED
        return None


def host_matches(host: str, hosts: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``hosts`` or a subdomain of one."""
    host = host.lower().rstrip(".")
    return any(host == own or host.endswith(f".{own}") for own in hosts)


def is_own_host(page: FetchedPage, hosts: Iterable[str]) -> bool:
    """Whether the page we got (after redirects) is served by one of ``hosts``."""
    return host_matches(urlsplit(page.final_url or page.url).hostname or "", hosts)


def page_text(body: str) -> tuple[str, str]:
    """The normalised title and visible text of an HTML prefix, lower-case."""
    match = _TITLE.search(body)
    title = _normalise(match.group(1)) if match else ""
    return title, _normalise(_TAG.sub(" ", _INVISIBLE.sub(" ", body)))


def _normalise(fragment: str) -> str:
    """Unescape entities, straighten apostrophes, collapse whitespace, lower-case."""
    unescaped = html.unescape(fragment).replace("\u2019", "'").replace("\u2026", "...")
    return " ".join(unescaped.split()).lower()
