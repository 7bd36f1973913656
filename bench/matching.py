"""Content matching (issue 10): recall and false matches under re-upload transforms, hashing
speed, and lookup time as a bank grows.

    .venv/bin/python -m bench.matching                 # full size, 6-9 min on 2 cores
    .venv/bin/python -m bench.matching --images 50 --videos 6 --lookup-sizes 10000   # smoke
    options: --images 500 --unrelated 3000 --videos 50 --unrelated-videos 50 --seed 0
             --jobs 2 --lookup-sizes 10000,1000000 --lookup-queries 1000 --brute-queries 200

1. Robustness: the corpus of ``bench.media_corpus`` and ``bench.video_corpus`` (generated,
   deterministic). The bank holds the originals; every transformed original is looked up in it
   (recall: the right original is among the matches; wrong: some other original is), and so is
   every unrelated item (false match: any bank entry matches). SHA-256, MD5, dHash
   (``workers.recheck.fingerprint``, distance <= 10 of 64 bits), PDQ through ``PdqIndex`` at 31
   (the tracker's default), 47 and 63 bits, checked against a brute-force scan of the same bank;
   for videos vPDQ through ``VpdqIndex`` (31 bits, 80 % of frames, the defaults) and variants.
2. Speed: ``hash_media`` on the corpus's JPEGs and videos, one process, nothing else running.
3. Lookup: ``PdqIndex`` over banks of random PDQ hashes with planted near-duplicates, against a
   brute-force numpy scan of the same bank in the same run; build time and memory.

Writes ``bench/results/matching.json`` and prints Markdown tables. The parts:
``bench.matching_records`` (the corpus hashed, in worker processes), ``bench.matching_recall``
(1), ``bench.matching_speed`` (2, 3), ``bench.matching_report`` (the tables).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.matching_recall import evaluate_images, evaluate_videos
from bench.matching_records import ImageRecord, VideoRecord, _image_item, _run_pool, _video_item
from bench.matching_report import report
from bench.matching_speed import hashing_speed, index_memory, lookup
from tracker.matching.signals import Frame

RESULTS = Path(__file__).parent / "results"


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
