"""Read-API latency of a running `tracker serve` (embedded, SQLite): sequential keep-alive
requests per endpoint, p50 and p99, for this checkout or another (to compare two commits in
one run on one machine).

    .venv/bin/python -m bench.api_latency                       # this checkout
    .venv/bin/python -m bench.api_latency --checkout /tmp/old   # a worktree of another commit
    options: --cases 20 --reports-per-case 25 --requests 300

Each checkout runs with its own code, from its own folder, on a fresh data folder, on loopback.
The server makes no outbound request: the reports point at documentation hosts and the
scheduler's first re-check is an hour away.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

RESULTS = Path(__file__).parent / "results"
ENDPOINTS = [
    "/api/v1/cases?limit=50",
    "/api/v1/reports?limit=50",
    "/api/v1/reports?limit=50&state=logged",
    "/api/v1/summary",
    "/api/v1/me",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(checkout: Path, data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    environment = {
        **os.environ,
        "TRACKER_DATA_DIR": str(data_dir),
        "TRACKER_CHECK_INTERVAL_ACTIVE_SECONDS": "3600",
        "PYTHONPATH": str(checkout),
    }
    # Its output goes to a file: a pipe nobody drains would stall a server that logs requests.
    log = data_dir / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            [sys.executable, "-m", "tracker.cli", "serve", "--port", str(port)],
            cwd=checkout,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"(tk_[A-Za-z0-9_-]{20,})", log.read_text(errors="replace"))
        if found:
            return process, found.group(1)
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the tracker did not print its first admin key within 60 s")


def _wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the tracker did not answer /healthz within 30 s")


def _seed(client: httpx.Client, cases: int, reports_per_case: int) -> None:
    for number in range(cases):
        case = client.post(
            "/api/v1/cases",
            json={"label": f"Case BENCH-{number:04d}", "jurisdictions": ["US"]},
        )
        case.raise_for_status()
        urls = [
            f"https://bench-{number}.example/v/{index}" for index in range(reports_per_case)
        ]
        client.post(f"/api/v1/cases/{case.json()['id']}/reports", json={"urls": urls})


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }


def measure(checkout: Path, cases: int, reports_per_case: int, requests: int) -> dict[str, object]:
    """Start the checkout's tracker, seed it, time each endpoint; the server is stopped after."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as data_dir:
        process, key = _start(checkout, Path(data_dir), port)
        try:
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
            ) as client:
                _wait_ready(client)
                _seed(client, cases, reports_per_case)
                timings: dict[str, object] = {}
                for path in ENDPOINTS:
                    for _ in range(20):  # warm-up
                        client.get(path)
                    samples = []
                    for _ in range(requests):
                        started = time.perf_counter()
                        response = client.get(path)
                        samples.append(time.perf_counter() - started)
                        assert response.status_code == 200, (path, response.status_code)
                    timings[path] = _percentiles(samples)
                return timings
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=Path(__file__).parent.parent)
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--reports-per-case", type=int, default=25)
    parser.add_argument("--requests", type=int, default=300)
    arguments = parser.parse_args()
    checkout = arguments.checkout.resolve()
    result = measure(checkout, arguments.cases, arguments.reports_per_case, arguments.requests)
    RESULTS.mkdir(exist_ok=True)
    commit = subprocess.run(  # noqa: S603 - git of the measured checkout
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    record = {"checkout": str(checkout), "commit": commit, "timings": result}
    (RESULTS / f"api-latency-{commit or 'unknown'}.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
