"""Content fingerprints computed in memory from a bounded body prefix; the bytes are then dropped.

Every check gets the SHA-256 of the prefix it read (64 hex digits: an exact "same bytes" test).
An image additionally gets a difference hash (dHash, 64 bits), which stays the same when a
platform re-encodes, rescales or re-compresses the picture, so a re-upload can be recognised.
The stored fingerprint holds at most 64 characters, so for images it is
``dhash:<16 hex>;sha256:<first 32 hex>`` (a 128-bit SHA-256 prefix still tells bytes apart).

dHash is a dozen lines over Pillow; the ``imagehash`` package would add numpy, scipy and
PyWavelets to every worker for the same 64 bits. The hash is computed from the prefix only: a
JPEG is decoded at reduced size (``draft``) and a truncated image is decoded as far as it goes,
so the same image read with the same limit always gives the same hash.
"""

from __future__ import annotations

import hashlib
import io

#: Images with more pixels than this are not decoded (decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000
DHASH_SIZE = 8

_IMAGE_MAGIC: tuple[bytes, ...] = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"RIFF",  # WebP (checked further below)
    b"BM",
)


def content_fingerprint(prefix: bytes, content_type: str = "") -> str:
    """The fingerprint of a body prefix: SHA-256, plus a perceptual hash for images."""
    digest = hashlib.sha256(prefix).hexdigest()
    if not _looks_like_image(prefix, content_type):
        return digest
    perceptual = dhash(prefix)
    if perceptual is None:
        return digest
    return f"dhash:{perceptual};sha256:{digest[:32]}"


def _looks_like_image(prefix: bytes, content_type: str) -> bool:
    if content_type.strip().lower().startswith("image/"):
        return True
    if prefix.startswith(b"RIFF"):
        return prefix[8:12] == b"WEBP"
    return prefix.startswith(_IMAGE_MAGIC)


def dhash(data: bytes) -> str | None:
    """A 64-bit difference hash of an image (16 hex digits), or None if it cannot be decoded."""
    try:
        from PIL import Image, ImageFile
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS or width < 1 or height < 1:
                return None
            image.draft("L", (DHASH_SIZE * 4, DHASH_SIZE * 4))
            # A prefix usually cuts the image short: decode what is there. Pillow's switch is
            # process-wide and set once, never toggled (matching hashes in worker threads too).
            ImageFile.LOAD_TRUNCATED_IMAGES = True
            image.load()
            small = image.convert("L").resize(
                (DHASH_SIZE + 1, DHASH_SIZE), Image.Resampling.LANCZOS
            )
            pixels = small.tobytes()
    except Exception:  # Any undecodable or hostile image: the SHA-256 alone is the fingerprint.
        return None
    bits = 0
    for row in range(DHASH_SIZE):
        offset = row * (DHASH_SIZE + 1)
        for column in range(DHASH_SIZE):
            bits = (bits << 1) | (pixels[offset + column] > pixels[offset + column + 1])
    return f"{bits:016x}"


def hamming_distance(first: str, second: str) -> int:
    """How many of the 64 bits two dHashes differ in (0-10: very likely the same picture)."""
    return bin(int(first, 16) ^ int(second, 16)).count("1")
