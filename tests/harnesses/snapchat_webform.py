"""Harness for the snapchat_webform packet adapter (no platform side)."""

from __future__ import annotations

import pytest

from harnesses import Harness, harness_for, make_request
from platform_adapters.manual import ManualConfig
from platform_adapters.webforms.snapchat import SnapchatWebFormAdapter


@harness_for("snapchat_webform")
def snapchat_webform_harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(
        adapter=SnapchatWebFormAdapter(ManualConfig()),
        request_for=lambda key: make_request(key, f"https://story.snapchat.com/s/{key}"),
        filings_held=None,
    )
