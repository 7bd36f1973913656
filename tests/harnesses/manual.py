"""Harness for the manual web-form adapter (no platform side)."""

from __future__ import annotations

import pytest

from harnesses import Harness, harness_for, make_request
from platform_adapters.manual import ManualAdapter, ManualConfig


@harness_for("manual")
def manual_harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(
        adapter=ManualAdapter(ManualConfig()),
        request_for=lambda key: make_request(
            key, f"https://social.example/p/{key}", form_url="https://social.example/report"
        ),
        filings_held=None,
    )
