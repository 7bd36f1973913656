"""Finding addresses in what a caseworker pastes or uploads: a block of text, or a CSV file.

People paste what they have: a numbered list from a chat, a line of notes around a link, a
spreadsheet column. Each line (or CSV row) becomes entries: one per address found on it, or
one without an address, so the caseworker sees every line they gave and what became of it.

What counts as an address: anything with ``scheme://`` (even ``ftp://``: intake then says why
it is refused rather than silently skipping it), ``www.…``, or a domain name followed by a path
(``youtu.be/abc``). A bare word with a dot (``notes.txt``, ``e.g.``) is not one. Brackets,
quotes and punctuation around an address are not part of it; a closing bracket the address
opened (``…/Foo_(bar)``) is.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from tracker.reports.schemas import MAX_URLS

#: The most entries one intake takes (the API's limit on ``urls``).
MAX_ENTRIES = MAX_URLS
#: How much of a line is kept to show it back.
SHOWN_CHARACTERS = 120

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_WWW = re.compile(r"(?i)(?<![A-Za-z0-9.\-])www\.")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_DOMAIN_WITH_PATH = re.compile(rf"(?:{_LABEL}\.)+[A-Za-z]{{2,63}}(?::\d{{1,5}})?/\S*")
# What never belongs to an address typed in text: spaces, angle brackets, quotes, the middle of
# a Markdown link, and a comma, semicolon or bar right before another address.
_SEPARATORS = re.compile(r"[\s<>\"`]+|\]\(|[,;|](?=[A-Za-z][A-Za-z0-9+.\-]*://)")
_LEADING = "([{<'\"‘“«"
_TRAILING = ".,;:!?'\"’”»>"
_CLOSING = {")": "(", "]": "[", "}": "{"}


class Unreadable(ValueError):
    """An upload that is not a CSV file this can read."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One address found on a line (``url``), or a line without one (``url`` None)."""

    source: Literal["paste", "csv"]
    line: int  # 1-based line of the pasted text, or row of the CSV file
    text: str  # the line, shortened and without control characters, to show it back
    url: str | None


def _strip(candidate: str) -> str:
    """``candidate`` without the brackets, quotes and punctuation around it."""
    candidate = candidate.lstrip(_LEADING)
    while candidate:
        last = candidate[-1]
        if last in _TRAILING:
            candidate = candidate[:-1]
        elif last in _CLOSING and candidate.count(_CLOSING[last]) < candidate.count(last):
            candidate = candidate[:-1]
        else:
            break
    return candidate


def urls_in(text: str) -> list[str]:
    """The address-looking parts of a piece of text, in order."""
    found = []
    for token in _SEPARATORS.split(text):
        start = _SCHEME.search(token) or _WWW.search(token)
        if start is not None:
            candidate = _strip(token[start.start() :])
        else:
            candidate = _strip(token)
            if not _DOMAIN_WITH_PATH.fullmatch(candidate):
                continue
        if candidate:
            found.append(candidate)
    return found


def shown(text: str) -> str:
    """A line as it may be shown back: control characters replaced, at most a line long."""
    clean = "".join(
        "\N{REPLACEMENT CHARACTER}"
        if unicodedata.category(character) in ("Cc", "Cs")
        else character
        for character in text.strip()
    )
    return clean if len(clean) <= SHOWN_CHARACTERS else clean[: SHOWN_CHARACTERS - 1] + "…"


def entries_from_text(text: str) -> list[Entry]:
    """Entries of a pasted block: each non-blank line gives its addresses, or one entry without."""
    entries: list[Entry] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        urls: list[str | None] = list(urls_in(line)) or [None]
        entries.extend(
            Entry(source="paste", line=number, text=shown(line), url=url) for url in urls
        )
    return entries


def decode_upload(data: bytes) -> str:
    """An uploaded file's text: UTF-8 (with or without a byte-order mark), else Windows-1252."""
    if b"\x00" in data:
        raise Unreadable("the file is not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def entries_from_csv(text: str) -> list[Entry]:
    """Entries of a CSV file: addresses from every cell; a first row without any is a header."""
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    entries: list[Entry] = []
    first = True
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
            cells = [cell.strip() for cell in row if cell.strip()]
            if not cells:
                continue
            urls: list[str | None] = [url for cell in cells for url in urls_in(cell)]
            if not urls and first:
                first = False
                continue  # a header row
            first = False
            line = shown(", ".join(cells))
            entries.extend(
                Entry(source="csv", line=number, text=line, url=url) for url in urls or [None]
            )
    except csv.Error as error:
        raise Unreadable(f"not a CSV file: {error}") from error
    return entries
