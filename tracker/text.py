"""Text that may be stored: no control characters, and single-line fields without line breaks.

Control characters (NUL above all, which PostgreSQL refuses) and lone surrogates (which cannot
be encoded) are refused everywhere at the API's edge (tracker/api/input_guard.py). These types
add the stricter rule of one-line fields: no tab or line break, and not blank.
"""

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

#: Allowed inside multi-line text (notes, statements); everything else in Cc is refused.
TEXT_WHITESPACE = frozenset("\t\n\r")


def forbidden_character(text: str, *, multiline: bool) -> str | None:
    """The first character ``text`` may not hold, or None."""
    for character in text:
        category = unicodedata.category(character)
        if category == "Cs" or (
            category == "Cc" and not (multiline and character in TEXT_WHITESPACE)
        ):
            return character
    return None


def _one_line(value: str) -> str:
    if forbidden_character(value, multiline=False) is not None:
        raise ValueError("must be one line without control characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


#: A one-line label or name: trimmed, not blank, no control characters or line breaks.
OneLine = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(_not_blank),
    AfterValidator(_one_line),
]
