"""The CPU cost of the shared per-host gate: memory (embedded) against Redis (distributed).

Two measurements, each run in a fresh process, variants interleaved, medians of ``--repeat``:

1. **The gate alone**: ``--hops`` request hops (acquire, then finish with a success) spread over
   4 hosts by ``c`` concurrent tasks (c = 1, 32, 128), limits 32 per host, spacing 0. Per hop:
   the worker's CPU (the process's own, from ``time.process_time``), Redis's CPU (``INFO cpu``
   of a private ``redis-server``), EVALSHA calls and pipelines (round trips) sent to Redis.
2. **The engine**: ``build_client`` + ``check_batch`` over ``--size`` URLs (4 loopback hosts of
   a private nginx on a free port, a small 200 page each), concurrency 128, 32 per host, once
   with each gate. Per check: worker CPU, Redis CPU, and checks/s.

Usage::

    .venv/bin/python -m bench.politeness_cost               # ~2 min
    # options: --hops 20000 --size 20000 --repeat 3

Results go to ``bench/results/politeness-cost-<time>.json`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.fleet import find_nginx
from bench.services import free_port, private_redis

RESULTS = Path(__file__).parent / "results"
HOSTS = tuple(f"127.0.0.{index}" for index in range(1, 5))
PER_HOST = 32
PAGE = "<html><head><title>A post</title></head><body><p>Still here.</p></body></html>"


# --- the child: one measurement in a fresh process ---------------------------------------------


def _gate(kind: str, redis_url: str) -> Any:
    from workers.recheck.politeness import Politeness, PolitenessConfig
    from workers.recheck.politeness_redis import RedisPoliteness

    config = PolitenessConfig(concurrency=PER_HOST, min_interval=0.0)
    if kind == "memory":
        return Politeness(config)
    return RedisPoliteness(config, url=redis_url, namespace=f"bench:{os.getpid()}:host")


def _count_pipelines() -> list[int]:
    """Count the pipelines (round trips) the Redis gate sends, by wrapping its executor."""
    from workers.recheck import redis_pipeline

    counter = [0]
    original = redis_pipeline.ScriptPipeline._execute

    async def counted(self: Any, batch: Any) -> Any:
        counter[0] += 1
        return await original(self, batch)

    redis_pipeline.ScriptPipeline._execute = counted  # type: ignore[method-assign]
    return counter


async def _gate_hops(gate: Any, hops: int, concurrency: int) -> None:
    from workers.recheck.politeness import Outcome

    async def task(number: int) -> None:
        host = HOSTS[number % len(HOSTS)]
        for _ in range(hops // concurrency):
            lease = await gate.acquire(host)
            gate.finish(host, lease, Outcome.SUCCESS)

    await asyncio.gather(*(task(number) for number in range(concurrency)))
    await gate.drain()


async def _engine(gate: Any, urls: list[str]) -> int:
    from workers.recheck.engine import build_client, check_batch

    client = build_client(
        allowlist=["127.0.0.0/8"],
        timeout=10.0,
        max_redirects=5,
        max_connections=128,
        politeness=gate,
    )
    async with client:
        outcomes = await check_batch(
            [(index, url, None) for index, url in enumerate(urls)],
            client=client,
            body_limit=65536,
            per_host_concurrency=PER_HOST,
            max_concurrency=128,
        )
    return sum(1 for outcome in outcomes if str(outcome.verdict) == "live")


def child(arguments: argparse.Namespace) -> None:
    """Run one measurement and print it as JSON."""
    from workers.recheck.engine import new_event_loop

    gate = _gate(arguments.gate, arguments.redis)
    pipelines = _count_pipelines()
    urls = [
        f"http://{HOSTS[index % len(HOSTS)]}:{arguments.port}/p/{index}"
        for index in range(arguments.size)
    ]
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        # A warm-up (connections made), then the measured part, Redis's counters around it.
        if arguments.mode == "gate":
            runner.run(_gate_hops(gate, 256, arguments.concurrency))
        else:
            runner.run(_engine(gate, urls[:256]))
        pipelines[0] = 0
        redis_cpu, evalsha = _redis_info(arguments.redis)
        wall, cpu = time.perf_counter(), time.process_time()
        if arguments.mode == "gate":
            runner.run(_gate_hops(gate, arguments.hops, arguments.concurrency))
            live = 0
        else:
            live = runner.run(_engine(gate, urls))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        redis_after, evalsha_after = _redis_info(arguments.redis)
        runner.run(gate.aclose())
    result = {"wall": wall, "cpu": cpu, "pipelines": pipelines[0], "live": live}
    result.update(redis_cpu=redis_after - redis_cpu, evalsha=evalsha_after - evalsha)
    json.dump(result, sys.stdout)


# --- the parent: servers, interleaved runs, the table ------------------------------------------


def _redis_info(url: str) -> tuple[float, int]:
    """Redis's CPU seconds so far and its EVALSHA calls so far."""
    import redis

    client = redis.Redis.from_url(url)
    cpu = client.info("cpu")
    stats = client.info("commandstats")
    client.close()
    calls = stats.get("cmdstat_evalsha", {}).get("calls", 0)
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]), int(calls)


@contextlib.contextmanager
def _nginx() -> Iterator[int]:
    """nginx on a free port of the four loopback hosts, answering every path with a small page."""
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="politeness-cost-"))
    servers = "\n".join(
        f'    server {{ listen {host}:{port} backlog=4096; location / {{ return 200 "{PAGE}"; }} }}'
        for host in HOSTS
    )
    (root / "tmp").mkdir()
    (root / "nginx.conf").write_text(
        f"""worker_processes 1;
daemon off;
pid {root / "nginx.pid"};
error_log {root / "error.log"} warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    default_type text/html;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    client_body_temp_path {root / "tmp"};
    proxy_temp_path {root / "tmp"};
    fastcgi_temp_path {root / "tmp"};
    uwsgi_temp_path {root / "tmp"};
    scgi_temp_path {root / "tmp"};
{servers}
}}
"""
    )
    timeout = shutil.which("timeout") or "/usr/bin/timeout"
    command = [timeout, "900", find_nginx(), "-p", str(root), "-c", str(root / "nginx.conf")]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)  # noqa: S603
    try:
        import socket

        deadline = time.monotonic() + 15
        for host in HOSTS:
            while True:
                with socket.socket() as probe:
                    if probe.connect_ex((host, port)) == 0:
                        break
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"nginx is not listening on {host}:{port}")
                time.sleep(0.05)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _run_child(redis_url: str, *options: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.politeness_cost", "--child", "--redis", redis_url]
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [*command, *options], capture_output=True, text=True, check=False, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def parent(arguments: argparse.Namespace) -> None:
    """Run every variant ``repeat`` times, interleaved; print and save the medians."""
    rows: list[dict[str, Any]] = []
    with private_redis() as redis_url, _nginx() as port:
        for concurrency in (1, 32, 128):
            runs: dict[str, list[dict[str, Any]]] = {"memory": [], "redis": []}
            for _ in range(arguments.repeat):
                for gate in runs:
                    runs[gate].append(
                        _run_child(
                            redis_url,
                            *("--mode", "gate", "--gate", gate, "--hops", str(arguments.hops)),
                            *("--concurrency", str(concurrency)),
                        )
                    )
            for gate, results in runs.items():
                rows.append(_row(f"gate alone, c={concurrency}", gate, results, arguments.hops))
        engine: dict[str, list[dict[str, Any]]] = {"memory": [], "redis": []}
        for _ in range(arguments.repeat):
            for gate in engine:
                engine[gate].append(
                    _run_child(
                        redis_url,
                        *("--mode", "engine", "--gate", gate, "--size", str(arguments.size)),
                        *("--port", str(port)),
                    )
                )
        for gate, results in engine.items():
            assert all(result["live"] == arguments.size for result in results), results
            rows.append(_row("engine, 4 hosts, c=128", gate, results, arguments.size))
    _report(rows, arguments)


def _row(what: str, gate: str, results: list[dict[str, Any]], count: int) -> dict[str, Any]:
    return {
        "what": what,
        "gate": gate,
        "per_s": round(count / _median(results, "wall")),
        "worker_cpu_us": round(1e6 * _median(results, "cpu") / count, 1),
        "redis_cpu_us": round(1e6 * _median(results, "redis_cpu") / count, 1),
        "evalsha_per": round(_median(results, "evalsha") / count, 2),
        "round_trips_per": round(_median(results, "pipelines") / count, 3),
        "runs": results,
    }


def _report(rows: list[dict[str, Any]], arguments: argparse.Namespace) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"politeness-cost-{int(time.time())}.json"
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    path.write_text(json.dumps({"machine": machine, "arguments": vars(arguments), "rows": rows}))
    print(f"results: {path}\n")
    print("| measured | gate | hops or checks/s | worker CPU µs each | Redis CPU µs each |", end="")
    print(" EVALSHA each | round trips each |")
    print("|---|---|---:|---:|---:|---:|---:|")
    base: dict[str, float] = {}
    for row in rows:
        if row["gate"] == "memory":
            base[row["what"]] = row["worker_cpu_us"]
        print(
            f"| {row['what']} | {row['gate']} | {row['per_s']:,} | {row['worker_cpu_us']} | "
            f"{row['redis_cpu_us']} | {row['evalsha_per']} | {row['round_trips_per']} |"
        )
    print()
    for row in rows:
        if row["gate"] == "redis":
            extra = row["worker_cpu_us"] - base[row["what"]]
            print(f"- {row['what']}: Redis gate costs {extra:+.1f} µs of worker CPU each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["gate", "engine"], default="gate")
    parser.add_argument("--gate", choices=["memory", "redis"], default="memory")
    parser.add_argument("--redis", default="")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--hops", type=int, default=20000)
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments)
    else:
        parent(arguments)


if __name__ == "__main__":
    main()
