"""Harness for the x_webform packet adapter (no platform side)."""

from __future__ import annotations

import pytest

from harnesses import Harness, harness_for, make_request
from platform_adapters.manual import ManualConfig
from platform_adapters.webforms.x import XWebFormAdapter


@harness_for("x_webform")
def x_webform_harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(
        adapter=XWebFormAdapter(ManualConfig()),
        request_for=lambda key: make_request(key, f"https://x.com/fakeaccount/status/{key}"),
        filings_held=None,
    )
