"""Generic verdict rules over fetched pages."""

from __future__ import annotations

import pytest

from platform_adapters.base import FetchedPage, Verdict
from workers.recheck.classify import classify_page

URL = "https://platform.example.test/post/1"


def page(
    status: int = 200,
    body: str = "",
    *,
    headers: dict[str, str] | None = None,
    final_url: str = URL,
) -> FetchedPage:
    return FetchedPage(
        url=URL,
        final_url=final_url,
        status_code=status,
        headers=headers or {},
        body_prefix=body,
    )


def html_page(title: str, text: str = "") -> str:
    return f"<html><head><title>{title}</title></head><body><p>{text}</p></body></html>"


LONG_ARTICLE = "<p>" + "An ordinary sentence of a long live page. " * 200 + "</p>"


@pytest.mark.parametrize(
    ("status", "verdict", "reason"),
    [
        (404, Verdict.REMOVED, "http_404"),
        (410, Verdict.REMOVED, "http_410"),
        (451, Verdict.REMOVED, "http_451"),
        (401, Verdict.LOGIN_REQUIRED, "http_401"),
        (403, Verdict.BLOCKED, "http_403"),
        (429, Verdict.BLOCKED, "http_429"),
        (500, Verdict.UNKNOWN, "http_500"),
        (503, Verdict.UNKNOWN, "http_503"),
        (301, Verdict.UNKNOWN, "redirect_not_followed"),
        (302, Verdict.UNKNOWN, "redirect_not_followed"),
        (400, Verdict.UNKNOWN, "http_400"),
        (200, Verdict.LIVE, "http_200"),
        (204, Verdict.LIVE, "http_204"),
    ],
)
def test_status_codes(status: int, verdict: Verdict, reason: str) -> None:
    assert classify_page(page(status, html_page("A post"))) == (verdict, reason)


def test_403_is_blocked_even_with_removal_text() -> None:
    body = html_page("This content isn't available")
    assert classify_page(page(403, body)) == (Verdict.BLOCKED, "http_403")


@pytest.mark.parametrize(
    ("title", "reason"),
    [
        ("This Tweet is unavailable", "soft_404:x"),
        ("Hmm...this page doesn\u2019t exist. Try searching for something else.", "soft_404:x"),
        ("This content isn&#039;t available right now", "soft_404:facebook"),
        ("The link you followed may be broken", "soft_404:facebook"),
        ("Sorry, this page isn't available.", "soft_404:instagram"),
        ("This video is no longer available", "soft_404:tiktok"),
        ("This video isn't available anymore", "soft_404:youtube"),
        ("This video has been removed by the uploader", "soft_404:youtube"),
        ("Sorry, this post has been removed by the moderators", "soft_404:reddit"),
        ("reddit: there doesn't seem to be anything here", "soft_404:reddit"),
        ("MESSAGE NOT FOUND", "soft_404:telegram"),
    ],
)
def test_soft_404_in_title_on_a_long_page_is_removed(title: str, reason: str) -> None:
    body = f"<html><head><title>{title}</title></head><body>{LONG_ARTICLE}</body></html>"
    assert classify_page(page(200, body)) == (Verdict.REMOVED, reason)


def test_soft_404_in_text_of_a_short_page_is_removed() -> None:
    body = html_page("Facebook", "Sorry! This content isn\u2019t available right now.")
    assert classify_page(page(200, body)) == (Verdict.REMOVED, "soft_404:facebook")


def test_long_live_page_quoting_a_soft_404_string_stays_live() -> None:
    quote = "<blockquote>This content isn't available</blockquote>"
    body = html_page("How platforms say a post is gone", LONG_ARTICLE + quote)
    assert classify_page(page(200, body)) == (Verdict.LIVE, "http_200")


def test_markers_in_scripts_do_not_count() -> None:
    script = "<script>var messages = {gone: 'This content isn\\'t available'};</script>"
    body = html_page("A post", "Hello") + script
    assert classify_page(page(200, body)) == (Verdict.LIVE, "http_200")


@pytest.mark.parametrize(
    ("body", "verdict", "reason"),
    [
        (html_page("TikTok", "This account is private"), Verdict.PRIVATE, "private"),
        (html_page("This video is private", "Video unavailable"), Verdict.PRIVATE, "private"),
        (html_page("Instagram", "Log in to continue"), Verdict.LOGIN_REQUIRED, "login_wall"),
        (html_page("Forum", "You must log in to view"), Verdict.LOGIN_REQUIRED, "login_wall"),
        (html_page("Just a moment...", ""), Verdict.BLOCKED, "bot_wall"),
        (html_page("Attention Required! | Cloudflare"), Verdict.BLOCKED, "bot_wall"),
        (html_page("Check", "Please solve the CAPTCHA"), Verdict.BLOCKED, "bot_wall"),
        (
            html_page("YouTube", "Sign in to confirm you\u2019re not a bot"),
            Verdict.BLOCKED,
            "bot_wall",
        ),
        (
            html_page("Post", "This post is not available in your country"),
            Verdict.GEO_WITHHELD,
            "geo_withheld",
        ),
        (
            html_page("Post", "This content isn't available: withheld in India"),
            Verdict.GEO_WITHHELD,
            "geo_withheld",
        ),
        (
            html_page("Sorry, this page isn't available.", "Log in to continue"),
            Verdict.REMOVED,
            "soft_404:instagram",
        ),
    ],
)
def test_content_markers(body: str, verdict: Verdict, reason: str) -> None:
    assert classify_page(page(200, body)) == (verdict, reason)


def test_login_wall_text_on_a_long_page_stays_live() -> None:
    body = html_page("A post", LONG_ARTICLE + "Log in to continue")
    assert classify_page(page(200, body)) == (Verdict.LIVE, "http_200")


def test_redirect_to_login_page_is_login_required() -> None:
    login = "https://platform.example.test/accounts/login/?next=/post/1"
    result = classify_page(page(200, html_page("Welcome"), final_url=login))
    assert result == (Verdict.LOGIN_REQUIRED, "login_redirect")


def test_cloudflare_challenge_header_is_blocked() -> None:
    result = classify_page(page(200, html_page("A post"), headers={"CF-Mitigated": "challenge"}))
    assert result == (Verdict.BLOCKED, "bot_wall")


def test_platform_rule_decides_first() -> None:
    def rule(fetched: FetchedPage) -> Verdict | None:
        return Verdict.REMOVED if fetched.status_code == 403 else None

    assert classify_page(page(403), rule) == (Verdict.REMOVED, "platform_rule")
    assert classify_page(page(404), rule) == (Verdict.REMOVED, "http_404")
    assert classify_page(page(200, html_page("A post")), rule) == (Verdict.LIVE, "http_200")


def test_empty_body_is_live() -> None:
    assert classify_page(page(200, "")) == (Verdict.LIVE, "http_200")
