"""Harness and fixtures for the AWS Abuse Signal adapter, against its simulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from harnesses import Harness, failure_injector, harness_for, make_request
from platform_adapters.aws_abuse import AwsAbuseAdapter, AwsAbuseConfig
from platform_adapters.base import FilingRequest
from platform_adapters.simulators.aws_abuse import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_SECRET,
    AwsAbuseServer,
)


@pytest.fixture(scope="module")
def aws_abuse_server() -> Iterator[AwsAbuseServer]:
    with AwsAbuseServer(ack_after=0.1, decide_after=0.3) as server:
        yield server


def aws_adapter(
    base_url: str,
    *,
    access_key_id: str = DEFAULT_ACCESS_KEY_ID,
    secret: str = DEFAULT_SECRET,
    **options: object,
) -> AwsAbuseAdapter:
    config = AwsAbuseConfig(
        api_base=base_url,
        access_key_id=access_key_id,
        secret_access_key=SecretStr(secret),
        timeout_seconds=5,
        **options,
    )
    return AwsAbuseAdapter(config)


def bucket_url(key: str, prefix: str = "v") -> str:
    """A fake leaked URL on an S3-style host."""
    return f"https://fake-bucket.s3.example/{prefix}-{key}"


def held_by_aws(server: AwsAbuseServer, url: str) -> int:
    stats = httpx.get(f"{server.base_url}/_sim/stats", timeout=5).json()
    return int(stats["reports_per_url"].get(url, 0))


@harness_for("aws_abuse", simulated=True)
def aws_abuse_harness(request: pytest.FixtureRequest) -> Harness:
    server: AwsAbuseServer = request.getfixturevalue("aws_abuse_server")

    def held(filing: FilingRequest) -> int:
        return held_by_aws(server, filing.url)

    return Harness(
        adapter=aws_adapter(server.base_url),
        request_for=lambda key: make_request(
            key, bucket_url(key), rung_target="host_abuse", platform="aws"
        ),
        filings_held=held,
        inject_failure=failure_injector(server.base_url),
    )
