"""Signal types and their canonical text forms, as HMA and ThreatExchange write them.

- ``pdq``: 64 hex digits (256 bits), compared by Hamming distance.
- ``vpdq``: a video as PDQ hashes of frames sampled once a second, each ``hex,quality,seconds``;
  serialised as a JSON list of those strings (python-threatexchange's VPDQ signal).
- ``video_md5`` / ``photo_md5``: 32 hex digits of the whole file (StopNCII and NCMEC lists carry
  MD5 for video).
- ``sha256``: 64 hex digits of the whole file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum


class SignalType(StrEnum):
    PDQ = "pdq"
    VPDQ = "vpdq"
    VIDEO_MD5 = "video_md5"
    PHOTO_MD5 = "photo_md5"
    SHA256 = "sha256"


#: Exact hashes: equal or not.
EXACT = frozenset({SignalType.VIDEO_MD5, SignalType.PHOTO_MD5, SignalType.SHA256})
PDQ_BITS = 256
#: Frames whose PDQ quality is below this carry too little detail to match (HMA's default).
VPDQ_QUALITY_THRESHOLD = 50
#: The most frames a vPDQ may hold: an hour at one frame a second.
MAX_VPDQ_FRAMES = 3600

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class Frame:
    """One sampled frame of a video: its PDQ, the PDQ quality (0-100) and its time in seconds."""

    pdq: str
    quality: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.pdq},{self.quality},{self.seconds:.3f}"


class SignalError(ValueError):
    """A hash that is not a valid signal of its type; the message says what is wrong."""


def parse_signal_type(text: str) -> SignalType:
    try:
        return SignalType(text.strip().lower())
    except ValueError:
        known = ", ".join(kind.value for kind in SignalType)
        raise SignalError(f"unknown signal type; one of: {known}") from None


def normalise(kind: SignalType, value: str) -> str:
    """The canonical text of a signal, or SignalError saying why it is not one."""
    text = value.strip()
    if kind is SignalType.VPDQ:
        return format_vpdq(parse_vpdq(text))
    text = text.lower()
    pattern = _HEX32 if kind in (SignalType.VIDEO_MD5, SignalType.PHOTO_MD5) else _HEX64
    if not pattern.fullmatch(text):
        digits = 32 if pattern is _HEX32 else 64
        raise SignalError(f"a {kind.value} hash is {digits} hexadecimal digits")
    return text


def parse_vpdq(text: str) -> list[Frame]:
    """Frames from a vPDQ signal: a JSON list of ``"hex,quality,seconds"`` strings."""
    try:
        items = json.loads(text)
    except ValueError:
        raise SignalError('a vpdq hash is a JSON list of "pdq,quality,seconds" strings') from None
    if not isinstance(items, list) or not items:
        raise SignalError("a vpdq hash lists at least one frame")
    if len(items) > MAX_VPDQ_FRAMES:
        raise SignalError(f"a vpdq hash lists at most {MAX_VPDQ_FRAMES} frames")
    frames = []
    for item in items:
        parts = item.split(",") if isinstance(item, str) else []
        try:
            pdq, quality, seconds = parts
            frame = Frame(pdq.strip().lower(), int(quality), round(float(seconds), 3))
        except ValueError:
            raise SignalError('each vpdq frame is "pdq,quality,seconds"') from None
        if not _HEX64.fullmatch(frame.pdq) or not 0 <= frame.quality <= 100:
            raise SignalError("a vpdq frame has a 64-digit pdq and a quality of 0-100")
        if not frame.seconds >= 0:
            raise SignalError("a vpdq frame's time is not negative")
        frames.append(frame)
    return frames


def format_vpdq(frames: list[Frame]) -> str:
    return json.dumps([str(frame) for frame in frames], separators=(",", ":"))


def pdq_distance(first: int, second: int) -> int:
    return (first ^ second).bit_count()
