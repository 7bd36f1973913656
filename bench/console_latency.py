"""Console page latency of a running `tracker serve` (embedded, SQLite), beside the API reads
that carry the same data: sequential keep-alive requests per page, p50 and p99, and each page's
ratio to its API counterpart measured in the same run.

    .venv/bin/python -m bench.console_latency      options: --cases 20 --reports-per-case 25

The server runs on loopback with its sweeps an hour apart, so nothing is re-checked and nothing
leaves the machine: the reports' URLs (Facebook video URLs, so that each gets a web-form packet,
the page caseworkers open most) are only canonicalised and routed, never fetched.
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
NEW_PASSWORD = "a benchmark pass phrase"  # noqa: S105 - a throwaway bench server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    environment.update(
        {"TRACKER_DATA_DIR": str(data_dir), "TRACKER_SWEEP_INTERVAL_SECONDS": "3600"}
    )
    log = data_dir / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            [sys.executable, "-m", "tracker.cli", "serve", "--port", str(port)],
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        key = re.search(r"(tk_[A-Za-z0-9_-]{20,})", text)
        password = re.search(r"one-time password \(shown once; .*\): (\S+)", text)
        if key and password:
            return process, key.group(1), password.group(1)
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the tracker did not print its first admin sign-in within 60 s")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token"
    return found.group(1)


def _sign_in(client: httpx.Client, one_time: str) -> None:
    """The first admin's first sign-in, and their own password."""
    page = client.get("/sign-in")
    answer = client.post(
        "/sign-in",
        data={"login": "admin", "password": one_time, "csrf_token": _csrf(page.text)},
    )
    assert answer.status_code == 303, answer.status_code
    page = client.get("/account/password")
    answer = client.post(
        "/account/password",
        data={"current": one_time, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD,
              "csrf_token": _csrf(page.text)},
    )
    assert answer.status_code == 303, answer.status_code


def _seed(api: httpx.Client, cases: int, reports_per_case: int) -> tuple[int, int, int]:
    """Cases of Facebook URLs (web-form packets); one case, report and filing id to read."""
    case_id = report_id = 0
    for number in range(cases):
        case = api.post(
            "/api/v1/cases",
            json={"label": f"Case BENCH-{number:04d}", "jurisdictions": ["US"],
                  "authority_to_act": True},
        )
        case.raise_for_status()
        case_id = case.json()["id"]
        urls = [
            f"https://www.facebook.com/watch/?v={number * 1000 + index}"
            for index in range(reports_per_case)
        ]
        added = api.post(f"/api/v1/cases/{case_id}/reports", json={"urls": urls})
        added.raise_for_status()
        report_id = added.json()["results"][0]["report_id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        filings = api.get("/api/v1/filings?limit=1").json()["items"]
        if filings:
            return case_id, report_id, int(filings[0]["id"])
        time.sleep(0.2)
    raise SystemExit("no web-form packet was prepared within 30 s")


def _time(client: httpx.Client, path: str, requests: int) -> dict[str, float]:
    for _ in range(20):  # warm-up
        client.get(path)
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }


def measure(cases: int, reports_per_case: int, requests: int) -> dict[str, object]:
    """Start a tracker, seed it, and time each console page beside its API counterpart."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as data_dir:
        process, key, one_time = _start(Path(data_dir), port)
        try:
            with (
                httpx.Client(base_url=base, timeout=30) as console,
                httpx.Client(
                    base_url=base, timeout=30, headers={"Authorization": f"Bearer {key}"}
                ) as api,
            ):
                deadline = time.monotonic() + 30
                while api.get("/healthz").status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.1)
                case_id, report_id, filing_id = _seed(api, cases, reports_per_case)
                _sign_in(console, one_time)
                pairs = {
                    "queue": ("/", "/api/v1/filings?limit=50"),
                    "case list": ("/cases", "/api/v1/cases?limit=50"),
                    "case page": (f"/cases/{case_id}", f"/api/v1/reports?case_id={case_id}"),
                    "case table (polled)": (
                        f"/cases/{case_id}/reports",
                        f"/api/v1/reports?case_id={case_id}",
                    ),
                    "report page": (f"/reports/{report_id}", f"/api/v1/reports/{report_id}"),
                    "packet page": (f"/filings/{filing_id}/packet", "/api/v1/filings?limit=1"),
                }
                timings: dict[str, object] = {}
                for name, (page, api_path) in pairs.items():
                    page_time = _time(console, page, requests)
                    api_time = _time(api, api_path, requests)
                    timings[name] = {
                        "page": page,
                        "page_ms": page_time,
                        "api": api_path,
                        "api_ms": api_time,
                        "p50_ratio": round(page_time["p50_ms"] / api_time["p50_ms"], 2),
                    }
                return timings
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    """Run the measurement and write it under bench/results/."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--reports-per-case", type=int, default=25)
    parser.add_argument("--requests", type=int, default=300)
    arguments = parser.parse_args()
    result = measure(arguments.cases, arguments.reports_per_case, arguments.requests)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "console-latency.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
