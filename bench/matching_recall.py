"""Robustness for the matching benchmark (``python -m bench.matching``): recall, wrong
originals and false matches per transform, pictures and videos, for each hashing method.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from bench import media_corpus, video_corpus
from bench.matching_records import ImageRecord, VideoRecord, _percentile
from tracker.matching.index import PdqIndex, VpdqIndex, pdq_rows
from tracker.matching.signals import VPDQ_QUALITY_THRESHOLD

DHASH_THRESHOLD = 10
PDQ_THRESHOLDS = (31, 47, 63)
#: (label, PDQ threshold, share of frames, bank sampled every this many seconds)
VPDQ_VARIANTS: tuple[tuple[str, int, float, float], ...] = (
    ("vPDQ 31 / 80 % (default)", 31, 0.8, 1.0),
    ("vPDQ 47 / 80 %", 47, 0.8, 1.0),
    ("vPDQ 31 / 50 %", 31, 0.5, 1.0),
    ("vPDQ 31 / 80 %, bank at 5 fps", 31, 0.8, 0.2),
)


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
    for name in media_corpus.IMAGE_TRANSFORMS:
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
    for name, transform in media_corpus.IMAGE_TRANSFORMS.items():
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
    mild = [n for n, t in media_corpus.IMAGE_TRANSFORMS.items() if t.mild and n != "identity"]
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
    for name in video_corpus.VIDEO_TRANSFORMS:
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
    for name, transform in video_corpus.VIDEO_TRANSFORMS.items():
        chosen = [i for i, q in enumerate(queries) if q[0] == name]
        expected = [queries[i][1] for i in chosen]
        row: dict[str, Any] = {"mild": transform.mild, "description": transform.description}
        for method in methods:
            recall, wrong = _rates([found[method][i] for i in chosen], expected)
            row[method] = {"recall": recall, "wrong": wrong}
        for camera in video_corpus.CAMERAS:
            subset = [i for i in chosen if video_corpus.camera_of(queries[i][1]) == camera]
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
