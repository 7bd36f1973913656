"""Sections other areas add to the case page (evidence, exports, the status link, withdrawal).

An area registers a loader with ``@case_section("area/_case_section.html")``; the case page
calls every loader with the session, the signed-in person and the case, and includes each
template with the loader's answer as ``section``. A loader returning None hides its section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from tracker.cases.models import Case
from tracker.console.context import Console

SectionLoader = Callable[[Session, Console, Case], dict[str, Any] | None]
SECTIONS: list[tuple[str, SectionLoader]] = []


def case_section(template: str) -> Callable[[SectionLoader], SectionLoader]:
    """Register a section of the case page, shown in registration order."""

    def register(loader: SectionLoader) -> SectionLoader:
        SECTIONS.append((template, loader))
        return loader

    return register


def section_contexts(session: Session, console: Console, case: Case) -> list[tuple[str, Any]]:
    """Each registered section's template and its context, for this case and person."""
    found = []
    for template, loader in SECTIONS:
        context = loader(session, console, case)
        if context is not None:
            found.append((template, context))
    return found
