"""The matching benchmark's corpus, hashed (``python -m bench.matching``): each generated
original through every transform, and each unrelated item, reduced in worker processes to the
hashes the evaluations need; helpers they share.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

import tracker.matching.hashing as hashing_module
from bench import media_corpus, video_corpus
from tracker.matching.hashing import PDQ_SIDE, hash_media, pdq_of_array
from tracker.matching.signals import Frame
from workers.recheck.fingerprint import dhash


def _percentile(values: Sequence[float] | np.ndarray, share: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), share))


# --------------------------------------------------------------------------------------------
# Corpus hashing (worker processes)


@dataclass
class ImageRecord:
    md5: str
    sha256: str
    pdq: str
    quality: int
    #: The PDQ of the picture mirrored, if hash_media gives one (the matcher looks it up too).
    pdq_mirror: str | None
    dhash: int | None
    size: int
    width: int
    height: int


@dataclass
class VideoRecord:
    md5: str
    sha256: str
    frames: list[Frame]
    size: int
    seconds: float
    #: For originals: frames sampled every 0.2 s (the dense-bank variant).
    dense: list[Frame] = field(default_factory=list)


def _image_record(data: bytes) -> ImageRecord:
    hashes = hash_media(data)
    assert hashes.pdq is not None and hashes.pdq_quality is not None
    perceptual = dhash(data)
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return ImageRecord(
        hashes.md5,
        hashes.sha256,
        hashes.pdq,
        hashes.pdq_quality,
        getattr(hashes, "pdq_mirror", None),
        None if perceptual is None else int(perceptual, 16),
        len(data),
        width,
        height,
    )


def _image_item(task: tuple[str, int, int]) -> tuple[str, int, dict[str, ImageRecord], bytes]:
    family, index, seed = task
    if family == "original":
        data = media_corpus.original_image(index, seed)
        names = list(media_corpus.IMAGE_TRANSFORMS)
    else:
        data = media_corpus.unrelated_image(index, seed)
        names = ["identity"]
    records = {name: _image_record(media_corpus.transform_image(data, name)) for name in names}
    return family, index, records, data if family == "original" else b""


def _video_seconds(data: bytes) -> float:
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return float((container.duration or 0) / 1_000_000)


def _fit(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, PDQ_SIDE / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def dense_frames(data: bytes, every: float) -> list[Frame]:
    """PDQ of a frame every ``every`` seconds, as ``video_frames`` does once a second."""
    import av

    frames: list[Frame] = []
    next_at = 0.0
    with av.open(io.BytesIO(data), mode="r") as container:
        for decoded in container.decode(container.streams.video[0]):
            at = float(decoded.time or 0.0)
            if at + 1e-6 < next_at:
                continue
            next_at = (int(at / every + 1e-6) + 1) * every
            width, height = _fit(decoded.width, decoded.height)
            pdq, quality = pdq_of_array(
                decoded.to_ndarray(format="rgb24", width=width, height=height)
            )
            frames.append(Frame(pdq, quality, round(at, 3)))
    return frames


def _video_record(data: bytes, name: str) -> VideoRecord:
    content_type = "video/webm" if name == "vp9_webm" else "video/mp4"
    hashes = hash_media(data, content_type)
    return VideoRecord(hashes.md5, hashes.sha256, hashes.frames, len(data), _video_seconds(data))


def _video_item(task: tuple[str, int, int]) -> tuple[str, int, dict[str, VideoRecord], bytes]:
    family, index, seed = task
    if family == "original":
        data = video_corpus.original_video(index, seed)
        names = list(video_corpus.VIDEO_TRANSFORMS)
    else:
        data = video_corpus.unrelated_video(index, seed)
        names = ["identity"]
    records = {
        name: _video_record(video_corpus.transform_video(data, name), name) for name in names
    }
    if family == "original":
        # The bank's side sampled five times a second: as the tracker banks a video (hash_media's
        # ``every``, BANK_SECONDS_PER_FRAME), or, on a tracker without it, as dense_frames does.
        every = getattr(hashing_module, "BANK_SECONDS_PER_FRAME", None)
        if every is not None:
            records["identity"].dense = hash_media(data, "video/mp4", every=every).frames
        else:
            records["identity"].dense = dense_frames(data, 0.2)
    return family, index, records, data if family == "original" else b""


def _run_pool(
    function: Callable[[tuple[str, int, int]], Any], tasks: list[tuple[str, int, int]], jobs: int
) -> list[Any]:
    if jobs <= 1:
        return [function(task) for task in tasks]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(function, tasks, chunksize=4))
