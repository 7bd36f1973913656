"""Harness and fixtures for the Cloudflare adapter, against its simulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from harnesses import Harness, failure_injector, harness_for, make_request
from platform_adapters.base import FilingRequest
from platform_adapters.cloudflare import CloudflareAdapter, CloudflareConfig, Resolver
from platform_adapters.simulators.cloudflare import DEFAULT_ACCOUNT, DEFAULT_TOKEN, CloudflareServer


@pytest.fixture(scope="module")
def cloudflare_server() -> Iterator[CloudflareServer]:
    with CloudflareServer(decide_after=0.2) as server:
        yield server


def cloudflare_adapter(
    api_base: str,
    *,
    token: str = DEFAULT_TOKEN,
    account_id: str = DEFAULT_ACCOUNT,
    verify: bool = False,
    resolver: Resolver | None = None,
) -> CloudflareAdapter:
    config = CloudflareConfig(
        api_base=api_base,
        account_id=account_id,
        api_token=SecretStr(token),
        timeout_seconds=5,
        verify_served_by_cloudflare=verify,
    )
    if resolver is None:
        return CloudflareAdapter(config)
    return CloudflareAdapter(config, resolver=resolver)


def leaked_url(key: str, prefix: str = "v") -> str:
    """A fake leaked URL on a host of its own, so tests never see each other's reports."""
    return f"https://leak-{key[:12]}.example/{prefix}-{key[12:20]}"


def held_by_cloudflare(server: CloudflareServer, url: str) -> int:
    stats = httpx.get(f"{server.base_url}/_sim/stats", timeout=5).json()
    return int(stats["reports_per_url"].get(url, 0))


@harness_for("cloudflare", simulated=True)
def cloudflare_harness(request: pytest.FixtureRequest) -> Harness:
    server: CloudflareServer = request.getfixturevalue("cloudflare_server")

    def held(filing: FilingRequest) -> int:
        return held_by_cloudflare(server, filing.url)

    return Harness(
        adapter=cloudflare_adapter(server.api_base),
        request_for=lambda key: make_request(
            key, leaked_url(key), rung_target="host_abuse", platform="cloudflare"
        ),
        filings_held=held,
        inject_failure=failure_injector(server.base_url),
    )
