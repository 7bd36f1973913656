"""Harness and fixtures for the sandbox adapter, against the real simulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from harnesses import Harness, failure_injector, harness_for, make_request
from platform_adapters.base import Adapter, FilingRequest
from platform_adapters.sandbox import SandboxAdapter, SandboxConfig
from platform_adapters.simulators.sandbox import SandboxServer


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(ack_after=0.1, decide_after=0.2) as server:
        yield server


def sandbox_adapter(base_url: str, token: str = "sandbox-token", timeout: float = 5) -> Adapter:
    config = SandboxConfig(base_url=base_url, api_token=SecretStr(token), timeout_seconds=timeout)
    return SandboxAdapter(config)


@harness_for("sandbox", simulated=True)
def sandbox_harness(request: pytest.FixtureRequest) -> Harness:
    server: SandboxServer = request.getfixturevalue("sandbox_server")

    def held_by_sandbox(filing: FilingRequest) -> int:
        params = {"url": filing.url, "channel": filing.rung_target}
        headers = {"Authorization": "Bearer sandbox-token"}
        listed = httpx.get(
            f"{server.base_url}/api/v1/reports", params=params, headers=headers, timeout=5
        )
        return int(listed.json()["total"])

    return Harness(
        adapter=sandbox_adapter(server.base_url),
        request_for=lambda key: make_request(key, f"{server.base_url}/videos/comply-{key}"),
        filings_held=held_by_sandbox,
        inject_failure=failure_injector(server.base_url),
    )
