"""Contract-test harnesses: one module per adapter, each registering how to drive it.

The contract suite in ``test_adapters_contract.py`` runs over every registered adapter and looks
its harness up here, so a new adapter without a harness fails the suite. Each module is also a
pytest plugin (see ``conftest.py``): the fixtures for its loopback simulator live beside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from platform_adapters.base import Adapter, FilingRequest

LEGAL_BASIS = (
    "Information Technology (Intermediary Guidelines and Digital Media Ethics Code) Rules, 2021, "
    "Rule 3(2)(b)"
)
DEADLINE_TEXT = "within 24 hours of receipt of this complaint"
ORGANISATION_NAME = "Example Helpline (test)"
ORGANISATION_EMAIL = "cases@helpline.example"
FROM_ADDRESS = "takedowns@helpline.example"
FAKE_VICTIM_NAME = "Testperson Fakename"


@dataclass
class Harness:
    adapter: Adapter
    request_for: Callable[[str], FilingRequest]
    # How many distinct filings the platform side holds for a request; None if it has no side.
    filings_held: Callable[[FilingRequest], int] | None
    # Queues a failure (HTTP status, Retry-After seconds or None) for the adapter's next call.
    inject_failure: Callable[[int, float | None], None] | None = None


HarnessBuilder = Callable[[pytest.FixtureRequest], Harness]
HARNESSES: dict[str, HarnessBuilder] = {}


#: Adapters whose harness drives a loopback simulator that can inject platform failures.
SIMULATED: set[str] = set()


def harness_for(
    slug: str, *, simulated: bool = False
) -> Callable[[HarnessBuilder], HarnessBuilder]:
    """Register the harness builder of adapter ``slug`` (``simulated``: failures injectable)."""

    def register(builder: HarnessBuilder) -> HarnessBuilder:
        HARNESSES[slug] = builder
        if simulated:
            SIMULATED.add(slug)
        return builder

    return register


def make_request(
    key: str,
    url: str,
    rung_target: str = "platform",
    platform: str = "sandbox",
    **params: object,
) -> FilingRequest:
    """A filing request with fake organisation data and the given channel parameters."""
    return FilingRequest(
        idempotency_key=key,
        url=url,
        platform=platform,
        rung_target=rung_target,
        legal_basis=LEGAL_BASIS,
        deadline_text=DEADLINE_TEXT,
        organisation_name=ORGANISATION_NAME,
        organisation_email=ORGANISATION_EMAIL,
        channel_params=params,
    )


def failure_injector(base_url: str) -> Callable[[int, float | None], None]:
    """An ``inject_failure`` for a simulator serving ``POST /_sim/fail-next`` at ``base_url``."""

    def inject(status: int, retry_after: float | None) -> None:
        body = {"status": status, "retry_after": retry_after, "count": 1}
        httpx.post(f"{base_url}/_sim/fail-next", json=body, timeout=5).raise_for_status()

    return inject


def new_key() -> str:
    """A fresh idempotency key."""
    return uuid.uuid4().hex
