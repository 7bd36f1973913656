"""Harness for the meta_webform packet adapter (no platform side)."""

from __future__ import annotations

import pytest

from harnesses import Harness, harness_for, make_request
from platform_adapters.manual import ManualConfig
from platform_adapters.webforms.meta import MetaWebFormAdapter


@harness_for("meta_webform")
def meta_webform_harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(
        adapter=MetaWebFormAdapter(ManualConfig()),
        request_for=lambda key: make_request(
            key, f"https://www.facebook.com/fake.page/posts/{key}"
        ),
        filings_held=None,
    )
