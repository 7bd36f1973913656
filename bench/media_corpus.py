"""A robustness corpus for content matching, generated here (no download), deterministic by
seed: the pictures and their re-upload transforms (videos: ``bench.video_corpus``).

Pictures: a smooth colour field (low-frequency noise and a gradient in a random direction), a
few large shapes (hills, blobs, bands), many shapes at smaller scales (ellipses, rectangles,
polygons, lines, some blurred as if out of focus), a fine texture and sensor-like grain.
Different seeds give pictures whose PDQ hashes are far apart (``python -m bench.matching``
prints the distribution).

Re-uploads are imitated by named transforms (``IMAGE_TRANSFORMS``). Unless its name says
otherwise, a transformed picture is saved again as JPEG at quality 90, as the originals are.

Helpers for tests, fast at small sizes::

    make_image(seed, size=(96, 64)) -> JPEG bytes
    transform_image(data, "crop_10") -> JPEG bytes
"""

from __future__ import annotations

import colorsys
import io
import math
from collections.abc import Callable, Iterator
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

#: Seeds of the two families never meet: originals and unrelated items are different pictures.
#: (The video families, the same way: ``bench.video_corpus``.)
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
