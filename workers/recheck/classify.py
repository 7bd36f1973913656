"""Generic verdict rules: decide from one fetched page whether reported content is still up.

A false "removed" closes a report while the content is still up, so the rules lean the other
way: 403 and 429 are bot walls, not removal, and the platforms' "gone" strings count only in the
page title or on short pages, where they are the page's message rather than a quotation.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from platform_adapters.base import FetchedPage, Verdict

PlatformRule = Callable[[FetchedPage], Verdict | None]

#: Visible text longer than this is a real page; markers then count only in the title.
SHORT_PAGE_CHARACTERS = 4000

# Source of the marker strings: DOMAIN.md §5, which takes the "soft 404" strings from the
# Bellingcat auto-archiver's deletion detection, plus each platform's current wording
# (X renamed tweets to posts). All are compared lower-case with straight apostrophes.

#: Strings platforms show with HTTP 200 when the content was deleted ("soft 404").
SOFT_404_MARKERS: dict[str, tuple[str, ...]] = {
    "x": (
        "this tweet is unavailable",
        "this post is unavailable",
        "hmm...this page doesn't exist",
        "this account doesn't exist",
    ),
    "facebook": ("this content isn't available", "the link you followed may be broken"),
    "instagram": ("sorry, this page isn't available",),
    "tiktok": ("this video is no longer available", "couldn't find this account"),
    "youtube": ("this video isn't available anymore", "this video has been removed"),
    "reddit": ("sorry, this post has been removed", "there doesn't seem to be anything here"),
    "telegram": ("message not found",),
    "generic": ("page not found", "404 not found"),
}

#: Content that exists but is hidden from us: not removal.
PRIVATE_MARKERS: tuple[str, ...] = ("this video is private", "this account is private")

#: Pages that ask to sign in before showing anything.
LOGIN_MARKERS: tuple[str, ...] = (
    "log in to continue",
    "log in to see",
    "you must log in",
    "you need to log in",
    "sign in to continue",
    "login required",
)

#: Bot walls and challenges (Cloudflare, captchas, YouTube's "confirm you're not a bot").
BOT_WALL_MARKERS: tuple[str, ...] = (
    "captcha",
    "just a moment...",
    "attention required! | cloudflare",
    "checking your browser",
    "verify you are human",
    "are you a robot",
    "unusual traffic",
    "sign in to confirm you're not a bot",
)

#: Content withheld in the country the check ran from (blocking orders, legal demands).
GEO_MARKERS: tuple[str, ...] = (
    "not available in your country",
    "not available in your region",
    "withheld in",
)

#: Final-URL paths that mean a redirect to a sign-in page.
LOGIN_PATH = re.compile(r"/(?:accounts/)?(?:login|signin|sign_in|log_in)\b", re.IGNORECASE)

#: Every marker with the verdict it gives, in order of precedence: bot wall, geo block, private,
#: soft 404 (per platform), login wall. The first marker found decides.
_ORDERED_MARKERS: tuple[tuple[str, Verdict, str], ...] = (
    *((marker, Verdict.BLOCKED, "bot_wall") for marker in BOT_WALL_MARKERS),
    *((marker, Verdict.GEO_WITHHELD, "geo_withheld") for marker in GEO_MARKERS),
    *((marker, Verdict.PRIVATE, "private") for marker in PRIVATE_MARKERS),
    *(
        (marker, Verdict.REMOVED, f"soft_404:{platform}")
        for platform, markers in SOFT_404_MARKERS.items()
        for marker in markers
    ),
    *((marker, Verdict.LOGIN_REQUIRED, "login_wall") for marker in LOGIN_MARKERS),
)

_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_INVISIBLE = re.compile(
    r"<(script|style|noscript|template)\b.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL
)
_TAG = re.compile(r"<[^>]*>?", re.DOTALL)
_STATUS_VERDICTS: Mapping[int, Verdict] = {
    404: Verdict.REMOVED,
    410: Verdict.REMOVED,
    451: Verdict.REMOVED,
    401: Verdict.LOGIN_REQUIRED,
    403: Verdict.BLOCKED,
    429: Verdict.BLOCKED,
}


def classify_page(
    page: FetchedPage, platform_rule: PlatformRule | None = None
) -> tuple[Verdict, str]:
    """Decide a page's verdict and a short machine-readable reason for it."""
    if platform_rule is not None:
        verdict = platform_rule(page)
        if verdict is not None:
            return verdict, "platform_rule"
    status = page.status_code
    if status in _STATUS_VERDICTS:
        return _STATUS_VERDICTS[status], f"http_{status}"
    if 300 <= status < 400:
        return Verdict.UNKNOWN, "redirect_not_followed"
    if not 200 <= status < 300:
        return Verdict.UNKNOWN, f"http_{status}"
    return _classify_content(page)


def _classify_content(page: FetchedPage) -> tuple[Verdict, str]:
    """Verdict for a 2xx page from its headers, final URL and text."""
    if _header(page.headers, "cf-mitigated") == "challenge":
        return Verdict.BLOCKED, "bot_wall"
    if page.final_url != page.url and LOGIN_PATH.search(urlsplit(page.final_url).path):
        return Verdict.LOGIN_REQUIRED, "login_redirect"
    title, text = page_text(page.body_prefix)
    # Where markers count: the title always, the whole text only on a short page.
    searched = title if len(text) >= SHORT_PAGE_CHARACTERS else f"{title}\n{text}"
    # Order matters: a bot wall or geo block may also say "isn't available"; only an
    # unambiguous page may count as removal. _ORDERED_MARKERS lists them in that order.
    for marker, verdict, reason in _ORDERED_MARKERS:
        if marker in searched:
            return verdict, reason
    return Verdict.LIVE, f"http_{page.status_code}"


def page_text(body: str) -> tuple[str, str]:
    """The normalised title and visible text of an HTML prefix, lower-case."""
    match = _TITLE.search(body)
    title = _normalise(match.group(1)) if match else ""
    text = _normalise(_TAG.sub(" ", _INVISIBLE.sub(" ", body)))
    return title, text


def _normalise(fragment: str) -> str:
    """Unescape entities, straighten apostrophes, collapse whitespace, lower-case."""
    unescaped = html.unescape(fragment).replace("\u2019", "'").replace("\u2026", "...")
    return " ".join(unescaped.split()).lower()


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header's value by case-insensitive name, lower-case; empty when absent."""
    size = len(name)
    for key, value in headers.items():
        if len(key) == size and key.lower() == name:  # lower() only where it can match
            return value.strip().lower()
    return ""
