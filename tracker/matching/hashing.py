"""Hashes of an image or a video, computed in memory; the caller drops the bytes at once.

- Images: PDQ (Meta's algorithm, via the ``pdqhash`` binding) with its quality, after Pillow
  decodes the picture (JPEG at reduced size with ``draft``) and scales it to at most 512 pixels a
  side, as the reference PDQ tool does; plus the MD5 and SHA-256 of the file.
- Videos: vPDQ, the PDQ of one frame a second (PyAV decodes from memory; FFmpeg is in its
  wheel), consecutive identical frames dropped, each with its time and quality; plus the file's
  MD5 and SHA-256 (StopNCII and NCMEC lists carry MD5 for video).

Bounded: the caller reads at most a byte limit; decoding stops at a pixel limit (decompression
bombs) and at a time limit, after which a video's hash holds the frames read so far
(``truncated``).
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pdqhash
from PIL import Image, ImageFile, ImageOps

from tracker.evidence.sniff import sniff_media
from tracker.matching.signals import MAX_VPDQ_FRAMES, Frame, SignalType, format_vpdq

# A picture cut short by a read limit is decoded as far as it goes, in every thread. Pillow's
# switch is process-wide: it is set once here (and in the re-check fingerprint), never toggled,
# so two threads cannot race on it.
ImageFile.LOAD_TRUNCATED_IMAGES = True

#: Pictures and frames with more pixels than this are not decoded.
MAX_PIXELS = 40_000_000
#: PDQ is computed on a picture scaled to at most this many pixels a side.
PDQ_SIDE = 512
#: vPDQ samples one frame every this many seconds (HMA's default), for what a re-check reads.
SECONDS_PER_FRAME = 1.0
#: A bank's video is sampled five times as often: a re-upload trimmed by a fraction of a second
#: then still lands within 0.1 s of a banked frame (BENCHMARKS.md: trim recall 0.02 -> 0.92).
BANK_SECONDS_PER_FRAME = 0.2

IMAGE = "image"
VIDEO = "video"


class NotMedia(ValueError):
    """The bytes are not an image or a video this module can decode."""


@dataclass
class MediaHashes:
    """What matching needs of one image or video; never the bytes."""

    kind: str
    size: int
    md5: str
    sha256: str
    pdq: str | None = None
    pdq_quality: int | None = None
    #: The PDQ of the picture mirrored left to right: looked up too, never banked or exported.
    pdq_mirror: str | None = None
    frames: list[Frame] = field(default_factory=list)
    truncated: bool = False

    def signals(self) -> list[tuple[SignalType, str]]:
        """The signals to compare with a bank (and to put in one)."""
        md5 = SignalType.VIDEO_MD5 if self.kind == VIDEO else SignalType.PHOTO_MD5
        found = [(md5, self.md5), (SignalType.SHA256, self.sha256)]
        if self.pdq is not None:
            found.append((SignalType.PDQ, self.pdq))
        if self.frames:
            found.append((SignalType.VPDQ, format_vpdq(self.frames)))
        return found


def media_kind(head: bytes, content_type: str = "") -> str | None:
    """``image``, ``video`` or None, from the leading bytes (the header only as a hint)."""
    sniffed = sniff_media(head)
    if sniffed is not None:
        return IMAGE if sniffed.media_type.startswith("image/") else VIDEO
    declared = content_type.split(";", 1)[0].strip().lower()
    if declared.startswith("video/"):
        return VIDEO  # a container sniff_media does not know (FFmpeg will decide)
    return None


def hash_media(
    data: bytes,
    content_type: str = "",
    *,
    seconds: float = 20.0,
    truncated: bool = False,
    every: float = SECONDS_PER_FRAME,
) -> MediaHashes:
    """Hash an image or a video held in memory; NotMedia if it is neither (or undecodable).

    ``truncated``: the caller stopped reading at its byte limit, so the exact hashes are of a
    prefix and will not equal a bank's; the perceptual ones still decode what is there.
    """
    kind = media_kind(data[:64], content_type)
    if kind is None:
        raise NotMedia("not an image or a video")
    hashes = MediaHashes(
        kind=kind,
        size=len(data),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        truncated=truncated,
    )
    if kind == IMAGE:
        hashes.pdq, hashes.pdq_quality, hashes.pdq_mirror = image_pdq(data, truncated=truncated)
    else:
        hashes.frames, stopped = video_frames(
            data, deadline=time.monotonic() + seconds, every=every
        )
        hashes.truncated = hashes.truncated or stopped
        if not hashes.frames:
            raise NotMedia("no video frame could be decoded")
    return hashes


#: Edge rows and columns within this many levels of the corner's colour are a border.
BORDER_TOLERANCE = 12
#: A border is trimmed only if the picture keeps at least this share of each side.
BORDER_KEEP = 0.5


def trim_border(pixels: np.ndarray) -> np.ndarray:
    """The picture without a solid-colour frame or letterbox around it.

    A border added on re-upload moves every PDQ bit (the hash sees a smaller picture in a
    frame); hashing both sides without it makes the frame harmless.
    """
    height, width = pixels.shape[:2]
    if height < 8 or width < 8:
        return pixels
    corner = pixels[0, 0].astype(np.int16)

    def is_plain(edge: np.ndarray) -> bool:
        return bool((np.abs(edge.astype(np.int16) - corner) <= BORDER_TOLERANCE).all())

    # Most pictures have no frame: four edge lines say so without touching the rest.
    if not (
        is_plain(pixels[0])
        or is_plain(pixels[-1])
        or is_plain(pixels[:, 0])
        or is_plain(pixels[:, -1])
    ):
        return pixels
    plain = np.abs(pixels.astype(np.int16) - corner).max(axis=2) <= BORDER_TOLERANCE
    plain_rows, plain_columns = plain.all(axis=1), plain.all(axis=0)
    top = int(np.argmin(plain_rows)) if not plain_rows.all() else height
    bottom = int(np.argmin(plain_rows[::-1]))
    left = int(np.argmin(plain_columns)) if not plain_columns.all() else width
    right = int(np.argmin(plain_columns[::-1]))
    kept_height, kept_width = height - top - bottom, width - left - right
    if not (top or bottom or left or right):
        return pixels
    if kept_height < height * BORDER_KEEP or kept_width < width * BORDER_KEEP:
        return pixels
    return pixels[top : height - bottom, left : width - right]


#: Where compute_dihedral puts the left-right mirror among its eight orientations.
_MIRROR = 5


def _hex(bits: np.ndarray) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def pdq_of_array(pixels: np.ndarray) -> tuple[str, int]:
    """PDQ hex and quality of an RGB array (height x width x 3, uint8), its border trimmed."""
    bits, quality = pdqhash.compute(np.ascontiguousarray(trim_border(pixels)))
    return _hex(bits), int(quality)


def pdq_and_mirror(pixels: np.ndarray) -> tuple[str, int, str]:
    """PDQ, quality and the PDQ of the mirrored picture, from one transform (PDQ's dihedral)."""
    orientations, quality = pdqhash.compute_dihedral(np.ascontiguousarray(trim_border(pixels)))
    return _hex(orientations[0]), int(quality), _hex(orientations[_MIRROR])


def image_pdq(data: bytes, *, truncated: bool = False) -> tuple[str, int, str]:
    """PDQ, quality and mirrored PDQ of an encoded picture (an animation's first frame).

    ``truncated``: the bytes stop at the read limit; the picture is decoded as far as it goes.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS or width < 1 or height < 1:
                raise NotMedia("the picture is too large to decode")
            image.draft("RGB", (PDQ_SIDE, PDQ_SIDE))
            if truncated:
                image.load()  # as far as the bytes go (LOAD_TRUNCATED_IMAGES, below)
            picture = ImageOps.exif_transpose(image).convert("RGB")
    except NotMedia:
        raise
    except Exception as failure:  # Any undecodable or hostile picture.
        raise NotMedia("the picture cannot be decoded") from failure
    picture.thumbnail((PDQ_SIDE, PDQ_SIDE), Image.Resampling.BILINEAR)
    return pdq_and_mirror(np.asarray(picture))


def video_frames(
    data: bytes, *, deadline: float, every: float = SECONDS_PER_FRAME
) -> tuple[list[Frame], bool]:
    """vPDQ frames of a video; True as well if the time limit stopped decoding early."""
    import av  # PyAV: imported here so the API process pays for FFmpeg only when hashing video

    frames: list[Frame] = []
    next_at = 0.0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                return [], False
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if (stream.width or 0) * (stream.height or 0) > MAX_PIXELS:
                return [], False
            if container.duration:  # a long video is sampled less often, to fit the frame cap
                every = max(every, container.duration / av.time_base / MAX_VPDQ_FRAMES)
            for decoded in container.decode(stream):
                if time.monotonic() > deadline:
                    return frames, True
                at = decoded.time if decoded.time is not None else next_at
                if at + 1e-6 < next_at:
                    continue
                # The next sampling instant after this one (the small margin keeps 0.6 / 0.2
                # from flooring to 2).
                next_at = (math.floor(at / every + 1e-6) + 1) * every
                width, height = _fit(decoded.width, decoded.height)
                pixels = decoded.to_ndarray(format="rgb24", width=width, height=height)
                pdq, quality = pdq_of_array(pixels)
                if frames and frames[-1].pdq == pdq:
                    continue  # a still scene: one frame stands for it
                frames.append(Frame(pdq, quality, round(max(at, 0.0), 3)))
                if len(frames) >= MAX_VPDQ_FRAMES:
                    return frames, True
    except (av.error.FFmpegError, ValueError, OSError, EOFError):
        # A truncated or damaged file: what decoded so far still counts.
        return frames, bool(frames)
    return frames, False


def _fit(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, PDQ_SIDE / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))
