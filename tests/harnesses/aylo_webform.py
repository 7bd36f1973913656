"""Harness for the aylo_webform packet adapter (no platform side)."""

from __future__ import annotations

import pytest

from harnesses import Harness, harness_for, make_request
from platform_adapters.manual import ManualConfig
from platform_adapters.webforms.aylo import AyloWebFormAdapter


@harness_for("aylo_webform")
def aylo_webform_harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(
        adapter=AyloWebFormAdapter(ManualConfig()),
        request_for=lambda key: make_request(
            key, f"https://www.pornhub.com/view_video.php?viewkey={key}"
        ),
        filings_held=None,
    )
