"""Languages of the console: gettext catalogs read from ``translations/<code>/LC_MESSAGES``.

English is the source language. Every other language is one ``messages.po`` file: adding an
Eighth-Schedule language is adding its catalog, no code. Catalogs are compiled in memory when
first used, so no compiled ``.mo`` file has to be kept in step.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).parent / "translations"
SOURCE_LANGUAGE = "en"


def N_(message: str) -> str:  # noqa: N802  (the gettext convention for "translate later")
    """Mark a string for extraction; it is translated where it is shown."""
    return message


@cache
def languages() -> tuple[str, ...]:
    """The language codes the console speaks: English and every catalog shipped."""
    found = sorted(
        path.parent.parent.name for path in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")
    )
    return (SOURCE_LANGUAGE, *[code for code in found if code != SOURCE_LANGUAGE])


def language_name(code: str) -> str:
    """A language's name in that language ("हिन्दी" for hi), from the CLDR data in Babel."""
    try:
        return Locale.parse(code).get_display_name(code) or code
    except (ValueError, UnknownLocaleError):
        return code


@cache
def translations(code: str) -> gettext.NullTranslations:
    """The catalog of one language (the source language translates to itself)."""
    path = TRANSLATIONS / code / "LC_MESSAGES" / "messages.po"
    if code == SOURCE_LANGUAGE or code not in languages() or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=code)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def best_language(accept_language: str | None) -> str:
    """The first language of an Accept-Language header the console speaks, else English."""
    weighted = []
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, position, tag.strip().lower().split("-")[0]))
    for _, _, code in sorted(weighted):
        if code in languages():
            return code
    return SOURCE_LANGUAGE
