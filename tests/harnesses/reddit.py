"""Harness and fixtures for the Reddit adapter, against its simulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from harnesses import Harness, failure_injector, harness_for, make_request
from platform_adapters.reddit import RedditAdapter, RedditConfig
from platform_adapters.simulators.reddit import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    RedditServer,
)


@pytest.fixture(scope="module")
def reddit_server() -> Iterator[RedditServer]:
    with RedditServer() as server:
        yield server


def reddit_adapter(server: RedditServer, **overrides: object) -> RedditAdapter:
    values: dict[str, object] = {
        "token_url": server.token_url,
        "api_base": server.base_url,
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": SecretStr(DEFAULT_CLIENT_SECRET),
        "username": DEFAULT_USERNAME,
        "password": SecretStr(DEFAULT_PASSWORD),
        "timeout_seconds": 5,
    }
    return RedditAdapter(RedditConfig.model_validate(values | overrides))


def post_url(key: str) -> str:
    """A fake Reddit post URL whose base36 id comes from the key."""
    return f"https://www.reddit.com/r/fakesub/comments/{key[:10]}/fake_title/"


@harness_for("reddit", simulated=True)
def reddit_harness(request: pytest.FixtureRequest) -> Harness:
    server: RedditServer = request.getfixturevalue("reddit_server")
    return Harness(
        adapter=reddit_adapter(server),
        request_for=lambda key: make_request(key, post_url(key), platform="reddit"),
        # Reddit cannot deduplicate (no idempotency key): the tracker's compare-and-set on the
        # filing row is what keeps it to one call, so the platform side is not counted here.
        filings_held=None,
        inject_failure=failure_injector(server.base_url),
    )
