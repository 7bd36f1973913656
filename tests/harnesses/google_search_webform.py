"""Harness for the google_search_webform packet adapter (no platform side)."""

from __future__ import annotations

import pytest

from harnesses import Harness, harness_for, make_request
from platform_adapters.manual import ManualConfig
from platform_adapters.webforms.google_search import GoogleSearchWebFormAdapter


@harness_for("google_search_webform")
def google_search_webform_harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(
        adapter=GoogleSearchWebFormAdapter(ManualConfig()),
        request_for=lambda key: make_request(key, f"https://leaky.example/p/{key}"),
        filings_held=None,
    )
