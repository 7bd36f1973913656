"""Harness for the youtube_webform packet adapter (no platform side)."""

from __future__ import annotations

import pytest

from harnesses import Harness, harness_for, make_request
from platform_adapters.manual import ManualConfig
from platform_adapters.webforms.youtube import YouTubeWebFormAdapter


@harness_for("youtube_webform")
def youtube_webform_harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(
        adapter=YouTubeWebFormAdapter(ManualConfig()),
        request_for=lambda key: make_request(key, f"https://www.youtube.com/watch?v={key}"),
        filings_held=None,
    )
