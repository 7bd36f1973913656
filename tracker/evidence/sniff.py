"""The type of a file from its first bytes (magic numbers), never from its name or header."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: How many leading bytes decide the type.
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class FileType:
    media_type: str
    extension: str

    @property
    def is_media(self) -> bool:
        """An image or a video: never stored for a case involving a minor."""
        return self.media_type.startswith(("image/", "video/"))


PNG = FileType("image/png", "png")
JPEG = FileType("image/jpeg", "jpg")
GIF = FileType("image/gif", "gif")
WEBP = FileType("image/webp", "webp")
PDF = FileType("application/pdf", "pdf")
TEXT = FileType("text/plain", "txt")
HTML = FileType("text/html", "html")
MESSAGE = FileType("message/rfc822", "eml")
MP4 = FileType("video/mp4", "mp4")
WEBM = FileType("video/webm", "webm")
QUICKTIME = FileType("video/quicktime", "mov")
JSON = FileType("application/json", "json")  # capture records only, never an upload

ALLOWED = (PNG, JPEG, GIF, WEBP, PDF, TEXT, HTML, MESSAGE, MP4, WEBM, QUICKTIME)
EXTENSIONS = {kind.media_type: kind.extension for kind in (*ALLOWED, JSON)}

_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<!-- saved from url")
#: Headers an e-mail or an MHTML page (saved by a browser) begins with.
_MESSAGE_HEADERS = re.compile(
    rb"^(from|to|subject|date|received|return-path|message-id|mime-version|content-type|"
    rb"snapshot-content-location|delivered-to|reply-to|x-[a-z0-9-]+):[ \t]",
    re.IGNORECASE,
)
_SCRIPT_STARTS = (b"#!", b"<?php", b"<script", b"<?xml")


def _binary(head: bytes) -> FileType | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    if head[4:8] == b"ftyp":
        return QUICKTIME if head[8:12] == b"qt  " else MP4
    if head[4:8] in (b"moov", b"mdat", b"wide"):
        return QUICKTIME
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return WEBM
    return None


def _text(head: bytes, *, is_complete: bool) -> str | None:
    """The head as text if it is UTF-8 without control characters (bar tab, breaks, form feed)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A character cut by the sniff window's end is fine; anything else is not text.
        if is_complete or error.start < len(head) - 3:
            return None
        text = head[: error.start].decode("utf-8")
    if any(ord(char) < 32 and char not in "\t\n\r\f" or ord(char) == 127 for char in text):
        return None
    return text


def sniff(head: bytes, *, is_complete: bool) -> FileType | None:
    """The allowed type these leading bytes show, or None (refused: unknown, or a script)."""
    found = _binary(head)
    if found is not None:
        return found
    text = _text(head.removeprefix(b"\xef\xbb\xbf"), is_complete=is_complete)
    if text is None:
        return None
    start = text.lstrip().encode()[:64].lower()
    if start.startswith(_SCRIPT_STARTS):
        return None
    if start.startswith(_HTML_STARTS):
        return HTML
    if _MESSAGE_HEADERS.match(text.encode()[:200]):
        return MESSAGE
    return TEXT


def sniff_media(head: bytes) -> FileType | None:
    """The image or video type these leading bytes show, or None for anything else."""
    found = _binary(head)
    return found if found is not None and found.is_media else None
