"""Speed for the matching benchmark (``python -m bench.matching``): hashing with
``hash_media``, ``PdqIndex`` lookup against a numpy scan, and the memory an index holds.
"""

from __future__ import annotations

import gc
import io
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from bench import media_corpus, video_corpus
from bench.matching_records import _percentile, _video_seconds
from tracker.matching.hashing import hash_media
from tracker.matching.index import PdqIndex, pdq_rows
from workers.recheck.fingerprint import dhash

# --------------------------------------------------------------------------------------------
# Hashing speed


def _time_each(function: Callable[[bytes], Any], items: Sequence[bytes], repeat: int) -> float:
    """Total seconds for one pass over ``items``: the best of ``repeat`` passes."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for item in items:
            function(item)
        best = min(best, time.perf_counter() - started)
    return best


def _big_jpeg(data: bytes, size: tuple[int, int], seed: int) -> bytes:
    """A corpus picture scaled up to ``size`` with grain, so it compresses like a photo."""
    with Image.open(io.BytesIO(data)) as image:
        big = image.convert("RGB").resize(size, Image.Resampling.BICUBIC)
    pixels = np.asarray(big).astype(np.int16)
    noise = np.random.default_rng(seed).integers(-6, 7, size=pixels.shape, dtype=np.int16)
    return media_corpus.encode_image(
        Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    )


def hashing_speed(images: list[bytes], videos: list[bytes]) -> dict[str, Any]:
    result: dict[str, Any] = {"images": [], "videos": []}
    sets = [("corpus JPEGs", images)]
    sets.append(
        ("1920x1080 JPEG", [_big_jpeg(d, (1920, 1080), i) for i, d in enumerate(images[:10])])
    )
    sets.append(
        ("4032x3024 JPEG", [_big_jpeg(d, (4032, 3024), i) for i, d in enumerate(images[:5])])
    )
    for label, items in sets:
        seconds = _time_each(hash_media, items, 1 if len(items) > 50 else 3)
        dhash_seconds = _time_each(dhash, items, 1 if len(items) > 50 else 3)
        pixels = []
        for item in items:
            with Image.open(io.BytesIO(item)) as image:
                pixels.append(image.size[0] * image.size[1])
        result["images"].append(
            {
                "set": label,
                "count": len(items),
                "megapixels_mean": statistics.fmean(pixels) / 1e6,
                "kib_mean": statistics.fmean(len(i) for i in items) / 1024,
                "hash_media_per_s": len(items) / seconds,
                "hash_media_ms": 1000 * seconds / len(items),
                "dhash_per_s": len(items) / dhash_seconds,
            }
        )
    hd = video_corpus.encode_video(
        video_corpus.video_pictures(7, seconds=10, size=(1280, 720), fps=30),
        30,
        options=video_corpus._H264,
    )
    for label, items in (
        ("corpus 320x240 15 fps H.264", videos),
        ("1280x720 30 fps H.264, 10 s", [hd]),
    ):
        media_seconds = sum(_video_seconds(item) for item in items)
        seconds = _time_each(
            lambda data: hash_media(data, "video/mp4"), items, 1 if len(items) > 5 else 3
        )
        result["videos"].append(
            {
                "set": label,
                "count": len(items),
                "video_seconds": media_seconds,
                "wall_seconds": seconds,
                "video_seconds_per_s": media_seconds / seconds,
                "kib_mean": statistics.fmean(len(i) for i in items) / 1024,
            }
        )
    return result


# --------------------------------------------------------------------------------------------
# Lookup


def _random_hexes(rng: np.random.Generator, count: int) -> tuple[np.ndarray, list[str]]:
    rows = rng.integers(0, 2**64, size=(count, 4), dtype=np.uint64)
    text = rows.astype(">u8").tobytes().hex()
    return rows, [text[i * 64 : (i + 1) * 64] for i in range(count)]


def _flip(row: np.ndarray, bits: Sequence[int]) -> np.ndarray:
    flipped = row.copy()
    for bit in bits:
        flipped[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
    return flipped


def _hex(row: np.ndarray) -> str:
    return row.astype(">u8").tobytes().hex()


def lookup(
    size: int, queries: int, brute_queries: int, seed: int, threshold: int = 31
) -> dict[str, Any]:
    rng = np.random.default_rng([seed, size])
    rows, hexes = _random_hexes(rng, size)
    # Half the queries are near-duplicates of a bank entry (0-31 bits flipped, evenly), half
    # random hashes (which match nothing: a random pair is within 31 bits with p ~ 1e-35).
    planted: list[tuple[str, int | None]] = []
    for number in range(queries):
        if number % 2 == 0:
            target = int(rng.integers(size))
            bits = rng.choice(256, size=(number // 2) % (threshold + 1), replace=False)
            planted.append((_hex(_flip(rows[target], bits.tolist())), target))
        else:
            planted.append((_random_hexes(rng, 1)[1][0], None))

    gc.collect()
    started = time.perf_counter()
    index = PdqIndex(threshold)
    index.add_many(zip(range(size), hexes, strict=True))
    build = time.perf_counter() - started

    def scan(pdq: str) -> list[tuple[int, int]]:
        distances = np.bitwise_count(rows ^ pdq_rows([pdq])[0]).sum(axis=1)
        close = np.nonzero(distances <= threshold)[0]
        return sorted(((int(i), int(distances[i])) for i in close), key=lambda item: item[1])

    index_ms, brute_ms = [], []
    found = agree = 0
    for number, (pdq, near) in enumerate(planted):
        started = time.perf_counter()
        result = index.query(pdq)
        index_ms.append(1000 * (time.perf_counter() - started))
        if near is not None:
            found += any(key == near for key, _ in result)
        if number < brute_queries:
            started = time.perf_counter()
            expected = scan(pdq)
            brute_ms.append(1000 * (time.perf_counter() - started))
            agree += sorted(result) == sorted(expected)
    planted_count = sum(1 for _, target in planted if target is not None)
    record = {
        "bank": size,
        "threshold": threshold,
        "queries": queries,
        "build_s": build,
        "index_median_ms": statistics.median(index_ms),
        "index_p99_ms": _percentile(index_ms, 99),
        "brute_queries": len(brute_ms),
        "brute_median_ms": statistics.median(brute_ms),
        "brute_p99_ms": _percentile(brute_ms, 99),
        "speedup_median": statistics.median(brute_ms) / statistics.median(index_ms),
        "planted_found": found / planted_count,
        "agrees_with_brute": agree / len(brute_ms),
    }
    del index
    gc.collect()
    return record


def index_memory(size: int, seed: int, threshold: int = 31) -> dict[str, float]:
    """What a PdqIndex of ``size`` hashes holds (tracemalloc), its hex strings included."""
    gc.collect()
    tracemalloc.start()
    rng = np.random.default_rng([seed, size, 1])
    rows, hexes = _random_hexes(rng, size)
    del rows
    index = PdqIndex(threshold)
    index.add_many(zip(range(size), hexes, strict=True))
    del hexes  # the index keeps its own list of the same strings
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrays = 0  # every numpy array the index holds, alone or in a list
    for value in vars(index).values():
        for item in value if isinstance(value, list) else [value]:
            arrays += item.nbytes if isinstance(item, np.ndarray) else 0
    del index
    gc.collect()
    mib = 1024 * 1024
    return {
        "bank": size,
        "held_mib": held / mib,
        "peak_mib": peak / mib,
        "numpy_arrays_mib": arrays / mib,
        "python_objects_mib": (held - arrays) / mib,
    }
