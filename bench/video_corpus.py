"""The videos of the robustness corpus for content matching (pictures: ``bench.media_corpus``),
generated here (no download), deterministic by seed.

Videos: one or two shots, each a camera panning and zooming over a generated picture, with a
few shapes moving across it; H.264 in MP4.

Re-uploads are imitated by named transforms (``VIDEO_TRANSFORMS``). Unless its name says
otherwise, a transformed video is saved again as H.264 (CRF 23, 15 fps) in MP4, as the
originals are.

Helpers for tests, fast at small sizes::

    make_video(seed, seconds=3, size=(96, 64)) -> MP4 bytes
    transform_video(data, "trim") -> video bytes
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from bench.media_corpus import (
    _UNRELATED_VIDEO,
    _VIDEO,
    _family_seed,
    _random_colour,
    _rng,
    make_picture,
)

VIDEO_SIZE = (320, 240)
VIDEO_FPS = 15
VIDEO_SECONDS = 6.0
VIDEO_CRF = 23

CAMERAS = ("pan", "still")


# --------------------------------------------------------------------------------------------
# Videos


@dataclass(frozen=True)
class _Sprite:
    colour: tuple[int, int, int, int]
    radius: float
    start: tuple[float, float]
    velocity: tuple[float, float]
    box: bool


def _shot_frames(
    rng: np.random.Generator,
    count: int,
    size: tuple[int, int],
    fps: float,
    picture_seed: int,
    camera: str,
) -> Iterator[np.ndarray]:
    """A camera over a generated picture (still, or panning), shapes moving across it."""
    width, height = size
    scene_w, scene_h = width * 2, height * 2
    scene = make_picture(picture_seed, (scene_w, scene_h), family=_VIDEO)
    # The window shows 45-70 % of the scene. A still camera stays put; a panning one moves at
    # 2-10 % of the frame's width per second (a slow to moderate pan) and zooms in or out by up
    # to 10 % over the shot.
    still = camera == "still"
    zoom_start = float(rng.uniform(0.45, 0.7))
    zoom_end = zoom_start * (1.0 if still else float(rng.uniform(0.9, 1.1)))
    start = rng.uniform(0.3, 0.7, size=2)
    pan = 0.0 if still else float(rng.uniform(0.02, 0.10)) * zoom_start
    direction = rng.uniform(0, 2 * math.pi)
    speed = (pan * math.cos(direction), pan * math.sin(direction))
    sprites = [
        _Sprite(
            _random_colour(rng, int(rng.integers(160, 256))),
            float(rng.uniform(0.03, 0.08) * width),
            (float(rng.uniform(0, width)), float(rng.uniform(0, height))),
            (float(rng.uniform(-0.15, 0.15) * width), float(rng.uniform(-0.15, 0.15) * height)),
            bool(rng.integers(2)),
        )
        for _ in range(int(rng.integers(2, 6)))
    ]
    for number in range(count):
        seconds = number / fps
        progress = number / max(1, count - 1)
        zoom = float(zoom_start + (zoom_end - zoom_start) * progress)
        window_w, window_h = scene_w * zoom, scene_h * zoom
        centre_x = float(
            np.clip((start[0] + speed[0] * seconds) * scene_w, window_w / 2, scene_w - window_w / 2)
        )
        centre_y = float(
            np.clip((start[1] + speed[1] * seconds) * scene_h, window_h / 2, scene_h - window_h / 2)
        )
        box = (
            centre_x - window_w / 2,
            centre_y - window_h / 2,
            centre_x + window_w / 2,
            centre_y + window_h / 2,
        )
        frame = scene.resize(size, Image.Resampling.BILINEAR, box=box).convert("RGBA")
        overlay = Image.new("RGBA", size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for sprite in sprites:
            x = (sprite.start[0] + sprite.velocity[0] * seconds) % (width + 2 * sprite.radius)
            y = (sprite.start[1] + sprite.velocity[1] * seconds) % (height + 2 * sprite.radius)
            x, y = x - sprite.radius, y - sprite.radius
            shape = (x - sprite.radius, y - sprite.radius, x + sprite.radius, y + sprite.radius)
            if sprite.box:
                draw.rectangle(shape, fill=sprite.colour)
            else:
                draw.ellipse(shape, fill=sprite.colour)
        frame.alpha_composite(overlay)
        yield np.asarray(frame.convert("RGB"))


def video_pictures(
    seed: int,
    seconds: float = VIDEO_SECONDS,
    size: tuple[int, int] = VIDEO_SIZE,
    fps: int = VIDEO_FPS,
    *,
    family: int = _VIDEO,
    camera: str = "pan",
) -> Iterator[np.ndarray]:
    """The frames (RGB arrays) of a generated video: one shot, or (two times in five, when it
    lasts 4 s or more) two shots with a cut between. ``camera``: ``pan`` or ``still``; either
    way 2-5 shapes (6-16 % of the width across) move over the picture at up to 15 % of the
    width per second."""
    if camera not in CAMERAS:
        raise ValueError(f"camera is one of {CAMERAS}")
    rng = _rng(family, seed)
    total = max(1, round(seconds * fps))
    cuts = [0, total]
    if seconds >= 4 and rng.uniform() < 0.4:
        cuts = [0, int(total * rng.uniform(0.35, 0.65)), total]
    for shot, (first, last) in enumerate(zip(cuts, cuts[1:], strict=False)):
        picture_seed = seed * 7 + shot + family * 1_000_000
        yield from _shot_frames(rng, last - first, size, fps, picture_seed, camera)


def encode_video(
    frames: Iterable[np.ndarray],
    fps: float = VIDEO_FPS,
    *,
    codec: str = "libx264",
    container_format: str = "mp4",
    options: Mapping[str, str] | None = None,
    bit_rate: int | None = None,
) -> bytes:
    """Frames (RGB arrays of one size) as a video file in memory."""
    from fractions import Fraction

    import av  # PyAV, as tracker.matching.hashing uses it

    pictures = iter(frames)
    first = next(pictures, None)
    if first is None:
        raise ValueError("a video needs at least one frame")
    height, width = first.shape[0] & ~1, first.shape[1] & ~1  # 4:2:0 wants even sides
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # One thread and explicit timestamps: otherwise the same frames are encoded to different
        # bytes from one call to the next (libx264, libvpx), and the corpus is not repeatable.
        stream.codec_context.thread_count = 1
        if bit_rate:
            stream.bit_rate = bit_rate
        if options:
            settings: dict[str, object] = dict(options)
            stream.options = settings
        for number, pixels in enumerate(itertools.chain([first], pictures)):
            even = np.ascontiguousarray(pixels[:height, :width])
            frame = av.VideoFrame.from_ndarray(even, format="rgb24")
            frame.pts = number
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


_H264 = {"crf": str(VIDEO_CRF), "preset": "veryfast"}


def make_video(
    seed: int,
    seconds: float = VIDEO_SECONDS,
    size: tuple[int, int] = VIDEO_SIZE,
    *,
    family: int = _VIDEO,
    camera: str = "pan",
) -> bytes:
    """An original video: H.264 (CRF 23, preset veryfast) in MP4, 15 fps."""
    pictures = video_pictures(seed, seconds, size, VIDEO_FPS, family=family, camera=camera)
    return encode_video(pictures, VIDEO_FPS, options=_H264)


def camera_of(index: int) -> str:
    """The camera of the corpus's video number ``index``: one in three is still."""
    return "still" if index % 3 == 0 else "pan"


def original_video(index: int, seed: int = 0, seconds: float = VIDEO_SECONDS) -> bytes:
    return make_video(_family_seed(seed, index), seconds, camera=camera_of(index))


def unrelated_video(index: int, seed: int = 0, seconds: float = VIDEO_SECONDS) -> bytes:
    return make_video(
        _family_seed(seed, index), seconds, family=_UNRELATED_VIDEO, camera=camera_of(index)
    )


def originals_videos(n: int, seed: int = 0, seconds: float = VIDEO_SECONDS) -> Iterator[bytes]:
    for index in range(n):
        yield original_video(index, seed, seconds)


def unrelated_videos(n: int, seed: int = 0, seconds: float = VIDEO_SECONDS) -> Iterator[bytes]:
    for index in range(n):
        yield unrelated_video(index, seed, seconds)


# --------------------------------------------------------------------------------------------
# Video transforms


def decode_video(data: bytes) -> tuple[list[np.ndarray], float]:
    """Every frame of a video (RGB arrays) and its frame rate."""
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or VIDEO_FPS)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    return frames, rate


def _retimed(frames: list[np.ndarray], rate: float, new_rate: float) -> list[np.ndarray]:
    """Frames shown at ``new_rate``: each new frame is the source frame on screen at its time."""
    count = math.floor(len(frames) / rate * new_rate + 1e-9)
    return [
        frames[min(len(frames) - 1, math.floor(k * rate / new_rate + 1e-9))] for k in range(count)
    ]


def _resize_frames(frames: list[np.ndarray], factor: float) -> list[np.ndarray]:
    height, width = frames[0].shape[:2]
    size = (max(2, round(width * factor)), max(2, round(height * factor)))
    return [np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR)) for f in frames]


def _crop_frames(frames: list[np.ndarray], share: float) -> list[np.ndarray]:
    height, width = frames[0].shape[:2]
    cut_w, cut_h = round(width * share / 2), round(height * share / 2)
    return [f[cut_h : height - cut_h, cut_w : width - cut_w] for f in frames]


@dataclass(frozen=True)
class VideoTransform:
    name: str
    mild: bool
    description: str


VIDEO_TRANSFORMS: dict[str, VideoTransform] = {
    t.name: t
    for t in (
        VideoTransform("identity", True, "the same bytes (control)"),
        VideoTransform("h264_crf35", True, "re-encoded H.264, CRF 35 (about a third the bits)"),
        VideoTransform("vp9_webm", True, "re-encoded VP9 in WebM, 150 kbit/s"),
        VideoTransform("mpeg4", True, "re-encoded MPEG-4 Part 2 in MP4, 300 kbit/s"),
        VideoTransform("trim", True, "first 1.3 s and last 0.7 s cut off"),
        VideoTransform("trim_1s", True, "first and last 1.0 s cut off (same sampling instants)"),
        VideoTransform("fps_10", True, "15 → 10 fps (frames dropped)"),
        VideoTransform("fps_24", True, "15 → 24 fps (frames repeated)"),
        VideoTransform("resize_50", True, "scaled to 50 % (160x120)"),
        VideoTransform("crop_10", False, "centre crop: 5 % cut from each side"),
        VideoTransform("mirror", False, "horizontal flip"),
    )
}


def transform_video(data: bytes, name: str) -> bytes:
    """The bytes of a re-upload of video ``data`` made by transform ``name``."""
    if name not in VIDEO_TRANSFORMS:
        raise KeyError(name)
    if name == "identity":
        return data
    frames, rate = decode_video(data)
    if name == "h264_crf35":
        return encode_video(frames, rate, options={"crf": "35", "preset": "veryfast"})
    if name == "vp9_webm":
        return encode_video(
            frames,
            rate,
            codec="libvpx-vp9",
            container_format="webm",
            options={"deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
            bit_rate=150_000,
        )
    if name == "mpeg4":
        return encode_video(frames, rate, codec="mpeg4", bit_rate=300_000)
    if name == "trim":  # a video shorter than 4 s loses at most a third and a sixth of it
        first = min(round(1.3 * rate), len(frames) // 3)
        last = len(frames) - min(round(0.7 * rate), len(frames) // 6)
        return encode_video(frames[first:last], rate, options=_H264)
    if name == "trim_1s":
        cut = min(round(1.0 * rate), len(frames) // 4)
        return encode_video(frames[cut : len(frames) - cut], rate, options=_H264)
    if name == "fps_10":
        return encode_video(_retimed(frames, rate, 10), 10, options=_H264)
    if name == "fps_24":
        return encode_video(_retimed(frames, rate, 24), 24, options=_H264)
    if name == "resize_50":
        return encode_video(_resize_frames(frames, 0.5), rate, options=_H264)
    if name == "crop_10":
        return encode_video(_crop_frames(frames, 0.10), rate, options=_H264)
    return encode_video([np.ascontiguousarray(f[:, ::-1]) for f in frames], rate, options=_H264)
