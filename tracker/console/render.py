"""Rendering pages: one Jinja2 environment, translated per request, autoescaped always."""

from __future__ import annotations

import gettext
from datetime import datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from tracker.console import words
from tracker.console.context import Console
from tracker.console.i18n import language_name, languages, translations
from tracker.db import utcnow

TEMPLATES = Path(__file__).parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.policies["ext.i18n.trimmed"] = True
environment.newstyle_gettext = True  # type: ignore[attr-defined]


def _newstyle(translate: gettext.NullTranslations) -> dict[str, Any]:
    """gettext callables for one language, in Jinja's "newstyle" form (escaped, %-formatted)."""

    @pass_context
    def gettext_(context: Context, message: str, **variables: Any) -> str:
        text = translate.gettext(message)
        if context.eval_ctx.autoescape:
            # The catalog is ours; Markup's % escapes every variable (Jinja's own newstyle).
            text = Markup(text)  # noqa: S704
        return text % variables if variables else text  # type: ignore[no-any-return]

    @pass_context
    def ngettext_(
        context: Context, singular: str, plural: str, count: int, **variables: Any
    ) -> str:
        variables.setdefault("num", count)
        text = translate.ngettext(singular, plural, count)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704  (as above)
        return text % variables  # type: ignore[no-any-return]

    return {"gettext": gettext_, "_": gettext_, "ngettext": ngettext_}


def _when(language: str):  # type: ignore[no-untyped-def]
    def when(moment: datetime | None) -> str:
        if moment is None:
            return "—"
        return format_datetime(moment, "d MMM y, HH:mm 'UTC'", tzinfo=None, locale=language)

    return when


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    console: Console | None = None,
    language: str = "en",
    status_code: int = 200,
    csrf_token: str | None = None,
) -> HTMLResponse:
    """A page in the person's language; ``console`` is None only on the sign-in pages."""
    code = console.language if console is not None else language
    translate = translations(code)
    page = environment.get_template(template).render(
        request=request,
        console=console,
        csrf_token=console.csrf_token if console is not None else csrf_token,
        language=code,
        languages=[(each, language_name(each)) for each in languages()],
        now=utcnow(),
        when=_when(code),
        words=words.Words(translate),
        **_newstyle(translate),
        **(context or {}),
    )
    response = HTMLResponse(page, status_code=status_code)
    # Pages hold case data: never kept by the browser or a proxy.
    response.headers["cache-control"] = "no-store"
    return response
