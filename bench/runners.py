"""One benchmark run in a fresh process: our engine or a bare aiohttp loop over a URL list.

Prints one JSON object: wall seconds and CPU seconds of the checking phase (imports and setup
excluded), and the verdict per URL in input order ("live", "removed" or another verdict).
Peak RSS is taken by the parent from this process's resource usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp

from workers.recheck.engine import build_client, check_batch
from workers.recheck.politeness import PolitenessConfig


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def _timed(coroutine: Coroutine[Any, Any, list[str]], loop: str) -> tuple[float, float, list[str]]:
    with asyncio.Runner(loop_factory=_loop_factory(loop)) as runner:
        wall, cpu = time.perf_counter(), time.process_time()
        verdicts = runner.run(coroutine)
        return time.perf_counter() - wall, time.process_time() - cpu, verdicts


async def run_ours(urls: list[str], concurrency: int, per_host: int, interval: float) -> list[str]:
    """Check through the engine with per-host limits in force; verdicts in input order."""
    politeness = PolitenessConfig(concurrency=per_host, min_interval=interval)
    client = build_client(
        allowlist=["127.0.0.0/8"],
        timeout=10.0,
        max_redirects=5,
        max_connections=concurrency,
        politeness=politeness,
    )
    async with client:
        outcomes = await check_batch(
            [(index, url, None) for index, url in enumerate(urls)],
            client=client,
            body_limit=65536,
            per_host_concurrency=per_host,
            max_concurrency=concurrency,
        )
    return [str(outcome.verdict) for outcome in outcomes]


async def run_aiohttp(urls: list[str], concurrency: int) -> list[str]:
    """The bare aiohttp loop of BENCH-PEERS.md: one session, GET and read; status-only verdict."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    semaphore = asyncio.Semaphore(concurrency)
    verdicts = [""] * len(urls)

    async def one(index: int, url: str, session: aiohttp.ClientSession) -> None:
        async with semaphore:
            try:
                async with session.get(url) as response:
                    await response.read()
                    removed = response.status in (404, 410, 451)
                    verdicts[index] = "removed" if removed else "live"
            except Exception:  # noqa: BLE001 - a peer's failure is its verdict
                verdicts[index] = "error"

    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(index, url, session) for index, url in enumerate(urls)))
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tool", choices=["ours", "aiohttp"])
    parser.add_argument("urls", type=Path)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--per-host", type=int, default=32)
    parser.add_argument("--interval", type=float, default=0.0)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    arguments = parser.parse_args()
    urls = arguments.urls.read_text().split()
    if arguments.tool == "ours":
        coroutine = run_ours(urls, arguments.concurrency, arguments.per_host, arguments.interval)
    else:
        coroutine = run_aiohttp(urls, arguments.concurrency)
    wall, cpu, verdicts = _timed(coroutine, arguments.loop)
    json.dump({"wall": wall, "cpu": cpu, "verdicts": verdicts}, sys.stdout)


if __name__ == "__main__":
    main()
