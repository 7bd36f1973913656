"""Harness for the bing_webform packet adapter (no platform side)."""

from __future__ import annotations

import pytest

from harnesses import Harness, harness_for, make_request
from platform_adapters.manual import ManualConfig
from platform_adapters.webforms.bing import BingWebFormAdapter


@harness_for("bing_webform")
def bing_webform_harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(
        adapter=BingWebFormAdapter(ManualConfig()),
        request_for=lambda key: make_request(key, f"https://leaky.example/p/{key}"),
        filings_held=None,
    )
