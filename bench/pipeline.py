"""Benchmark: the whole re-check pipeline end to end, against the engine alone, in one run.

Due reports are claimed from the database by the scheduler, fetched by a worker, and every
verdict is recorded (check rows, report updates, evidence captures, audit events), on the
loopback fleet of ``bench.fleet``. The same fleet is first checked by the engine alone
(``bench.runners ours``, as the re-check throughput benchmark runs it), so the ratio
"end to end ÷ engine" comes from one run on one machine.

Modes (``--modes``, in this order by default):

- ``engine``: ``bench.runners ours`` over the fleet's URLs (concurrency 128, 32 per host).
- ``distributed``: a throwaway PostgreSQL database migrated by ``tracker db upgrade``, a private
  Redis on a free loopback port, one ``tracker worker`` (CLI defaults unless ``--worker-args``)
  and one ``tracker scheduler``.
- ``embedded``: ``tracker serve`` on a fresh SQLite file, scheduler and tasks in-process.

In both tracker modes the reports are bulk-loaded in state ``filed`` (``bench/pipeline_seed.py``,
run with the measured checkout's own code) with their first check far away; once every process
is ready the benchmark makes them all due in one UPDATE and starts the clock, which stops when
every report has ``last_checked_at`` (polled every 0.25 s). Worker CPU is read from /proc for the
worker's whole process tree (the ``tracker serve`` process in embedded mode), PostgreSQL's from
its processes. Then every verdict is compared with the fleet's ground truth, the records are
counted (one page check per report, one capture per first live check) and the audit chain is
verified with ``tracker audit verify``.

    .venv/bin/python -m bench.pipeline                        # 20,000 reports, ~3 min
    .venv/bin/python -m bench.pipeline --checkout /tmp/before --checkout .   # before and after
    options: --reports 20000 --modes engine,distributed,embedded --worker-args "--concurrency 2"
             --setting TRACKER_RECHECK_BATCH_SIZE=200 (repeatable) --timeout 900 --profile
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from bench.fleet import Target, running_fleet
from bench.services import (
    DEFAULT_ADMIN_URL,
    bench_database,
    cpu_by_command,
    cpu_seconds,
    cpu_spent_by_command,
    free_port,
    machine_busy_seconds,
    private_redis,
    process_tree,
    tree_cpu_seconds,
)

RESULTS = Path(__file__).parent / "results"
SEED = Path(__file__).with_name("pipeline_seed.py")
ENGINE_CONCURRENCY = 128
PER_HOST = 32
#: What every tracker process of the benchmark runs with (the fleet is on loopback).
SETTINGS = {
    "TRACKER_ENVIRONMENT": "development",
    "TRACKER_OUTBOUND_ALLOWLIST": "127.0.0.0/8",
    "TRACKER_RECHECK_PER_HOST_CONCURRENCY": str(PER_HOST),
    "TRACKER_RECHECK_PER_HOST_MIN_INTERVAL_SECONDS": "0",
    "PYTHONUNBUFFERED": "1",
}


@dataclass
class ModeResult:
    """One mode's run: how fast, at what CPU cost, and whether everything was right."""

    mode: str
    reports: int
    seconds: float
    checks_per_s: float
    worker_cpu_s: float
    worker_cpu_ms_per_check: float
    postgres_cpu_s: float | None
    machine_busy_share: float
    correct: int
    wrong_by_kind: dict[str, int]
    records: dict[str, int] = field(default_factory=dict)
    audit: str = ""
    progress: list[tuple[float, int]] = field(default_factory=list)

    @property
    def is_right(self) -> bool:
        return self.correct == self.reports


class Run:
    """Child processes of one mode, each logging to its own file under ``folder``."""

    def __init__(self, checkout: Path, folder: Path, environment: dict[str, str]) -> None:
        self.checkout = checkout
        self.folder = folder
        self.environment = {
            **{key: value for key, value in os.environ.items() if not key.startswith("TRACKER_")},
            **environment,
            "PYTHONPATH": str(checkout),
        }
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def tracker(self, name: str, *arguments: str) -> subprocess.Popen[bytes]:
        """Start ``tracker <arguments>`` from the checkout, output in ``<name>.log``."""
        return self.spawn(name, [sys.executable, "-m", "tracker.cli", *arguments])

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("ab") as log:
            child = subprocess.Popen(  # noqa: S603 - our own interpreter and commands
                command,
                cwd=self.checkout,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children[name] = child
        return child

    def run(self, *command: str, timeout: float = 600) -> str:
        """Run a command from the checkout to completion; its output (it must succeed)."""
        done = subprocess.run(  # noqa: S603
            list(command),
            cwd=self.checkout,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"{command} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_logged(self, name: str, line: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while line not in self.log(name):
            child = self.children[name]
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} did not log {line!r}:\n{self.log(name)[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        for child in self.children.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, 9)
                child.wait(timeout=30)


class Store:
    """SQL on the tracker's database from the benchmark's side (PostgreSQL or SQLite)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if not self.is_sqlite:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            self.engine = create_engine(url, poolclass=NullPool)

    def rows(self, query: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        if self.is_sqlite:
            path = self.url.split("///", 1)[1]
            with sqlite3.connect(path, timeout=30) as connection:
                return list(connection.execute(query, parameters or {}).fetchall())
        from sqlalchemy import text

        with self.engine.begin() as connection:
            result = connection.execute(text(query), parameters or {})
            return [tuple(row) for row in result] if result.returns_rows else []

    def _moment(self, moment: datetime) -> object:
        # SQLite keeps times as SQLAlchemy's naive UTC text (microseconds always written).
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if self.is_sqlite else moment

    def make_all_due(self) -> None:
        """Every report that is still checked due now, in one statement."""
        self.rows(
            "UPDATE reports SET next_check_at = :now WHERE state != 'closed'",
            {"now": self._moment(datetime.now(UTC))},
        )

    def backend_cpu(self) -> dict[int, float]:
        """CPU seconds of each PostgreSQL backend serving this database now (the workers keep
        theirs open: a backend that ends during the run is not counted)."""
        rows = self.rows("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return {int(pid): cpu_seconds([int(pid)]) for (pid,) in rows}

    def wal_position(self) -> int | None:
        """PostgreSQL's write-ahead log position in bytes (None on SQLite)."""
        if self.is_sqlite:
            return None
        found = self.rows("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        return int(found[0][0])

    def checked(self, since: datetime) -> int:
        """Reports checked since then."""
        query = "SELECT count(*) FROM reports WHERE last_checked_at >= :since"
        return int(self.rows(query, {"since": self._moment(since)})[0][0])


def _score(store: Store, targets: list[Target]) -> tuple[int, dict[str, int]]:
    verdicts = dict(store.rows("SELECT canonical_url, last_verdict FROM reports"))
    correct, wrong = 0, {}
    for target in targets:
        if verdicts.get(target.url) == target.expected:
            correct += 1
        else:
            wrong[target.kind] = wrong.get(target.kind, 0) + 1
    return correct, wrong


def _records(store: Store) -> dict[str, int]:
    """What the run wrote, counted."""
    one = {
        "page_checks": "SELECT count(*) FROM checks WHERE media_item_id IS NULL",
        "reports_with_a_check": (
            "SELECT count(DISTINCT report_id) FROM checks WHERE media_item_id IS NULL"
        ),
        "captures": "SELECT count(*) FROM evidence WHERE kind = 'capture'",
        "audit_events": "SELECT count(*) FROM audit_events",
        "transitions": "SELECT count(*) FROM report_transitions",
        "removed_once": "SELECT count(*) FROM reports WHERE consecutive_removed = 1",
        "removal_confirmed": "SELECT count(*) FROM reports WHERE state = 'removed'",
        "leases_left": "SELECT count(*) FROM reports WHERE check_lease_until IS NOT NULL",
    }
    return {name: int(store.rows(query)[0][0]) for name, query in one.items()}


def _clock(
    store: Store,
    total: int,
    timeout: float,
    worker_pid: Callable[[], int],
    alive: Callable[[], bool],
) -> tuple[float, float, float | None, float, list[tuple[float, int]]]:
    """Make every report due, then wait until each has been checked once; the wall seconds,
    the worker's CPU seconds, PostgreSQL's, the machine's busy share, and the progress."""
    pid = worker_pid()
    pids = process_tree(pid)
    by_process_before = {child: cpu_seconds([child]) for child in pids}
    cpu_before = tree_cpu_seconds(pid)
    postgres_before = None if store.is_sqlite else store.backend_cpu()
    busy_before, all_before = machine_busy_seconds()
    everyone_before = cpu_by_command()
    wal_before = store.wal_position()
    started = time.perf_counter()
    since = datetime.now(UTC)
    store.make_all_due()
    progress: list[tuple[float, int]] = []
    while True:
        done = store.checked(since)
        elapsed = time.perf_counter() - started
        progress.append((round(elapsed, 2), done))
        if done >= total:
            break
        if elapsed > timeout or not alive():
            raise SystemExit(f"only {done} of {total} reports checked after {elapsed:.0f} s")
        time.sleep(0.25)
    seconds = time.perf_counter() - started
    cpu = tree_cpu_seconds(pid) - cpu_before
    split = ", ".join(
        f"{'main' if child == pid else child}: {cpu_seconds([child]) - before:.2f} s"
        for child, before in by_process_before.items()
    )
    print(f"worker CPU by process: {split}", file=sys.stderr)
    spent = cpu_spent_by_command(everyone_before, cpu_by_command())
    print(
        "machine CPU by command: "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in list(spent.items())[:8]),
        file=sys.stderr,
    )
    postgres = None
    if postgres_before is not None:
        postgres = sum(
            cpu - postgres_before.get(backend, 0.0) for backend, cpu in store.backend_cpu().items()
        )
    busy_after, all_after = machine_busy_seconds()
    share = (busy_after - busy_before) / max(all_after - all_before, 1e-9)
    wal_after = store.wal_position()
    if wal_before is not None and wal_after is not None:
        # The whole server's log (other databases' writes too, if any run meanwhile).
        print(
            f"WAL written: {(wal_after - wal_before) / total:.0f} bytes per check", file=sys.stderr
        )
    return seconds, cpu, postgres, share, progress


def _result(
    mode: str,
    store: Store,
    targets: list[Target],
    clocked: tuple[float, float, float | None, float, list[tuple[float, int]]],
    audit: str,
) -> ModeResult:
    seconds, cpu, postgres, share, progress = clocked
    correct, wrong = _score(store, targets)
    total = len(targets)
    return ModeResult(
        mode=mode,
        reports=total,
        seconds=round(seconds, 2),
        checks_per_s=round(total / seconds, 1),
        worker_cpu_s=round(cpu, 2),
        worker_cpu_ms_per_check=round(1000 * cpu / total, 3),
        postgres_cpu_s=None if postgres is None else round(postgres, 2),
        machine_busy_share=round(share, 3),
        correct=correct,
        wrong_by_kind=wrong,
        records=_records(store),
        audit=audit.strip(),
        progress=progress,
    )


@contextmanager
def profiled(run: Run, name: str, pid: int, options: argparse.Namespace) -> Iterator[None]:
    """py-spy on the worker's process tree while the clock runs (``--profile``)."""
    if not options.profile:
        yield
        return
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    output = RESULTS / f"pipeline-{name}-{int(time.time())}.txt"
    spy = subprocess.Popen(  # noqa: S603
        [py_spy, "record", "--subprocesses", "-r", "200", "-f", "raw", "-o", str(output)]
        + ["--pid", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)  # py-spy attaches
        yield
    finally:
        spy.send_signal(2)
        spy.wait(timeout=60)
        print(f"profile of {name} in {output}", file=sys.stderr)


def _settings(options: argparse.Namespace) -> dict[str, str]:
    extra = dict(item.split("=", 1) for item in options.setting)
    return {**SETTINGS, "TRACKER_ENCRYPTION_KEYS": Fernet.generate_key().decode(), **extra}


def _named(mode: str, number: int) -> str:
    return mode if number == 1 else f"{mode}, pass {number}"


def run_distributed(
    checkout: Path, urls: Path, targets: list[Target], options: argparse.Namespace
) -> list[ModeResult]:
    """One worker and one scheduler on PostgreSQL and a private Redis."""
    with (
        private_redis() as redis_url,
        bench_database(options.postgres_url, keep=False, prefix="tracker_bench_pipeline") as url,
        tempfile.TemporaryDirectory(prefix="pipeline-distributed-") as folder,
    ):
        environment = {
            **_settings(options),
            "TRACKER_RUN_MODE": "distributed",
            "TRACKER_DATABASE_URL": url,
            "TRACKER_REDIS_URL": redis_url,
            "TRACKER_DATA_DIR": str(Path(folder) / "data"),
        }
        run = Run(checkout, Path(folder), environment)
        try:
            run.run(sys.executable, "-m", "tracker.cli", "db", "upgrade")
            run.run(sys.executable, str(SEED), str(urls))
            worker = run.tracker("worker", "worker", *shlex.split(options.worker_args))
            run.wait_logged("worker", " ready.")
            run.tracker("scheduler", "scheduler")
            run.wait_logged("scheduler", "Scheduler started")
            store = Store(url)
            results = []
            for number in range(1, options.passes + 1):
                with profiled(run, f"distributed-{number}", worker.pid, options):
                    clocked = _clock(
                        store,
                        len(targets),
                        options.timeout,
                        lambda: worker.pid,
                        lambda: worker.poll() is None,
                    )
                time.sleep(1.0)  # let a last in-flight transaction land before counting
                audit = run.run(sys.executable, "-m", "tracker.cli", "audit", "verify")
                results.append(
                    _result(_named("distributed", number), store, targets, clocked, audit)
                )
            return results
        finally:
            run.stop()
            if options.keep_logs:
                shutil.copytree(folder, RESULTS / f"pipeline-logs-{int(time.time())}")


def run_embedded(
    checkout: Path, urls: Path, targets: list[Target], options: argparse.Namespace
) -> list[ModeResult]:
    """`tracker serve` on SQLite: the scheduler and the tasks in its own process."""
    with tempfile.TemporaryDirectory(prefix="pipeline-embedded-") as folder:
        data = Path(folder) / "data"
        url = f"sqlite:///{data / 'tracker.sqlite3'}"
        environment = {**_settings(options), "TRACKER_DATA_DIR": str(data)}
        run = Run(checkout, Path(folder), environment)
        try:
            run.run(sys.executable, str(SEED), str(urls))
            serve = run.tracker("serve", "serve", "--port", str(free_port()))
            run.wait_logged("serve", "Console at")
            time.sleep(1.0)  # the scheduler starts with the app
            store = Store(url)
            results = []
            for number in range(1, options.passes + 1):
                with profiled(run, f"embedded-{number}", serve.pid, options):
                    clocked = _clock(
                        store,
                        len(targets),
                        options.timeout,
                        lambda: serve.pid,
                        lambda: serve.poll() is None,
                    )
                time.sleep(1.0)
                audit = run.run(sys.executable, "-m", "tracker.cli", "audit", "verify")
                results.append(_result(_named("embedded", number), store, targets, clocked, audit))
            return results
        finally:
            run.stop()
            if options.keep_logs:
                shutil.copytree(folder, RESULTS / f"pipeline-logs-{int(time.time())}")


def run_engine(checkout: Path, urls: Path, targets: list[Target]) -> dict[str, Any]:
    """The engine alone over the same URLs, as bench/recheck_throughput.py runs it."""
    command = [sys.executable, "-m", "bench.runners", "ours", str(urls)]
    command += ["--concurrency", str(ENGINE_CONCURRENCY), "--per-host", str(PER_HOST)]
    environment = {**os.environ, "PYTHONPATH": str(checkout)}
    before = os.times()
    done = subprocess.run(  # noqa: S603
        command, cwd=checkout, env=environment, capture_output=True, text=True, check=True
    )
    after = os.times()
    result = json.loads(done.stdout)
    correct = sum(
        verdict == target.expected
        for verdict, target in zip(result["verdicts"], targets, strict=True)
    )
    process_cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return {
        "mode": "engine",
        "reports": len(targets),
        "seconds": round(result["wall"], 2),
        "checks_per_s": round(len(targets) / result["wall"], 1),
        "cpu_ms_per_check": round(1000 * result["cpu"] / len(targets), 3),
        "process_cpu_s": round(process_cpu, 2),
        "correct": correct,
    }


def _commit(checkout: Path) -> str:
    return subprocess.run(  # noqa: S603
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def _table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| commit | mode | reports | seconds | checks/s | ÷ its engine | worker CPU ms/check "
        "| PostgreSQL backends CPU s | machine busy | correct | records |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        commit, engine = run["commit"], run["engine"]
        if engine is not None:
            lines.append(
                f"| {commit} | engine alone | {engine['reports']:,} | {engine['seconds']} "
                f"| {engine['checks_per_s']:,.0f} | 1.00 | {engine['cpu_ms_per_check']} | - | - "
                f"| {engine['correct']:,} | - |"
            )
        for result in run["results"]:
            ratio = f"{result.checks_per_s / engine['checks_per_s']:.2f}" if engine else "-"
            records = ", ".join(f"{name} {value:,}" for name, value in result.records.items())
            postgres = "-" if result.postgres_cpu_s is None else f"{result.postgres_cpu_s}"
            lines.append(
                f"| {commit} | {result.mode} | {result.reports:,} | {result.seconds} "
                f"| {result.checks_per_s:,.0f} | {ratio} | {result.worker_cpu_ms_per_check} "
                f"| {postgres} | {100 * result.machine_busy_share:.0f} % "
                f"| {result.correct:,} | {records} |"
            )
    if len(runs) > 1:
        first, last = runs[0], runs[-1]
        for mode in [result.mode for result in last["results"]]:
            before = next((r for r in first["results"] if r.mode == mode), None)
            after = next(r for r in last["results"] if r.mode == mode)
            if before is not None:
                speed = after.checks_per_s / before.checks_per_s
                cpu = after.worker_cpu_ms_per_check / before.worker_cpu_ms_per_check
                lines.append(
                    f"\n{mode}: {speed:.1f} x the checks/s of {first['commit']}, "
                    f"{cpu:.2f} x its worker CPU per check"
                )
    return "\n".join(lines)


def measure(
    checkout: Path, urls: Path, targets: list[Target], options: argparse.Namespace
) -> dict[str, Any]:
    """Every mode asked for, on one checkout's code."""
    engine: dict[str, Any] | None = None
    results: list[ModeResult] = []
    commit = _commit(checkout)
    for mode in options.modes.split(","):
        if mode == "engine":
            engine = run_engine(checkout, urls, targets)
            print(f"{commit} engine: {engine['checks_per_s']:,.0f} checks/s", file=sys.stderr)
            continue
        runner = {"distributed": run_distributed, "embedded": run_embedded}[mode]
        for result in runner(checkout, urls, targets, options):
            results.append(result)
            print(
                f"{commit} {result.mode}: {result.checks_per_s:,.0f} checks/s, "
                f"{result.worker_cpu_ms_per_check} worker CPU ms/check, "
                f"{result.correct:,}/{result.reports:,} right, {result.records}",
                file=sys.stderr,
                flush=True,
            )
    return {"checkout": str(checkout), "commit": commit, "engine": engine, "results": results}


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkout",
        type=Path,
        action="append",
        help="a checkout to measure (repeat it: each runs every mode on the same fleet, in "
        "the order given; default this one)",
    )
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--modes", default="engine,distributed,embedded")
    parser.add_argument("--worker-args", default="", help="extra `tracker worker` options")
    parser.add_argument(
        "--setting", action="append", default=[], help="TRACKER_X=value for every process"
    )
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument(
        "--passes",
        type=int,
        default=1,
        help="make every report due this many times (the second pass confirms the removals)",
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("TRACKER_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the worker (raw output)")
    parser.add_argument("--keep-logs", action="store_true")
    options = parser.parse_args(arguments)
    checkouts = [path.resolve() for path in options.checkout or [Path(__file__).parent.parent]]
    RESULTS.mkdir(exist_ok=True)
    with (
        running_fleet(options.reports) as targets,
        tempfile.TemporaryDirectory(prefix="pipeline-urls-") as scratch,
    ):
        urls = Path(scratch) / "urls.txt"
        urls.write_text("".join(target.url + "\n" for target in targets))
        runs = [measure(checkout, urls, targets, options) for checkout in checkouts]
    record = {
        "benchmark": "pipeline",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {**vars(options), "checkout": [str(path) for path in checkouts]},
        "runs": [{**run, "results": [asdict(result) for result in run["results"]]} for run in runs],
    }
    commits = "-".join(run["commit"] or "unknown" for run in runs)
    path = RESULTS / f"pipeline-{commits}-{int(time.time())}.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    print(f"\n{options.reports:,} reports; JSON in {path}\n")
    print(_table(runs))


if __name__ == "__main__":
    main()
