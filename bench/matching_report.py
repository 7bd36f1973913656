"""The matching benchmark's results (``python -m bench.matching``) as Markdown tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from bench import media_corpus, video_corpus
from bench.matching_recall import VPDQ_VARIANTS

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
            + "; ".join(f"`{n}` {t.description}" for n, t in media_corpus.IMAGE_TRANSFORMS.items())
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
            + "; ".join(f"`{n}` {t.description}" for n, t in video_corpus.VIDEO_TRANSFORMS.items())
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
