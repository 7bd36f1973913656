"""Reddit adapter: fullname resolution, the exact admin report, errors and page classification."""

from __future__ import annotations

import httpx
import pytest
from harnesses import make_request, new_key
from harnesses.reddit import post_url, reddit_adapter
from pydantic import SecretStr

from platform_adapters.base import (
    FetchedPage,
    InvalidCredentialsError,
    MissingCredentialsError,
    PermanentError,
    PlatformStatus,
    TransientError,
    Verdict,
)
from platform_adapters.reddit import RedditAdapter, fullname_from_url
from platform_adapters.simulators.reddit import RedditServer


def stats(server: RedditServer) -> dict:  # type: ignore[type-arg]
    return httpx.get(f"{server.base_url}/_sim/stats", timeout=5).json()


@pytest.mark.parametrize(
    ("url", "fullname"),
    [
        ("https://www.reddit.com/r/fakesub/comments/abc123/some_title/", "t3_abc123"),
        ("https://old.reddit.com/r/fakesub/comments/abc123/some_title/def456/", "t1_def456"),
        ("https://new.reddit.com/r/fakesub/comments/abc123/comment/def456/", "t1_def456"),
        ("https://m.reddit.com/comments/ABC123", "t3_abc123"),
        ("https://reddit.com/r/fakesub/comments/abc123/some_title/?utm_source=share", "t3_abc123"),
        ("https://redd.it/abc123", "t3_abc123"),
        ("https://www.reddit.com/gallery/abc123", "t3_abc123"),
    ],
)
def test_fullname_from_every_url_shape(url: str, fullname: str) -> None:
    assert fullname_from_url(url) == fullname


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://www.reddit.com/r/fakesub/s/AbCdEf123", "share link"),
        ("https://www.reddit.com/r/fakesub/", "no post or comment id"),
        ("https://notreddit.example/comments/abc123/", "not a Reddit URL"),
    ],
)
def test_urls_without_a_fullname_are_permanent(url: str, message: str) -> None:
    with pytest.raises(PermanentError, match=message):
        fullname_from_url(url)


def test_report_goes_to_the_admins_under_the_ncii_policy(reddit_server: RedditServer) -> None:
    key = new_key()
    before = stats(reddit_server)["token_requests"]

    receipt = reddit_adapter(reddit_server).file(
        make_request(key, post_url(key), platform="reddit")
    )

    after = stats(reddit_server)
    fullname = f"t3_{key[:10]}"
    assert receipt.external_ref == f"reddit:{fullname}:{key}"
    assert after["reports"][fullname] == 1
    assert after["site_reasons"][fullname] == ["Non-consensual intimate media"]
    assert after["token_requests"] == before + 1  # a fresh token per use, no cache


def test_poll_is_unknown_because_reddit_returns_no_ticket(reddit_server: RedditServer) -> None:
    assert RedditAdapter.can_poll is False
    assert (
        reddit_adapter(reddit_server).poll("reddit:t3_abc123:key").status is PlatformStatus.UNKNOWN
    )


@pytest.mark.parametrize(
    ("overrides", "status"),
    [({"password": SecretStr("wrong")}, 200), ({"client_secret": SecretStr("wrong")}, 401)],
)
def test_refused_login_is_invalid_credentials(
    reddit_server: RedditServer,
    overrides: dict,
    status: int,  # type: ignore[type-arg]
) -> None:
    adapter = reddit_adapter(reddit_server, **overrides)

    with pytest.raises(InvalidCredentialsError) as raised:
        adapter.file(make_request(new_key(), post_url(new_key()), platform="reddit"))

    assert raised.value.http_status == status


def test_generic_user_agent_is_throttled(reddit_server: RedditServer) -> None:
    adapter = reddit_adapter(reddit_server, user_agent="python-httpx/0.28.1")

    with pytest.raises(TransientError) as raised:
        adapter.file(make_request(new_key(), post_url(new_key()), platform="reddit"))

    assert raised.value.http_status == 429
    assert reddit_adapter(reddit_server).user_agent == (
        "server:takedown-tracker:1.0 (by /u/helpline_test_bot)"
    )


def test_simulator_reports_form_errors_as_reddit_does(reddit_server: RedditServer) -> None:
    adapter = reddit_adapter(reddit_server, site_reason="x" * 100)
    token = adapter._access_token()  # noqa: SLF001 - the simulator's own check, seen directly
    form = {"api_type": "json", "thing_id": "abc", "reason": "r" * 101}
    headers = {"Authorization": f"bearer {token}", "User-Agent": adapter.user_agent}

    answer = httpx.post(
        f"{reddit_server.base_url}/api/report", data=form, headers=headers, timeout=5
    )

    assert answer.status_code == 200
    assert [error[0] for error in answer.json()["json"]["errors"]] == ["NO_THING_ID", "TOO_LONG"]


def page(url: str, body: str, status: int = 200) -> FetchedPage:
    return FetchedPage(url=url, final_url=url, status_code=status, headers={}, body_prefix=body)


POST = "https://www.reddit.com/r/fakesub/comments/abc123/t/"


@pytest.mark.parametrize(
    ("fetched", "verdict"),
    [
        (
            page(POST, "<div>Sorry, this post has been removed by the moderators.</div>"),
            Verdict.REMOVED,
        ),
        (page(POST, "<p>Sorry, there doesn\u2019t seem to be anything here.</p>"), Verdict.REMOVED),
        (page(POST, "<title>[deleted by user] : r/fakesub</title>"), Verdict.REMOVED),
        (page(POST, "<title>[removed] : r/fakesub</title>"), Verdict.REMOVED),
        (page(POST, "<h1>This is a private community</h1>", 403), Verdict.PRIVATE),
        (page(POST, "<p>You must be 18+ to view this community</p>"), Verdict.LOGIN_REQUIRED),
        (
            page("https://old.reddit.com/over18?dest=x", "<form>continue</form>"),
            Verdict.LOGIN_REQUIRED,
        ),
        (page(POST, "<title>A live post : r/fakesub</title>"), None),
        (
            page(
                "https://other.example/comments/abc123/",
                "[removed] sorry, this post has been removed",
            ),
            None,
        ),
    ],
)
def test_classify_reads_reddit_pages_only(fetched: FetchedPage, verdict: Verdict | None) -> None:
    assert RedditAdapter.classify(reddit_adapter_for_classify(), fetched) is verdict


def test_strong_strings_deep_in_a_long_page_are_not_trusted() -> None:
    long_live_page = (
        "<title>A live post</title>" + "x" * 20_000 + "there doesn't seem to be anything here"
    )

    assert reddit_adapter_for_classify().classify(page(POST, long_live_page)) is None


def reddit_adapter_for_classify() -> RedditAdapter:
    settings = type("Settings", (), {"outbound_timeout_seconds": 5})()
    stored = {"client_id": "c", "client_secret": "s", "username": "u", "password": "p"}
    return RedditAdapter(RedditAdapter.config_from(settings, stored))


def test_config_needs_the_app_and_the_account() -> None:
    with pytest.raises(
        MissingCredentialsError, match="client_id, client_secret, username, password"
    ):
        RedditAdapter.config_from(type("Settings", (), {"outbound_timeout_seconds": 5})(), {})
