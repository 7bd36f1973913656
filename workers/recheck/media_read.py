"""Reading an image or video a check meets, whole up to a limit, and hashing it in a thread.

The page's prefix is read by ``BodyReader`` as before; when it shows an image or a video (and
the batch asked for media), the reader goes on up to ``MediaOptions.limit`` and the bytes are
hashed in memory by ``tracker.matching.hashing`` and dropped. A medium whose validator (strong
ETag, or Last-Modified and length) is unchanged since it was last hashed is not read again.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from tracker.matching.hashing import MediaHashes, NotMedia, hash_media, media_kind


@dataclass(frozen=True)
class MediaOptions:
    """How a batch treats images and videos: read them whole (up to ``limit``) and hash them."""

    limit: int
    seconds: float = 20.0
    #: key -> the validator of what was hashed last time: unchanged media is not read again.
    validators: Mapping[int, str] = field(default_factory=dict)
    find_linked: bool = False
    #: At most this many media bodies are read and hashed at once (memory and cores).
    at_once: int = 2


class BodyReader:
    """Reads the body in steps, decompressed with bounded memory; the caller closes the stream."""

    __slots__ = ("_chunks", "_decompressor", "_raw_read", "_skip", "_done", "_leftover")

    def __init__(self, response: httpx.Response, headers: dict[str, str]) -> None:
        encoding = headers.get("content-encoding", "identity").strip().lower()
        self._decompressor = None
        self._skip = False
        if encoding in ("gzip", "x-gzip", "deflate"):
            # wbits 47 accepts gzip and zlib headers; a raw-deflate body fails like a bad body.
            self._decompressor = zlib.decompressobj(wbits=47)
        elif encoding not in ("", "identity"):
            self._skip = True  # An encoding we did not ask for: status and headers alone.
        # The transport's stream as is (httpx's aiter_raw adds two wrappers).
        self._chunks = response.stream.__aiter__()  # type: ignore[union-attr]
        self._raw_read = 0
        self._done = False
        self._leftover = b""  # read from the wire but past the last limit (not decompressed)

    async def read(self, limit: int) -> bytes:
        """At most ``limit`` more bytes of the body (fewer at its end)."""
        if self._skip or limit <= 0:
            return b""
        collected = bytearray()
        raw_limit = self._raw_read + 2 * limit
        decompressor = self._decompressor
        while len(collected) < limit:
            if self._leftover:
                chunk, self._leftover = self._leftover, b""
            elif self._done:
                break
            else:
                try:
                    chunk = await self._chunks.__anext__()
                except StopAsyncIteration:
                    self._done = True
                    break
                self._raw_read += len(chunk)
            room = limit - len(collected)
            if decompressor is None:
                collected += chunk[:room]
                self._leftover = chunk[room:]
            else:
                # max_length bounds the output, so a decompression bomb cannot exhaust memory.
                collected += decompressor.decompress(chunk, room)
                self._leftover = decompressor.unconsumed_tail
            if self._raw_read >= raw_limit:
                break
        return bytes(collected)


@dataclass(frozen=True)
class MediaRead:
    kind: str | None = None
    hashes: MediaHashes | None = None
    validator: str | None = None
    linked: tuple[str, ...] = ()


@dataclass(frozen=True)
class MediaHashing:
    options: MediaOptions
    slots: asyncio.Semaphore

    async def media(
        self,
        key: int,
        status: int,
        headers: dict[str, str],
        prefix: bytes,
        reader: BodyReader,
    ) -> MediaRead | None:
        """Read the rest of an image or video and hash it in a thread; the bytes are dropped."""
        content_type = headers.get("content-type", "")
        kind = media_kind(prefix[:64], content_type) if 200 <= status < 300 else None
        if kind is None:
            return None
        validator = validator_of(headers)
        if validator is not None and self.options.validators.get(key) == validator:
            return MediaRead(kind=kind, validator=validator)  # unchanged: its hashes stand
        async with self.slots:
            body = prefix + await reader.read(self.options.limit - len(prefix))
            truncated = len(body) >= self.options.limit
            try:
                hashes = await asyncio.to_thread(
                    hash_media,
                    body,
                    content_type,
                    seconds=self.options.seconds,
                    truncated=truncated,
                )
            except NotMedia:
                hashes = None
            finally:
                del body  # The bytes served their purpose; keep nothing of the content.
        return MediaRead(kind=kind, hashes=hashes, validator=validator)


def validator_of(headers: dict[str, str]) -> str | None:
    """What tells an unchanged file: its strong ETag, else Last-Modified and length."""
    etag = headers.get("etag", "").strip()
    if etag and not etag.startswith("W/"):
        return f"etag:{etag}"[:200]
    modified, length = headers.get("last-modified"), headers.get("content-length")
    if modified and length:
        return f"lm:{modified};{length}"[:200]
    return None
