"""The direct media a page points at: its preview image and video, and its <video> sources.

A page can be gone while its picture or video still serves from a CDN, so a re-check follows
these too (``og:image``, ``og:video``, ``twitter:image``, ``<video src|poster>``,
``<source src>``). Only the bounded prefix the check already read is searched, with two regular
expressions (an HTML parser would cost more than the rest of the check).
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

#: At most this many linked media per page (a gallery page's first ones).
MAX_LINKED = 8

_TAG = re.compile(rb"<(meta|video|source)\b([^>]{0,2000})>", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
_META_NAMES = frozenset(
    {
        b"og:image",
        b"og:image:url",
        b"og:image:secure_url",
        b"og:video",
        b"og:video:url",
        b"og:video:secure_url",
        b"twitter:image",
        b"twitter:image:src",
        b"twitter:player:stream",
    }
)


def linked_media(body: bytes, page_url: str) -> list[str]:
    """Absolute http(s) URLs of the media the page links, in page order, without repeats."""
    found: list[str] = []
    for match in _TAG.finditer(body):
        tag = match.group(1).lower()
        attributes = {
            name.lower(): value.strip(b"\"'") for name, value in _ATTRIBUTE.findall(match.group(2))
        }
        if tag == b"meta":
            name = attributes.get(b"property") or attributes.get(b"name") or b""
            values = [attributes.get(b"content")] if name.lower() in _META_NAMES else []
        elif tag == b"video":
            values = [attributes.get(b"src"), attributes.get(b"poster")]
        else:
            values = [attributes.get(b"src")]
        for value in values:
            url = _absolute(value, page_url)
            if url is not None and url not in found and url != page_url:
                found.append(url)
                if len(found) >= MAX_LINKED:
                    return found
    return found


def _absolute(value: bytes | None, page_url: str) -> str | None:
    if not value:
        return None
    text = html.unescape(value.decode("utf-8", errors="replace")).strip()
    try:
        url = urljoin(page_url, text)
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 4096:
        return None
    return url.split("#", 1)[0]
