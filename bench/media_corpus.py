"""A robustness corpus for content matching, generated here (no download), deterministic by seed.

Pictures: a smooth colour field (low-frequency noise and a gradient in a random direction), a
few large shapes (hills, blobs, bands), many shapes at smaller scales (ellipses, rectangles,
polygons, lines, some blurred as if out of focus), a fine texture and sensor-like grain.
Different seeds give pictures whose PDQ hashes are far apart (``python -m bench.matching``
prints the distribution). Videos: one or two shots, each a camera panning and zooming over such
a picture, with a few shapes moving across it; H.264 in MP4.

Re-uploads are imitated by named transforms (``IMAGE_TRANSFORMS``, ``VIDEO_TRANSFORMS``). Unless
its name says otherwise, a transformed picture is saved again as JPEG at quality 90, as the
originals are, and a transformed video as H.264 (CRF 23, 15 fps) in MP4, as the originals are.

Helpers for tests, fast at small sizes::

    make_image(seed, size=(96, 64)) -> JPEG bytes
    make_video(seed, seconds=3, size=(96, 64)) -> MP4 bytes
    transform_image(data, "crop_10") -> JPEG bytes
    transform_video(data, "trim") -> video bytes
"""

from __future__ import annotations

import colorsys
import io
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

#: Sizes originals are drawn at (width, height), chosen per picture.
IMAGE_SIZES: tuple[tuple[int, int], ...] = (
    (640, 480),
    (480, 640),
    (800, 600),
    (640, 640),
    (720, 480),
    (600, 800),
)
ORIGINAL_QUALITY = 90
VIDEO_SIZE = (320, 240)
VIDEO_FPS = 15
VIDEO_SECONDS = 6.0
VIDEO_CRF = 23

CAMERAS = ("pan", "still")

#: Seeds of the two families never meet: originals and unrelated items are different pictures.
_ORIGINAL, _UNRELATED, _VIDEO, _UNRELATED_VIDEO = 1, 2, 3, 4


def _rng(*parts: int) -> np.random.Generator:
    return np.random.default_rng([abs(int(part)) for part in parts])


# --------------------------------------------------------------------------------------------
# Pictures


def _smooth_field(rng: np.random.Generator, width: int, height: int, cells: int) -> np.ndarray:
    """(height, width) floats in about [-1, 1]: random values on a coarse grid, upsampled."""
    grid_w = max(2, cells)
    grid_h = max(2, round(cells * height / width))
    coarse = rng.uniform(-1.0, 1.0, size=(grid_h, grid_w)).astype(np.float32)
    image = Image.fromarray(coarse, mode="F").resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(image)


def _random_colour(rng: np.random.Generator, alpha: int = 255) -> tuple[int, int, int, int]:
    hue = float(rng.uniform())
    saturation = float(rng.uniform(0.15, 0.95))
    value = float(rng.uniform(0.1, 1.0))
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255), alpha


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A smooth colour field: per-channel low-frequency noise plus a gradient (float, 0-255)."""
    base = np.array(_random_colour(rng)[:3], dtype=np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (xs / width - 0.5) * math.cos(angle) + (ys / height - 0.5) * math.sin(angle)
    ramp_colour = rng.uniform(-160, 160, size=3).astype(np.float32)
    picture = base + ramp[..., None] * ramp_colour
    for cells, amplitude in ((int(rng.integers(2, 5)), 70.0), (int(rng.integers(6, 12)), 35.0)):
        luma = _smooth_field(rng, width, height, cells)
        tint = rng.uniform(0.5, 1.0, size=3).astype(np.float32)
        picture += luma[..., None] * amplitude * tint
    return picture


def _shape(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    width: int,
    height: int,
    scale: float,
    alpha: int,
) -> None:
    """One random shape about ``scale`` times the picture's larger side."""
    side = max(width, height)
    extent = max(2.0, scale * side * float(rng.uniform(0.5, 1.5)))
    cx, cy = float(rng.uniform(-0.1, 1.1) * width), float(rng.uniform(-0.1, 1.1) * height)
    colour = _random_colour(rng, alpha)
    kind = rng.choice(["ellipse", "ellipse", "rectangle", "polygon", "line", "arc"])
    aspect = float(rng.uniform(0.3, 1.0))
    box = [cx - extent / 2, cy - extent * aspect / 2, cx + extent / 2, cy + extent * aspect / 2]
    if kind == "ellipse":
        draw.ellipse(box, fill=colour)
    elif kind == "rectangle":
        draw.rounded_rectangle(box, radius=extent * float(rng.uniform(0, 0.2)), fill=colour)
    elif kind == "polygon":
        corners = int(rng.integers(3, 8))
        angles = np.sort(rng.uniform(0, 2 * math.pi, size=corners))
        radii = rng.uniform(0.3, 0.6, size=corners) * extent
        points = [
            (cx + r * math.cos(a), cy + r * math.sin(a))
            for a, r in zip(angles.tolist(), radii.tolist(), strict=True)
        ]
        draw.polygon(points, fill=colour)
    elif kind == "line":
        angle = float(rng.uniform(0, math.pi))
        dx, dy = math.cos(angle) * extent, math.sin(angle) * extent
        thickness = max(1, round(extent * float(rng.uniform(0.01, 0.08))))
        draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=colour, width=thickness)
    else:
        start = float(rng.uniform(0, 360))
        thickness = max(1, round(extent * float(rng.uniform(0.02, 0.1))))
        draw.arc(box, start, start + float(rng.uniform(60, 300)), fill=colour, width=thickness)


def _layer(
    rng: np.random.Generator,
    width: int,
    height: int,
    count: int,
    scale: float,
    blur: float,
) -> Image.Image:
    """A transparent layer of ``count`` shapes at one scale, optionally out of focus."""
    # An out-of-focus layer is drawn and blurred at a quarter of the size (much faster).
    shrink = 4 if blur > 0 else 1
    small = (max(1, width // shrink), max(1, height // shrink))
    layer = Image.new("RGBA", small, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(count):
        _shape(draw, rng, small[0], small[1], scale, int(rng.integers(110, 256)))
    if blur > 0:
        layer = layer.filter(ImageFilter.GaussianBlur(blur / shrink))
        layer = layer.resize((width, height), Image.Resampling.BICUBIC)
    return layer


def make_picture(seed: int, size: tuple[int, int] | None = None, *, family: int = 0) -> Image.Image:
    """A natural-looking RGB picture, the same for the same seed, size and family."""
    rng = _rng(family, seed)
    width, height = size or IMAGE_SIZES[int(rng.integers(len(IMAGE_SIZES)))]
    picture = _background(rng, width, height)
    canvas = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8), mode="RGB").convert("RGBA")
    side = max(width, height)
    # Far to near: large soft forms, then medium shapes, then small sharp detail.
    for count, scale, blur in (
        (int(rng.integers(2, 5)), 0.55, side / 60),
        (int(rng.integers(6, 14)), 0.22, side / 200 * float(rng.integers(0, 2))),
        (int(rng.integers(15, 35)), 0.08, 0.0),
        (int(rng.integers(30, 80)), 0.025, 0.0),
    ):
        canvas.alpha_composite(_layer(rng, width, height, count, scale, blur))
    pixels = np.asarray(canvas.convert("RGB")).astype(np.float32)
    # Texture: a mid-frequency pattern and grain.
    texture = _smooth_field(rng, width, height, max(8, width // 12))
    pixels += texture[..., None] * float(rng.uniform(4, 14))
    grain = rng.standard_normal(size=pixels.shape, dtype=np.float32)
    pixels += grain * float(rng.uniform(1.5, 5.0))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB")


def encode_image(picture: Image.Image, fmt: str = "JPEG", quality: int = ORIGINAL_QUALITY) -> bytes:
    buffer = io.BytesIO()
    if fmt == "PNG":
        picture.save(buffer, format="PNG")
    else:
        picture.convert("RGB").save(buffer, format=fmt, quality=quality)
    return buffer.getvalue()


def make_image(seed: int, size: tuple[int, int] | None = None, *, family: int = _ORIGINAL) -> bytes:
    """An original: a generated picture as JPEG at quality 90."""
    return encode_image(make_picture(seed, size, family=family))


def _family_seed(seed: int, index: int) -> int:
    return seed * 1_000_003 + index


def original_image(index: int, seed: int = 0) -> bytes:
    return make_image(_family_seed(seed, index), family=_ORIGINAL)


def unrelated_image(index: int, seed: int = 0) -> bytes:
    return make_image(_family_seed(seed, index), family=_UNRELATED)


def originals_images(n: int, seed: int = 0) -> Iterator[bytes]:
    """``n`` originals (JPEG, quality 90), one per index; different seeds give other pictures."""
    for index in range(n):
        yield original_image(index, seed)


def unrelated_images(n: int, seed: int = 0) -> Iterator[bytes]:
    """``n`` pictures made like the originals but from seeds the originals never use."""
    for index in range(n):
        yield unrelated_image(index, seed)


# --------------------------------------------------------------------------------------------
# Image transforms (what a re-upload does)


def _decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def _resize(picture: Image.Image, factor: float) -> Image.Image:
    width, height = picture.size
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return picture.resize(size, Image.Resampling.LANCZOS)


def _centre_crop(picture: Image.Image, share: float) -> Image.Image:
    """Cut ``share`` of the width and of the height, half from each side."""
    width, height = picture.size
    cut_w, cut_h = round(width * share / 2), round(height * share / 2)
    return picture.crop((cut_w, cut_h, width - cut_w, height - cut_h))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _caption(picture: Image.Image) -> Image.Image:
    """A caption band over the bottom eighth: dark, mostly opaque, with a line of white text."""
    width, height = picture.size
    band = max(8, height // 8)
    overlay = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, height - band, width, height), fill=(12, 12, 12, 210))
    font = _font(max(6, int(band * 0.5)))
    draw.text(
        (width // 24, height - band + band // 4),
        "when you see it  #fyp #viral",
        fill=(255, 255, 255, 255),
        font=font,
    )
    return Image.alpha_composite(picture.convert("RGBA"), overlay).convert("RGB")


def _logo(picture: Image.Image) -> Image.Image:
    """A half-opaque watermark in the bottom-right corner, a fifth of the width wide."""
    width, height = picture.size
    logo_w = max(6, width // 5)
    logo_h = max(4, logo_w * 2 // 5)
    margin = max(2, width // 40)
    overlay = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    left, top = width - margin - logo_w, height - margin - logo_h
    draw.rounded_rectangle(
        (left, top, left + logo_w, top + logo_h), radius=logo_h // 4, fill=(255, 255, 255, 128)
    )
    draw.ellipse(
        (left + logo_h // 6, top + logo_h // 6, left + logo_h * 5 // 6, top + logo_h * 5 // 6),
        fill=(230, 30, 80, 150),
    )
    draw.text(
        (left + logo_h, top + logo_h // 4),
        "reup",
        fill=(20, 20, 20, 150),
        font=_font(max(6, logo_h // 2)),
    )
    return Image.alpha_composite(picture.convert("RGBA"), overlay).convert("RGB")


def _colour_shift(picture: Image.Image) -> Image.Image:
    """Hue turned by 20 degrees, saturation x1.3, brightness x1.1, contrast x0.9 (a filter)."""
    hsv = np.asarray(picture.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + 14) % 256  # 14/256 of a turn: about 20 degrees
    shifted = Image.fromarray(hsv, mode="HSV").convert("RGB")
    shifted = ImageEnhance.Color(shifted).enhance(1.3)
    shifted = ImageEnhance.Brightness(shifted).enhance(1.1)
    return ImageEnhance.Contrast(shifted).enhance(0.9)


def _border(picture: Image.Image) -> Image.Image:
    """A plain border on every side, 7.5 % of the width (left, right) and height (top, bottom)."""
    width, height = picture.size
    pad_w, pad_h = max(1, round(width * 0.075)), max(1, round(height * 0.075))
    framed = Image.new("RGB", (width + 2 * pad_w, height + 2 * pad_h), (24, 24, 28))
    framed.paste(picture, (pad_w, pad_h))
    return framed


def _border_blurred(picture: Image.Image) -> Image.Image:
    """The same frame as ``border``, filled with a blurred, enlarged copy of the picture (the
    way phone apps fit a picture to another shape) instead of a plain colour."""
    width, height = picture.size
    pad_w, pad_h = max(1, round(width * 0.075)), max(1, round(height * 0.075))
    size = (width + 2 * pad_w, height + 2 * pad_h)
    small = picture.resize((max(1, size[0] // 8), max(1, size[1] // 8)), Image.Resampling.BILINEAR)
    backdrop = small.filter(ImageFilter.GaussianBlur(3)).resize(size, Image.Resampling.BICUBIC)
    backdrop = ImageEnhance.Brightness(backdrop).enhance(0.7)
    backdrop.paste(picture, (pad_w, pad_h))
    return backdrop


@dataclass(frozen=True)
class ImageTransform:
    name: str
    #: Expected to keep a picture recognisable by a perceptual hash (the issue's "mild" set).
    mild: bool
    description: str
    apply: Callable[[Image.Image], Image.Image]
    fmt: str = "JPEG"
    quality: int = ORIGINAL_QUALITY


IMAGE_TRANSFORMS: dict[str, ImageTransform] = {
    t.name: t
    for t in (
        ImageTransform("identity", True, "the same bytes (control)", lambda p: p),
        ImageTransform("resize_50", True, "scaled to 50 % (Lanczos)", lambda p: _resize(p, 0.5)),
        ImageTransform("resize_150", True, "scaled to 150 % (Lanczos)", lambda p: _resize(p, 1.5)),
        ImageTransform("jpeg_q30", True, "re-encoded as JPEG, quality 30", lambda p: p, "JPEG", 30),
        ImageTransform("webp_q30", True, "re-encoded as WebP, quality 30", lambda p: p, "WEBP", 30),
        ImageTransform(
            "colour_shift",
            True,
            "hue +20°, saturation ×1.3, brightness ×1.1, contrast ×0.9",
            _colour_shift,
        ),
        ImageTransform(
            "text_overlay", True, "caption band over the bottom 1/8, white text", _caption
        ),
        ImageTransform(
            "logo_overlay", True, "50 % opaque watermark, bottom-right, 1/5 wide", _logo
        ),
        ImageTransform("border", True, "dark border, 7.5 % of width/height on each side", _border),
        ImageTransform(
            "border_blurred",
            False,
            "as border, filled with a blurred copy of the picture",
            _border_blurred,
        ),
        ImageTransform(
            "crop_5",
            False,
            "centre crop: 2.5 % cut from each side",
            lambda p: _centre_crop(p, 0.05),
        ),
        ImageTransform(
            "crop_10", False, "centre crop: 5 % cut from each side", lambda p: _centre_crop(p, 0.10)
        ),
        ImageTransform(
            "crop_20",
            False,
            "centre crop: 10 % cut from each side",
            lambda p: _centre_crop(p, 0.20),
        ),
        ImageTransform(
            "mirror",
            False,
            "horizontal flip",
            lambda p: p.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        ),
    )
}


def transform_image(data: bytes, name: str) -> bytes:
    """The bytes of a re-upload of picture ``data`` made by transform ``name``."""
    transform = IMAGE_TRANSFORMS[name]
    if name == "identity":
        return data
    return encode_image(transform.apply(_decode(data)), transform.fmt, transform.quality)


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
