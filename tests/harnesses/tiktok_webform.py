"""Harness for the tiktok_webform packet adapter (no platform side)."""

from __future__ import annotations

import pytest

from harnesses import Harness, harness_for, make_request
from platform_adapters.manual import ManualConfig
from platform_adapters.webforms.tiktok import TikTokWebFormAdapter


@harness_for("tiktok_webform")
def tiktok_webform_harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(
        adapter=TikTokWebFormAdapter(ManualConfig()),
        request_for=lambda key: make_request(
            key, f"https://www.tiktok.com/@fakeaccount/video/{key}"
        ),
        filings_held=None,
    )
