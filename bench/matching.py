"""Content matching (issue 10): recall and false matches under re-upload transforms, hashing
speed, and lookup time as a bank grows.

    .venv/bin/python -m bench.matching                 # full size, 6-9 min on 2 cores
    .venv/bin/python -m bench.matching --images 50 --videos 6 --lookup-sizes 10000   # smoke
    options: --images 500 --unrelated 3000 --videos 50 --unrelated-videos 50 --seed 0
             --jobs 2 --lookup-sizes 10000,1000000 --lookup-queries 1000 --brute-queries 200

1. Robustness: the corpus of ``bench.media_corpus`` (generated, deterministic). The bank holds
   the originals; every transformed original is looked up in it (recall: the right original is
   among the matches; wrong: some other original is), and so is every unrelated item (false
   match: any bank entry matches). SHA-256, MD5, dHash (``workers.recheck.fingerprint``,
   distance <= 10 of 64 bits), PDQ through ``PdqIndex`` at 31 (the tracker's default), 47 and 63
   bits, checked against a brute-force scan of the same bank; for videos vPDQ through
   ``VpdqIndex`` (31 bits, 80 % of frames, the defaults) and variants.
2. Speed: ``hash_media`` on the corpus's JPEGs and videos, one process, nothing else running.
3. Lookup: ``PdqIndex`` over banks of random PDQ hashes with planted near-duplicates, against a
   brute-force numpy scan of the same bank in the same run; build time and memory.

Writes ``bench/results/matching.json`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import json
import math
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import tracker.matching.hashing as hashing_module
from bench import media_corpus as corpus
from tracker.matching.hashing import PDQ_SIDE, hash_media, pdq_of_array
from tracker.matching.index import PdqIndex, VpdqIndex, pdq_rows
from tracker.matching.signals import VPDQ_QUALITY_THRESHOLD, Frame
from workers.recheck.fingerprint import dhash

RESULTS = Path(__file__).parent / "results"
DHASH_THRESHOLD = 10
PDQ_THRESHOLDS = (31, 47, 63)
#: (label, PDQ threshold, share of frames, bank sampled every this many seconds)
VPDQ_VARIANTS: tuple[tuple[str, int, float, float], ...] = (
    ("vPDQ 31 / 80 % (default)", 31, 0.8, 1.0),
    ("vPDQ 47 / 80 %", 47, 0.8, 1.0),
    ("vPDQ 31 / 50 %", 31, 0.5, 1.0),
    ("vPDQ 31 / 80 %, bank at 5 fps", 31, 0.8, 0.2),
)


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
        data = corpus.original_image(index, seed)
        names = list(corpus.IMAGE_TRANSFORMS)
    else:
        data = corpus.unrelated_image(index, seed)
        names = ["identity"]
    records = {name: _image_record(corpus.transform_image(data, name)) for name in names}
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
        data = corpus.original_video(index, seed)
        names = list(corpus.VIDEO_TRANSFORMS)
    else:
        data = corpus.unrelated_video(index, seed)
        names = ["identity"]
    records = {name: _video_record(corpus.transform_video(data, name), name) for name in names}
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


# --------------------------------------------------------------------------------------------
# Robustness: images


def _matches_exact(bank: dict[str, int], value: str) -> set[int]:
    return {bank[value]} if value in bank else set()


def _rates(found: list[set[int]], expected: list[int]) -> tuple[float, float]:
    """(share where the expected key was found, share where some other key was)."""
    right = sum(1 for keys, key in zip(found, expected, strict=True) if key in keys)
    wrong = sum(1 for keys, key in zip(found, expected, strict=True) if keys - {key})
    return right / max(1, len(found)), wrong / max(1, len(found))


def _distance_matrix(queries: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """Hamming distances, (queries, bank), of (n, 4) uint64 PDQ rows."""
    out = np.empty((len(queries), len(bank)), dtype=np.int16)
    for start in range(0, len(queries), 256):
        block = queries[start : start + 256]
        out[start : start + 256] = np.bitwise_count(block[:, None, :] ^ bank[None, :, :]).sum(2)
    return out


def _distribution(values: np.ndarray) -> dict[str, float]:
    return {
        "pairs": int(values.size),
        "min": float(values.min()),
        "p0.1": _percentile(values, 0.1),
        "p1": _percentile(values, 1),
        "median": _percentile(values, 50),
        "mean": float(values.mean()),
        "sd": float(values.std()),
    }


def evaluate_images(
    originals: dict[int, dict[str, ImageRecord]], unrelated: dict[int, ImageRecord]
) -> dict[str, Any]:
    keys = sorted(originals)
    bank = [originals[key]["identity"] for key in keys]
    sha_bank = {record.sha256: key for key, record in zip(keys, bank, strict=True)}
    md5_bank = {record.md5: key for key, record in zip(keys, bank, strict=True)}
    dhash_bank = np.array([record.dhash or 0 for record in bank], dtype=np.uint64)
    pdq_bank = pdq_rows([record.pdq for record in bank])

    # Every query: (transform or "unrelated", expected key or -1, record).
    queries: list[tuple[str, int, ImageRecord]] = []
    for name in corpus.IMAGE_TRANSFORMS:
        queries += [(name, key, originals[key][name]) for key in keys]
    queries += [("unrelated", -1, record) for _, record in sorted(unrelated.items())]

    found: dict[str, list[set[int]]] = {}
    found["SHA-256"] = [_matches_exact(sha_bank, q[2].sha256) for q in queries]
    found["MD5"] = [_matches_exact(md5_bank, q[2].md5) for q in queries]
    dhash_queries = np.array([q[2].dhash or 0 for q in queries], dtype=np.uint64)
    dhash_ok = np.array([q[2].dhash is not None for q in queries])
    dhash_distances = np.bitwise_count(dhash_queries[:, None] ^ dhash_bank[None, :])
    found[f"dHash ≤ {DHASH_THRESHOLD}"] = [
        {keys[i] for i in np.nonzero(row <= DHASH_THRESHOLD)[0]} if ok else set()
        for row, ok in zip(dhash_distances, dhash_ok, strict=True)
    ]
    query_rows = pdq_rows([q[2].pdq for q in queries])
    brute = _distance_matrix(query_rows, pdq_bank)
    disagreements = 0
    lookup_seconds: dict[int, float] = {}
    indexes: dict[int, PdqIndex] = {}
    for threshold in PDQ_THRESHOLDS:
        index = PdqIndex(threshold)
        index.add_many(zip(keys, [record.pdq for record in bank], strict=True))
        started = time.perf_counter()
        results = index.query_rows(query_rows)
        lookup_seconds[threshold] = time.perf_counter() - started
        sets = [{key for key, _ in result} for result in results]
        for distances, keys_found in zip(brute, sets, strict=True):
            if keys_found != {keys[i] for i in np.nonzero(distances <= threshold)[0]}:
                disagreements += 1
        found[f"PDQ ≤ {threshold}"] = sets
        indexes[threshold] = index
    # As tracker.matching.matcher.lookup does: a picture of PDQ quality 50 or more is looked up
    # as it is and mirrored, at the tracker's default threshold.
    default = PDQ_THRESHOLDS[0]
    mirrored = [q[2].pdq_mirror or q[2].pdq for q in queries]
    mirror_results = indexes[default].query_rows(pdq_rows(mirrored))
    found[f"PDQ ≤ {default} + mirror"] = [
        (plain | {key for key, _ in extra}) if q[2].quality >= VPDQ_QUALITY_THRESHOLD else set()
        for plain, extra, q in zip(found[f"PDQ ≤ {default}"], mirror_results, queries, strict=True)
    ]
    methods = list(found)

    position = {key: i for i, key in enumerate(keys)}
    per_transform: dict[str, Any] = {}
    for name, transform in corpus.IMAGE_TRANSFORMS.items():
        chosen = [i for i, q in enumerate(queries) if q[0] == name]
        expected = [queries[i][1] for i in chosen]
        row: dict[str, Any] = {"mild": transform.mild, "description": transform.description}
        for method in methods:
            recall, wrong = _rates([found[method][i] for i in chosen], expected)
            row[method] = {"recall": recall, "wrong": wrong}
        own = np.array([brute[i, position[queries[i][1]]] for i in chosen])
        own_dhash = np.array([dhash_distances[i, position[queries[i][1]]] for i in chosen])
        row["pdq_distance"] = {
            "median": _percentile(own, 50),
            "p90": _percentile(own, 90),
            "max": int(own.max()),
        }
        row["dhash_distance_median"] = _percentile(own_dhash, 50)
        row["bytes_mean"] = statistics.fmean(queries[i][2].size for i in chosen)
        per_transform[name] = row

    unrelated_at = [i for i, q in enumerate(queries) if q[0] == "unrelated"]
    false_match = {
        method: sum(1 for i in unrelated_at if found[method][i]) / max(1, len(unrelated_at))
        for method in methods
    }
    transformed_at = [i for i, q in enumerate(queries) if q[0] not in ("unrelated", "identity")]
    wrong_original = {
        method: sum(1 for i in transformed_at if found[method][i] - {queries[i][1]})
        / max(1, len(transformed_at))
        for method in methods
    }

    aggregates: dict[str, Any] = {}
    mild = [n for n, t in corpus.IMAGE_TRANSFORMS.items() if t.mild and n != "identity"]
    for label, names in (
        ("mild", mild),
        ("mild without border", [n for n in mild if n != "border"]),
    ):
        aggregates[label] = {
            method: {
                "min": min(per_transform[n][method]["recall"] for n in names),
                "pooled": statistics.fmean(per_transform[n][method]["recall"] for n in names),
            }
            for method in methods
        }

    # How far apart different pictures are: unrelated x bank, and bank x bank.
    unrelated_rows = np.array(unrelated_at)
    across = brute[unrelated_rows].ravel() if len(unrelated_rows) else np.zeros(1)
    bank_self = _distance_matrix(pdq_bank, pdq_bank)
    upper = np.triu_indices(len(keys), 1)
    dhash_self = np.bitwise_count(dhash_bank[:, None] ^ dhash_bank[None, :])
    identity_at = [i for i, q in enumerate(queries) if q[0] == "identity"]
    nearest_wrong = []
    for i in transformed_at:
        others = brute[i].astype(np.int32)
        others[position[queries[i][1]]] = 999
        nearest_wrong.append(int(others.min()))
    distances = {
        "pdq unrelated x bank": _distribution(across),
        "pdq bank x bank": _distribution(bank_self[upper]),
        "pdq transformed x other originals (nearest)": _distribution(np.array(nearest_wrong)),
        "dhash unrelated x bank": _distribution(dhash_distances[unrelated_rows].ravel()),
        "dhash bank x bank": _distribution(dhash_self[upper]),
    }
    qualities = np.array([queries[i][2].quality for i in identity_at + unrelated_at])
    return {
        "bank": len(keys),
        "unrelated": len(unrelated_at),
        "queries": len(queries),
        "methods": methods,
        "per_transform": per_transform,
        "false_match_unrelated": false_match,
        "wrong_original_transformed": wrong_original,
        "aggregates": aggregates,
        "distances": distances,
        "pdq_quality": {
            "min": int(qualities.min()),
            "p1": _percentile(qualities, 1),
            "below_50": int((qualities < 50).sum()),
        },
        "index_vs_bruteforce_disagreements": disagreements,
        "index_lookup_seconds": lookup_seconds,
        "original_pixels_mean": statistics.fmean(r.width * r.height for r in bank),
        "original_bytes_mean": statistics.fmean(r.size for r in bank),
    }


# --------------------------------------------------------------------------------------------
# Robustness: videos


def evaluate_videos(
    originals: dict[int, dict[str, VideoRecord]], unrelated: dict[int, VideoRecord]
) -> dict[str, Any]:
    keys = sorted(originals)
    bank = {key: originals[key]["identity"] for key in keys}
    sha_bank = {record.sha256: key for key, record in bank.items()}
    md5_bank = {record.md5: key for key, record in bank.items()}
    queries: list[tuple[str, int, VideoRecord]] = []
    for name in corpus.VIDEO_TRANSFORMS:
        queries += [(name, key, originals[key][name]) for key in keys]
    queries += [("unrelated", -1, record) for _, record in sorted(unrelated.items())]

    found: dict[str, list[set[int]]] = {
        "SHA-256": [_matches_exact(sha_bank, q[2].sha256) for q in queries],
        "MD5": [_matches_exact(md5_bank, q[2].md5) for q in queries],
    }
    for label, threshold, share, every in VPDQ_VARIANTS:
        index = VpdqIndex(threshold, share)
        index.add_many(
            (key, record.dense if every < 1.0 else record.frames) for key, record in bank.items()
        )
        found[label] = [{match.key for match in index.query(q[2].frames)} for q in queries]
    methods = list(found)

    per_transform: dict[str, Any] = {}
    default = VPDQ_VARIANTS[0][0]
    for name, transform in corpus.VIDEO_TRANSFORMS.items():
        chosen = [i for i, q in enumerate(queries) if q[0] == name]
        expected = [queries[i][1] for i in chosen]
        row: dict[str, Any] = {"mild": transform.mild, "description": transform.description}
        for method in methods:
            recall, wrong = _rates([found[method][i] for i in chosen], expected)
            row[method] = {"recall": recall, "wrong": wrong}
        for camera in corpus.CAMERAS:
            subset = [i for i in chosen if corpus.camera_of(queries[i][1]) == camera]
            row[f"{default} recall, {camera} camera"] = _rates(
                [found[default][i] for i in subset], [queries[i][1] for i in subset]
            )[0]
        row["frames_mean"] = statistics.fmean(len(queries[i][2].frames) for i in chosen)
        # Per query frame: the distance to the nearest frame of its own original.
        nearest: list[int] = []
        for i in chosen:
            own = pdq_rows([f.pdq for f in bank[queries[i][1]].frames])
            mine = pdq_rows([f.pdq for f in queries[i][2].frames])
            nearest += _distance_matrix(mine, own).min(axis=1).tolist()
        row["frame_distance"] = {
            "median": _percentile(nearest, 50),
            "p90": _percentile(nearest, 90),
        }
        per_transform[name] = row

    unrelated_at = [i for i, q in enumerate(queries) if q[0] == "unrelated"]
    transformed_at = [i for i, q in enumerate(queries) if q[0] not in ("unrelated", "identity")]
    frame_qualities = [f.quality for record in bank.values() for f in record.frames]
    return {
        "bank": len(keys),
        "unrelated": len(unrelated_at),
        "methods": methods,
        "per_transform": per_transform,
        "false_match_unrelated": {
            m: sum(1 for i in unrelated_at if found[m][i]) / max(1, len(unrelated_at))
            for m in methods
        },
        "wrong_original_transformed": {
            m: sum(1 for i in transformed_at if found[m][i] - {queries[i][1]})
            / max(1, len(transformed_at))
            for m in methods
        },
        "frames_per_original_mean": statistics.fmean(len(r.frames) for r in bank.values()),
        "frame_quality_below_50": sum(1 for q in frame_qualities if q < 50),
        "frames_total": len(frame_qualities),
        "original_seconds_mean": statistics.fmean(r.seconds for r in bank.values()),
        "original_bytes_mean": statistics.fmean(r.size for r in bank.values()),
    }


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
    return corpus.encode_image(Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)))


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
    hd = corpus.encode_video(
        corpus.video_pictures(7, seconds=10, size=(1280, 720), fps=30), 30, options=corpus._H264
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


# --------------------------------------------------------------------------------------------
# Output


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right_from: int = 1) -> str:
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append(
        "|" + "|".join("---" if i < right_from else "---:" for i in range(len(headers))) + "|"
    )
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(rates: dict[str, float]) -> str:
    text = f"{rates['recall']:.3f}"
    return text if not rates["wrong"] else f"{text} (wrong {rates['wrong']:.3f})"


def report(result: dict[str, Any]) -> str:
    out: list[str] = []
    images = result.get("images")
    if images:
        methods = images["methods"]
        out.append(
            f"### Images: recall per transform (bank {images['bank']} originals; "
            f"'wrong' = share matching another original)\n"
        )
        rows = []
        for name, row in images["per_transform"].items():
            pdq = row["pdq_distance"]
            rows.append(
                [f"`{name}`", "yes" if row["mild"] else "no"]
                + [_cell(row[m]) for m in methods]
                + [f"{pdq['median']:.0f} / {pdq['p90']:.0f}", f"{row['dhash_distance_median']:.0f}"]
            )
        for label, aggregate in images["aggregates"].items():
            rows.append(
                [f"**{label}: worst / mean**", ""]
                + [f"{aggregate[m]['min']:.3f} / {aggregate[m]['pooled']:.3f}" for m in methods]
                + ["", ""]
            )
        rows.append(
            [f"**false match, {images['unrelated']} unrelated**", ""]
            + [f"{images['false_match_unrelated'][m]:.4f}" for m in methods]
            + ["", ""]
        )
        rows.append(
            ["**false match, 95 % upper bound**", ""]
            + [
                f"{_upper_bound(images['false_match_unrelated'][m], images['unrelated']):.4f}"
                for m in methods
            ]
            + ["", ""]
        )
        rows.append(
            ["**wrong original, all transformed**", ""]
            + [f"{images['wrong_original_transformed'][m]:.4f}" for m in methods]
            + ["", ""]
        )
        out.append(
            _table(
                ["transform", "mild", *methods, "PDQ dist. median / p90", "dHash dist. median"],
                rows,
                right_from=2,
            )
        )
        out.append(
            "\nTransforms: "
            + "; ".join(f"`{n}` {t.description}" for n, t in corpus.IMAGE_TRANSFORMS.items())
            + ".\n"
        )
        out.append("### Distances between different pictures\n")
        out.append(
            _table(
                ["pairs", "count", "min", "0.1 %", "1 %", "median", "sd"],
                [
                    [
                        k,
                        f"{d['pairs']:,}",
                        f"{d['min']:.0f}",
                        f"{d['p0.1']:.0f}",
                        f"{d['p1']:.0f}",
                        f"{d['median']:.0f}",
                        f"{d['sd']:.1f}",
                    ]
                    for k, d in images["distances"].items()
                ],
            )
        )
        quality = images["pdq_quality"]
        out.append(
            f"\nPDQ quality of originals and unrelated: min {quality['min']}, "
            f"{quality['below_50']} below 50. PdqIndex and a brute-force scan disagreed on "
            f"{images['index_vs_bruteforce_disagreements']} lookups.\n"
        )
    videos = result.get("videos")
    if videos:
        methods = videos["methods"]
        default = VPDQ_VARIANTS[0][0]
        out.append(
            f"### Videos: recall per transform (bank {videos['bank']} originals, "
            f"{videos['original_seconds_mean']:.1f} s each, "
            f"{videos['frames_per_original_mean']:.1f} vPDQ frames)\n"
        )
        rows = []
        for name, row in videos["per_transform"].items():
            rows.append(
                [f"`{name}`", "yes" if row["mild"] else "no"]
                + [_cell(row[m]) for m in methods]
                + [
                    f"{row[f'{default} recall, still camera']:.2f} / "
                    f"{row[f'{default} recall, pan camera']:.2f}",
                    f"{row['frame_distance']['median']:.0f} / {row['frame_distance']['p90']:.0f}",
                ]
            )
        rows.append(
            [f"**false match, {videos['unrelated']} unrelated**", ""]
            + [f"{videos['false_match_unrelated'][m]:.3f}" for m in methods]
            + ["", ""]
        )
        rows.append(
            ["**wrong original, all transformed**", ""]
            + [f"{videos['wrong_original_transformed'][m]:.4f}" for m in methods]
            + ["", ""]
        )
        out.append(
            _table(
                ["transform", "mild", *methods, "default: still / pan", "frame dist. median / p90"],
                rows,
                right_from=2,
            )
        )
        out.append(
            "\nTransforms: "
            + "; ".join(f"`{n}` {t.description}" for n, t in corpus.VIDEO_TRANSFORMS.items())
            + ".\n"
        )
    speed = result.get("speed")
    if speed:
        out.append("### Hashing speed (`hash_media`, one process)\n")
        out.append(
            _table(
                ["images", "count", "MP", "KiB", "ms each", "images/s", "dHash alone /s"],
                [
                    [
                        s["set"],
                        s["count"],
                        f"{s['megapixels_mean']:.2f}",
                        f"{s['kib_mean']:.0f}",
                        f"{s['hash_media_ms']:.1f}",
                        f"{s['hash_media_per_s']:.0f}",
                        f"{s['dhash_per_s']:.0f}",
                    ]
                    for s in speed["images"]
                ],
            )
        )
        out.append("")
        out.append(
            _table(
                ["videos", "count", "video s", "wall s", "video s per wall s"],
                [
                    [
                        s["set"],
                        s["count"],
                        f"{s['video_seconds']:.0f}",
                        f"{s['wall_seconds']:.2f}",
                        f"{s['video_seconds_per_s']:.0f}",
                    ]
                    for s in speed["videos"]
                ],
            )
        )
        out.append("")
    lookups = result.get("lookup")
    if lookups:
        out.append("### PDQ lookup (`PdqIndex`, threshold 31) against a numpy scan, same run\n")
        out.append(
            _table(
                [
                    "bank",
                    "build s",
                    "index median / p99 ms",
                    "scan median / p99 ms",
                    "scan ÷ index (median)",
                    "planted found",
                    "same answers",
                ],
                [
                    [
                        f"{r['bank']:,}",
                        f"{r['build_s']:.2f}",
                        f"{r['index_median_ms']:.3f} / {r['index_p99_ms']:.3f}",
                        f"{r['brute_median_ms']:.3f} / {r['brute_p99_ms']:.3f}",
                        f"{r['speedup_median']:.1f}",
                        f"{r['planted_found']:.3f}",
                        f"{r['agrees_with_brute']:.3f}",
                    ]
                    for r in lookups
                ],
            )
        )
        memory = result.get("index_memory")
        if memory:
            out.append(
                f"\nMemory held by a PdqIndex of {memory['bank']:,} hashes (tracemalloc): "
                f"{memory['held_mib']:.0f} MiB ({memory['numpy_arrays_mib']:.0f} MiB numpy "
                f"arrays, {memory['python_objects_mib']:.0f} MiB other Python objects); "
                f"peak while building {memory['peak_mib']:.0f} MiB.\n"
            )
    return "\n".join(out)


def _upper_bound(rate: float, count: int) -> float:
    """One-sided 95 % upper bound of a rate seen in ``count`` trials (rule of three at 0,
    Wilson's score interval otherwise)."""
    if count <= 0:
        return 1.0
    if rate == 0:
        return min(1.0, 3.0 / count)
    z = 1.645
    centre = rate + z * z / (2 * count)
    spread = z * math.sqrt(rate * (1 - rate) / count + z * z / (4 * count * count))
    return min(1.0, (centre + spread) / (1 + z * z / count))


def _commit() -> str:
    """The checkout's commit, read from .git (uncommitted changes are not shown)."""
    root = Path(__file__).resolve().parent.parent / ".git"
    try:
        head = (root / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            head = (root / head[5:]).read_text().strip()
    except OSError:
        return "unknown"
    return head[:12]


def _machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import av
    import pdqhash

    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "commit": _commit(),
        # The matching modules as this run imported them (they may differ from the commit).
        "sources_md5": {
            name: hashlib.md5(
                (Path(__file__).resolve().parent.parent / name).read_bytes(),
                usedforsecurity=False,
            ).hexdigest()
            for name in ("tracker/matching/hashing.py", "tracker/matching/index.py")
        },
        "numpy": np.__version__,
        "pillow": Image.__version__,
        "pdqhash": getattr(pdqhash, "__version__", "?"),
        "pyav": av.__version__,
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument(
        "--unrelated", type=int, default=None, help="default: 3000 (6 x --images if fewer)"
    )
    parser.add_argument("--videos", type=int, default=50)
    parser.add_argument("--unrelated-videos", type=int, default=None, help="default: --videos")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--lookup-sizes", default="10000,1000000")
    parser.add_argument("--lookup-queries", type=int, default=1000)
    parser.add_argument("--brute-queries", type=int, default=200)
    parser.add_argument("--no-memory", action="store_true", help="skip the index memory pass")
    parser.add_argument("--output", type=Path, default=RESULTS / "matching.json")
    options = parser.parse_args()
    # 3,000 unrelated pictures: none matching bounds the false-match rate at 0.001 (95 %).
    default_unrelated = 3000 if options.images >= 500 else 6 * options.images
    unrelated_count = default_unrelated if options.unrelated is None else options.unrelated
    unrelated_videos = (
        options.videos if options.unrelated_videos is None else options.unrelated_videos
    )
    started = time.perf_counter()
    phases: dict[str, float] = {}
    result: dict[str, Any] = {"machine": _machine(), "options": vars(options)}

    mark = time.perf_counter()
    tasks = [("original", i, options.seed) for i in range(options.images)]
    tasks += [("unrelated", i, options.seed) for i in range(unrelated_count)]
    image_originals: dict[int, dict[str, ImageRecord]] = {}
    image_unrelated: dict[int, ImageRecord] = {}
    image_bytes: list[bytes] = []
    for family, index, records, data in _run_pool(_image_item, tasks, options.jobs):
        if family == "original":
            image_originals[index] = records
            image_bytes.append(data)
        else:
            image_unrelated[index] = records["identity"]
    phases["image corpus (generate, transform, hash)"] = time.perf_counter() - mark
    print(
        f"images: {len(tasks)} items in {phases['image corpus (generate, transform, hash)']:.0f} s",
        flush=True,
    )
    if image_originals:
        result["images"] = evaluate_images(image_originals, image_unrelated)

    mark = time.perf_counter()
    tasks = [("original", i, options.seed) for i in range(options.videos)]
    tasks += [("unrelated", i, options.seed) for i in range(unrelated_videos)]
    video_originals: dict[int, dict[str, VideoRecord]] = {}
    video_unrelated: dict[int, VideoRecord] = {}
    video_bytes: list[bytes] = []
    for family, index, records, data in _run_pool(_video_item, tasks, options.jobs):
        if family == "original":
            video_originals[index] = records
            video_bytes.append(data)
        else:
            video_unrelated[index] = records["identity"]
    phases["video corpus (generate, transform, hash)"] = time.perf_counter() - mark
    print(
        f"videos: {len(tasks)} items in {phases['video corpus (generate, transform, hash)']:.0f} s",
        flush=True,
    )
    if video_originals:
        result["videos"] = evaluate_videos(video_originals, video_unrelated)

    mark = time.perf_counter()
    if image_bytes and video_bytes:
        result["speed"] = hashing_speed(image_bytes, video_bytes)
    phases["hashing speed"] = time.perf_counter() - mark
    del image_bytes, video_bytes

    mark = time.perf_counter()
    sizes = [int(size) for size in options.lookup_sizes.split(",") if size.strip()]
    result["lookup"] = [
        lookup(size, options.lookup_queries, options.brute_queries, options.seed) for size in sizes
    ]
    phases["lookup"] = time.perf_counter() - mark
    if sizes and not options.no_memory:
        mark = time.perf_counter()
        result["index_memory"] = index_memory(max(sizes), options.seed)
        phases["index memory"] = time.perf_counter() - mark
    phases["total"] = time.perf_counter() - started
    result["load_average_at_end"] = os.getloadavg()
    result["phases_s"] = phases

    path = options.output
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=_json_default))
    print(report(result))
    print(
        "\nMachine: {nproc} cores, {cpu}, Python {python}.".format(**result["machine"])
        + " Phases (s): "
        + ", ".join(f"{k} {v:.0f}" for k, v in phases.items())
        + f". JSON in {path}"
    )


def _json_default(value: object) -> object:
    if isinstance(value, Frame):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)  # type: ignore[call-overload]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value).__name__)


if __name__ == "__main__":
    main()
