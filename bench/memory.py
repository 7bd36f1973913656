"""Benchmark 3: worker RSS after 100,000 checks against RSS after 10,000, in one process.

The fleet is checked again and again in batches, each through a fresh client (as the worker
builds one per batch); outcomes are dropped after counting, as the worker does once it has
recorded them. The target: RSS after 100,000 checks within 10 % of RSS after 10,000.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import time
from pathlib import Path

from bench.fleet import running_fleet
from workers.recheck.engine import build_client, check_batch
from workers.recheck.politeness import PolitenessConfig

RESULTS = Path(__file__).parent / "results"


def current_rss_mib() -> float:
    """This process's resident set size now, in MiB."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


async def check_many(urls: list[str], total: int, batch: int, marks: set[int]) -> dict[int, float]:
    """Check ``total`` URLs (cycling through ``urls``) in batches; RSS at each mark."""
    politeness = PolitenessConfig(concurrency=32)
    rss: dict[int, float] = {}
    done = 0
    while done < total:
        items = [(done + i, urls[(done + i) % len(urls)], None) for i in range(batch)]
        client = build_client(
            allowlist=["127.0.0.0/8"],
            timeout=10.0,
            max_redirects=5,
            max_connections=128,
            politeness=politeness,
        )
        async with client:
            outcomes = await check_batch(
                items,
                client=client,
                body_limit=65536,
                per_host_concurrency=32,
                max_concurrency=128,
            )
        if any(outcome.error for outcome in outcomes):
            raise RuntimeError(f"unexpected failures: {[o.error for o in outcomes if o.error][:3]}")
        del outcomes, items, client
        done += batch
        if done in marks:
            gc.collect()
            rss[done] = current_rss_mib()
            print(f"{done:>7,} checks: RSS {rss[done]:.1f} MiB", flush=True)
    return rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleet", type=int, default=10_000)
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    options = parser.parse_args()
    marks = {10_000, 25_000, 50_000, 75_000, options.total}
    with running_fleet(options.fleet) as targets:
        # Slow pages would only stretch the run; memory does not depend on them.
        urls = [target.url for target in targets if target.kind != "slow"]
        started = time.perf_counter()
        rss = asyncio.run(check_many(urls, options.total, options.batch, marks))
        wall = time.perf_counter() - started
    first, last = rss[10_000], rss[options.total]
    growth = (last - first) / first
    summary = {
        "benchmark": "memory",
        "checks": options.total,
        "batch": options.batch,
        "rss_mib": rss,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "growth_10k_to_total": growth,
        "wall_s": wall,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"memory-{int(time.time())}.json"
    path.write_text(json.dumps(summary, indent=2))
    verdict = "within" if abs(growth) <= 0.10 else "NOT within"
    print(
        f"RSS {first:.1f} MiB after 10,000 checks, {last:.1f} MiB after {options.total:,}: "
        f"{100 * growth:+.1f} % ({verdict} 10 %); peak {summary['peak_rss_mib']:.1f} MiB; "
        f"JSON in {path}"
    )


if __name__ == "__main__":
    main()
