"""Web-form adapters: one module per platform, each a form definition plus its page rules.

Nothing here submits a form (see ``platform_adapters.manual``): each adapter prepares the packet
a caseworker pastes into the platform's own form, and classifies that platform's pages.
Field labels follow each form as publicly described; where a label could not be confirmed from
the platform's own pages the module says so, and the caseworker matches by meaning.
"""

from __future__ import annotations

from typing import ClassVar

from platform_adapters.base import FetchedPage, Verdict
from platform_adapters.manual import ManualAdapter
from platform_adapters.page_markers import MarkerRules


class WebFormAdapter(ManualAdapter):
    """A manual packet adapter for one platform's form, with that platform's page rules."""

    rules: ClassVar[MarkerRules | None] = None

    def classify(self, page: FetchedPage) -> Verdict | None:
        """The platform's verdict for its own pages; None for other hosts and undecided pages."""
        return self.rules.classify(page) if self.rules is not None else None
