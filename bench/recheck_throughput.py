"""Benchmark 1: re-check throughput on a generated loopback fleet, ours against peers, one run.

Each tool checks the same URLs at the same concurrency in a fresh process; runs are interleaved
(tool A, B, C, A, B, C, ...) so drift on a shared machine hits every tool alike, and the median
of the repeats is reported. Per run: checks/s (wall time of the checking phase for the Python
runners, of the whole process for lychee and LinkChecker), CPU seconds and CPU ms per check of
that process, its peak RSS, and accuracy against the fleet's ground truth (live vs removed).

Usage: see bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.fleet import Target, running_fleet, write_ground_truth

RESULTS = Path(__file__).parent / "results"


@dataclass
class Run:
    tool: str
    wall: float
    cpu: float
    peak_rss_mib: float
    correct: int
    total: int
    wrong_by_kind: dict[str, int]


def _measure(command: list[str], *, stdout_path: Path | None = None) -> tuple[float, float, float]:
    """Run a command; return its wall seconds, CPU seconds and peak RSS (MiB) from wait4."""
    started = time.perf_counter()
    with open(stdout_path or os.devnull, "wb") as out:
        process = subprocess.Popen(  # noqa: S603 - fixed argument lists built here
            command, stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode not in (0, 1, 2):  # lychee and LinkChecker exit 1/2 on broken links
        raise RuntimeError(f"{command[0]} exited with {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _score(tool: str, verdicts: list[str], targets: list[Target]) -> tuple[int, dict[str, int]]:
    wrong: dict[str, int] = {}
    correct = 0
    for verdict, target in zip(verdicts, targets, strict=True):
        if verdict == target.expected:
            correct += 1
        else:
            wrong[target.kind] = wrong.get(target.kind, 0) + 1
    return correct, wrong


def run_python(
    tool: str, urls_path: Path, targets: list[Target], options: argparse.Namespace, loop: str
) -> Run:
    """Our engine or the bare aiohttp loop, through bench/runners.py in a fresh process."""
    out = Path(tempfile.mktemp(suffix=".json"))  # noqa: S306 - private scratch file
    command = [
        sys.executable,
        "-m",
        "bench.runners",
        tool,
        str(urls_path),
        "--concurrency",
        str(options.concurrency),
        "--per-host",
        str(options.per_host),
        "--interval",
        str(options.interval),
        "--loop",
        loop,
    ]
    try:
        _wall, _cpu, rss = _measure(command, stdout_path=out)
        result = json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)
    correct, wrong = _score(tool, result["verdicts"], targets)
    name = f"{tool} ({loop})"
    return Run(name, result["wall"], result["cpu"], rss, correct, len(targets), wrong)


def run_lychee(
    urls_path: Path, targets: list[Target], options: argparse.Namespace, scratch: Path
) -> Run:
    """lychee with throttling off, as in BENCH-PEERS.md; removed = its 404/410 errors."""
    output = scratch / "lychee.json"
    command = [
        shutil.which("lychee") or "lychee",
        "-n",
        "--host-request-interval",
        "0s",
        "--max-concurrency",
        str(options.concurrency),
        "--host-concurrency",
        str(options.per_host),
        "--timeout",
        "10",
        "--format",
        "json",
        "-o",
        str(output),
        str(urls_path),
    ]
    wall, cpu, rss = _measure(command)
    report = json.loads(output.read_text())
    removed = {
        entry["url"]
        for entries in report.get("error_map", {}).values()
        for entry in entries
        if entry.get("status", {}).get("code") in (404, 410, 451)
    }
    verdicts = ["removed" if target.url in removed else "live" for target in targets]
    correct, wrong = _score("lychee", verdicts, targets)
    return Run("lychee", wall, cpu, rss, correct, len(targets), wrong)


def run_linkchecker(
    urls_path: Path, targets: list[Target], options: argparse.Namespace, scratch: Path
) -> Run:
    """LinkChecker with 32 threads and no rate limit; removed = the URLs it reports 404/410."""
    config = scratch / "linkchecker.ini"
    config.write_text(f"[checking]\nmaxrequestspersecond=100000\nthreads={options.threads}\n")
    output = scratch / "linkchecker.csv"
    command = [
        shutil.which("linkchecker") or "linkchecker",
        "-f",
        str(config),
        "-r",
        "0",
        "--no-warnings",
        "--timeout",
        "10",
        "-o",
        "none",
        "-F",
        f"csv/utf-8/{output}",
        "--stdin",
    ]
    started = time.perf_counter()
    with urls_path.open("rb") as stdin:
        process = subprocess.Popen(  # noqa: S603 - fixed argument list
            command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _pid, _status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    removed: set[str] = set()
    with output.open(encoding="utf-8") as lines:
        rows = csv.reader((line for line in lines if not line.startswith("#")), delimiter=";")
        for row in rows:
            if len(row) > 3 and row[3][:3] in ("404", "410", "451"):
                removed.add(row[0])
    verdicts = ["removed" if target.url in removed else "live" for target in targets]
    correct, wrong = _score("linkchecker", verdicts, targets)
    return Run(
        "linkchecker",
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        correct,
        len(targets),
        wrong,
    )


def _median_row(runs: list[Run]) -> dict[str, object]:
    middle = sorted(runs, key=lambda run: run.total / run.wall)[len(runs) // 2]
    return {
        "tool": middle.tool,
        "checks_per_s": round(statistics.median(run.total / run.wall for run in runs)),
        "cpu_s": round(statistics.median(run.cpu for run in runs), 2),
        "cpu_ms_per_check": round(statistics.median(1000 * run.cpu / run.total for run in runs), 3),
        "peak_rss_mib": round(max(run.peak_rss_mib for run in runs), 1),
        "accuracy": round(min(run.correct / run.total for run in runs), 4),
        "wrong_by_kind": middle.wrong_by_kind,
        "runs": [asdict(run) for run in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--per-host", type=int, default=32)
    parser.add_argument(
        "--interval",
        type=float,
        default=0.0,
        help="our per-host minimum spacing in seconds during the run",
    )
    parser.add_argument("--threads", type=int, default=32, help="LinkChecker threads")
    parser.add_argument(
        "--tools", default="ours,ours-uvloop,aiohttp,aiohttp-uvloop,lychee,linkchecker"
    )
    options = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="recheck-bench-"))
    scratch.chmod(0o777)  # LinkChecker drops root privileges and writes its report here
    wanted = options.tools.split(",")
    runners: dict[str, Callable[[Path, list[Target]], Run]] = {
        "ours": lambda path, targets: run_python("ours", path, targets, options, "asyncio"),
        "ours-uvloop": lambda path, targets: run_python("ours", path, targets, options, "uvloop"),
        "aiohttp": lambda path, targets: run_python("aiohttp", path, targets, options, "asyncio"),
        "aiohttp-uvloop": lambda path, targets: run_python(
            "aiohttp", path, targets, options, "uvloop"
        ),
        "lychee": lambda path, targets: run_lychee(path, targets, options, scratch),
        "linkchecker": lambda path, targets: run_linkchecker(path, targets, options, scratch),
    }
    available = [
        tool
        for tool in wanted
        if tool in runners and (tool not in ("lychee", "linkchecker") or shutil.which(tool))
    ]
    runs: dict[str, list[Run]] = {tool: [] for tool in available}
    try:
        with running_fleet(options.size) as targets:
            urls_path = scratch / "urls.txt"
            urls_path.write_text("".join(target.url + "\n" for target in targets))
            urls_path.chmod(0o644)
            write_ground_truth(targets, RESULTS / "ground-truth.jsonl")
            for repeat in range(options.repeat):
                for tool in available:
                    run = runners[tool](urls_path, targets)
                    runs[tool].append(run)
                    print(
                        f"[{repeat + 1}/{options.repeat}] {run.tool}: "
                        f"{run.total / run.wall:,.0f} checks/s, "
                        f"{1000 * run.cpu / run.total:.3f} CPU ms/check, "
                        f"accuracy {run.correct / run.total:.4f}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = [_median_row(tool_runs) for tool_runs in runs.values() if tool_runs]
    summary = {
        "benchmark": "recheck_throughput",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": vars(options),
        "results": rows,
    }
    path = RESULTS / f"recheck-throughput-{int(time.time())}.json"
    path.write_text(json.dumps(summary, indent=2))
    print(
        f"\n{options.size:,} URLs, concurrency {options.concurrency}, "
        f"medians of {options.repeat}; JSON in {path}\n"
    )
    print("| tool | checks/s | CPU s | CPU ms/check | peak RSS MiB | accuracy | wrong |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for row in rows:
        wrong = ", ".join(f"{kind} {count}" for kind, count in row["wrong_by_kind"].items())
        print(
            f"| {row['tool']} | {row['checks_per_s']:,} | {row['cpu_s']} | "
            f"{row['cpu_ms_per_check']} | {row['peak_rss_mib']} | "
            f"{100 * row['accuracy']:.2f} % | {wrong or '-'} |"
        )


if __name__ == "__main__":
    main()
