"""Benchmark: logging URLs into a case (issue 11, goal 4) through a running `tracker serve`, for
one or more checkouts in one run, so before and after come from the same machine and minute.

    .venv/bin/python -m bench.intake                                  # this checkout, ~5 min
    git -C . worktree add /tmp/before-intake 38b7ec3
    .venv/bin/python -m bench.intake --checkout /tmp/before-intake --checkout .
    options: --modes embedded,distributed --repeat 5 --large 10000 --postgres-url URL

Each checkout runs its own code (``PYTHONPATH``) in each mode:

- ``embedded``: `tracker serve` on SQLite in a fresh data folder, the scheduler and the tasks
  in its process (each filing's job runs on its thread pool after the intake commits).
- ``distributed``: a throwaway PostgreSQL database migrated by `tracker db upgrade`, a private
  Redis on a free loopback port, `tracker serve` in distributed mode; no worker runs, so each
  filing's Celery job is published to Redis (inside the request, after commit) and stays there.

Every case has authority to act (jurisdiction US) and every URL is a Facebook video URL with a
fake id: its first rung files a web-form packet, which is prepared on the machine, so nothing is
sent anywhere. Nothing is fetched either: every sweep runs every 24 h
(``TRACKER_SWEEP_INTERVAL_SECONDS`` and ``TRACKER_RECHECK_SWEEP_INTERVAL_SECONDS``), and
APScheduler runs an interval job first after one interval; the run checks at the end that no
check was recorded.

Timed after one untimed intake of 500 URLs (a warm-up), each in a fresh case, as wall time
seen by the client (keep-alive HTTP on loopback):

- ``POST 500 URLs``: the API, median of ``--repeat`` cases;
- ``POST 10,000 URLs``: one request; a checkout whose API takes at most 500 is timed doing
  what it can, 20 sequential requests of 500;
- ``paste`` and ``CSV`` of 10,000 lines in the console, signed in through the real forms: the
  preview (POST of the form) and the confirmation (POST of the preview's form, answered 303);
  a checkout that takes at most 500 lines is timed over 20 previews and 20 confirmations.

In embedded mode the benchmark waits, between two timed steps, until the filings the previous
step opened have their packets (none pending or submitting): that background work would
otherwise slow the next step. How long that took is reported too ("packets ready").
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from bench.pipeline import Run, Store
from bench.services import (
    DEFAULT_ADMIN_URL,
    bench_database,
    free_port,
    private_redis,
    tree_cpu_seconds,
)

RESULTS = Path(__file__).parent / "results"
NEW_PASSWORD = "a benchmark pass phrase"  # noqa: S105 - a throwaway bench server
OLD_LIMIT = 500
SETTINGS = {
    "TRACKER_ENVIRONMENT": "development",
    "TRACKER_SWEEP_INTERVAL_SECONDS": "86400",
    "TRACKER_RECHECK_SWEEP_INTERVAL_SECONDS": "86400",
    "PYTHONUNBUFFERED": "1",
}
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def facebook_urls(case_number: int, count: int) -> list[str]:
    """``count`` distinct Facebook video URLs with fake ids."""
    return [
        f"https://www.facebook.com/watch/?v={case_number:04d}{index:06d}" for index in range(count)
    ]


class Tracker:
    """A running `tracker serve`: an API client (first admin's key) and a console client."""

    def __init__(
        self, run: Run, store: Store, *, embedded: bool, redis_url: str | None = None
    ) -> None:
        self.run = run
        self.store = store
        self.embedded = embedded
        self.redis_url = redis_url
        port = free_port()
        self.process = run.tracker("serve", "serve", "--port", str(port))
        run.wait_logged("serve", "Console at", timeout=120)
        log = run.log("serve")
        key = re.search(r"(tk_[A-Za-z0-9_-]{20,})", log)
        password = re.search(r"one-time password \(shown once; .*\): (\S+)", log)
        if key is None or password is None:
            raise SystemExit(f"no first admin sign-in in the log:\n{log[-2000:]}")
        base = f"http://127.0.0.1:{port}"
        self.api = httpx.Client(
            base_url=base, timeout=600, headers={"Authorization": f"Bearer {key.group(1)}"}
        )
        self.console = httpx.Client(base_url=base, timeout=600)
        deadline = time.monotonic() + 60
        while self.api.get("/healthz").status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit("the tracker did not answer /healthz within 60 s")
            time.sleep(0.1)
        self._sign_in(password.group(1))
        self.cases = 0

    def _sign_in(self, one_time: str) -> None:
        """The first admin's first sign-in through the forms, and their own password."""
        page = self.console.get("/sign-in")
        answer = self.console.post(
            "/sign-in",
            data={"login": "admin", "password": one_time, "csrf_token": _csrf(page.text)},
        )
        assert answer.status_code == 303, answer.status_code
        page = self.console.get("/account/password")
        answer = self.console.post(
            "/account/password",
            data={
                "current": one_time,
                "new": NEW_PASSWORD,
                "repeat": NEW_PASSWORD,
                "csrf_token": _csrf(page.text),
            },
        )
        assert answer.status_code == 303, answer.status_code

    def new_case(self) -> int:
        """A fresh case with authority to act."""
        self.cases += 1
        answer = self.api.post(
            "/api/v1/cases",
            json={
                "label": f"Case BENCH-{self.cases:04d}",
                "jurisdictions": ["US"],
                "authority_to_act": True,
            },
        )
        answer.raise_for_status()
        return int(answer.json()["id"])

    def cpu(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def settle(self) -> float:
        """Wait until no filing is pending or submitting (embedded: its packets are ready)."""
        if not self.embedded:
            return 0.0
        started = time.perf_counter()
        while self.store.rows(
            "SELECT count(*) FROM filings WHERE status IN ('pending', 'submitting')"
        )[0][0]:
            if time.perf_counter() - started > 1800:
                raise SystemExit("filings still pending after 30 min")
            time.sleep(0.25)
        return time.perf_counter() - started

    def close(self) -> None:
        self.api.close()
        self.console.close()


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token"
    return found.group(1)


def _confirm_fields(page: str, case_id: int) -> tuple[dict[str, str], bool]:
    """The hidden fields of the preview's confirmation form, and whether it is multipart."""
    form = re.search(
        rf'<form method="post" action="/cases/{case_id}/urls"([^>]*)>(.*?)</form>', page, re.S
    )
    if form is None:
        raise SystemExit(f"no confirmation form on the preview:\n{page[:2000]}")
    fields = {name: html.unescape(value) for name, value in HIDDEN.findall(form.group(2))}
    return fields, "multipart/form-data" in form.group(1)


def timed(function: Callable[[], httpx.Response], expect: int) -> float:
    started = time.perf_counter()
    answer = function()
    seconds = time.perf_counter() - started
    if answer.status_code != expect:
        raise SystemExit(f"answered {answer.status_code}, not {expect}: {answer.text[:500]}")
    return seconds


def api_intake(tracker: Tracker, count: int) -> dict[str, Any]:
    """POST ``count`` URLs to a fresh case: in one request, or in requests of 500 if refused."""
    case_id = tracker.new_case()
    urls = facebook_urls(tracker.cases, count)
    path = f"/api/v1/cases/{case_id}/reports"
    cpu = tracker.cpu()
    started = time.perf_counter()
    answer = tracker.api.post(path, json={"urls": urls})
    requests = 1
    if answer.status_code in (413, 422) and count > OLD_LIMIT:
        requests = 0
        started = time.perf_counter()
        for start in range(0, count, OLD_LIMIT):
            part = urls[start : start + OLD_LIMIT]
            timed(lambda part=part: tracker.api.post(path, json={"urls": part}), 200)  # type: ignore[misc]
            requests += 1
    elif answer.status_code != 200:
        raise SystemExit(f"intake answered {answer.status_code}: {answer.text[:500]}")
    seconds = time.perf_counter() - started
    cpu = tracker.cpu() - cpu
    return {
        "urls": count,
        "requests": requests,
        "seconds": round(seconds, 3),
        "server_cpu_s": round(cpu, 3),
        "packets_ready_s": round(tracker.settle(), 1),
    }


def console_intake(tracker: Tracker, count: int, *, csv: bool) -> dict[str, Any]:
    """Paste (or upload as CSV) ``count`` lines, preview, confirm; 500 at a time if refused."""
    case_id = tracker.new_case()
    urls = facebook_urls(tracker.cases, count)
    console = tracker.console
    page = console.get(f"/cases/{case_id}/urls")
    token = _csrf(page.text)

    def preview(part: list[str]) -> httpx.Response:
        if csv:
            data = "\n".join(["address,notes", *(f"{url},fake note" for url in part)])
            return console.post(
                f"/cases/{case_id}/urls/preview",
                data={"csrf_token": token, "text": "", "allow_partial": "false"},
                files={"file": ("links.csv", data.encode(), "text/csv")},
            )
        text = "\n".join(f"{number + 1}) {url}" for number, url in enumerate(part))
        return console.post(
            f"/cases/{case_id}/urls/preview",
            data={"csrf_token": token, "text": text, "allow_partial": "false"},
        )

    def confirm(page: str) -> float:
        fields, multipart = _confirm_fields(page, case_id)
        path = f"/cases/{case_id}/urls"
        if multipart:
            parts = [(name, (None, value)) for name, value in fields.items()]
            return timed(lambda: console.post(path, files=parts), 303)
        return timed(lambda: console.post(path, data=fields), 303)

    cpu = tracker.cpu()
    page_bytes: int | None = None
    started = time.perf_counter()
    answer = preview(urls)
    preview_s = time.perf_counter() - started
    if answer.status_code == 400 and count > OLD_LIMIT:  # "at most 500 can be added at once"
        preview_s = confirm_s = 0.0
        for start in range(0, count, OLD_LIMIT):
            started = time.perf_counter()
            answer = preview(urls[start : start + OLD_LIMIT])
            preview_s += time.perf_counter() - started
            assert answer.status_code == 200, answer.status_code
            confirm_s += confirm(answer.text)
        steps = count // OLD_LIMIT
    else:
        assert answer.status_code == 200, answer.text[:500]
        page_bytes = len(answer.content)
        confirm_s = confirm(answer.text)
        steps = 1
    cpu = tracker.cpu() - cpu
    return {
        "lines": count,
        "previews": steps,
        "preview_s": round(preview_s, 3),
        "preview_page_kib": None if page_bytes is None else round(page_bytes / 1024),
        "confirm_s": round(confirm_s, 3),
        "server_cpu_s": round(cpu, 3),
        "packets_ready_s": round(tracker.settle(), 1),
    }


def measure(tracker: Tracker, options: argparse.Namespace) -> dict[str, Any]:
    """Every timed step on one running tracker, after one untimed intake of 500 (warm-up)."""
    api_intake(tracker, 500)
    small = []
    for _ in range(options.repeat):
        small.append(api_intake(tracker, 500))
    result: dict[str, Any] = {
        "api_500": {
            "median_s": round(statistics.median(run["seconds"] for run in small), 3),
            "runs_s": [run["seconds"] for run in small],
            "packets_ready_s": max(run["packets_ready_s"] for run in small),
        },
        "api_large": api_intake(tracker, options.large),
        "paste_large": console_intake(tracker, options.large, csv=False),
        "csv_large": console_intake(tracker, options.large, csv=True),
    }
    expected = 500 * (1 + options.repeat) + 3 * options.large
    reports = tracker.store.rows("SELECT count(*) FROM reports")[0][0]
    checks = tracker.store.rows("SELECT count(*) FROM checks")[0][0]
    if reports != expected or checks:
        raise SystemExit(f"{reports} reports (expected {expected}) and {checks} checks")
    result["reports"] = reports
    result["checks"] = checks
    if tracker.redis_url is not None:
        result["publish_large_s"] = round(publish_alone(tracker.redis_url, options.large), 3)
    return result


def publish_alone(redis_url: str, count: int) -> float:
    """Seconds to publish ``count`` filing jobs to Celery on this Redis, nothing else: what
    a distributed intake of ``count`` URLs spends after its commit (one job per filing)."""
    from celery import Celery

    app = Celery("bench-publish", broker=redis_url)
    app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True)
    queue = "bench-publish"
    app.send_task("tracker.file_filing", args=[0], queue=queue)  # connect first
    started = time.perf_counter()
    for number in range(count):
        app.send_task("tracker.file_filing", args=[number], queue=queue)
    seconds = time.perf_counter() - started
    with app.connection_for_write() as connection:
        connection.default_channel.queue_delete(queue)
    return seconds


@contextmanager
def running(checkout: Path, mode: str, options: argparse.Namespace) -> Iterator[Tracker]:
    """A `tracker serve` of ``checkout`` in ``mode`` on fresh storage."""
    settings = {**SETTINGS, "TRACKER_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    with tempfile.TemporaryDirectory(prefix=f"intake-{mode}-") as folder:
        data = Path(folder) / "data"
        if mode == "embedded":
            run = Run(checkout, Path(folder), {**settings, "TRACKER_DATA_DIR": str(data)})
            store = Store(f"sqlite:///{data / 'tracker.sqlite3'}")
            with _started(run, store, embedded=True) as tracker:
                yield tracker
            return
        with (
            private_redis() as redis_url,
            bench_database(options.postgres_url, keep=False, prefix="tracker_bench_intake") as url,
        ):
            environment = {
                **settings,
                "TRACKER_RUN_MODE": "distributed",
                "TRACKER_DATABASE_URL": url,
                "TRACKER_REDIS_URL": redis_url,
                "TRACKER_DATA_DIR": str(data),
            }
            run = Run(checkout, Path(folder), environment)
            run.run(sys.executable, "-m", "tracker.cli", "db", "upgrade")
            with _started(run, Store(url), embedded=False, redis_url=redis_url) as tracker:
                yield tracker


@contextmanager
def _started(
    run: Run, store: Store, *, embedded: bool, redis_url: str | None = None
) -> Iterator[Tracker]:
    tracker = None
    try:
        tracker = Tracker(run, store, embedded=embedded, redis_url=redis_url)
        yield tracker
    finally:
        if tracker is not None:
            tracker.close()
        run.stop()
        if not store.is_sqlite:
            store.engine.dispose()


def _commit(checkout: Path) -> str:
    """The checkout's commit, with "+" when its tracked files have changes not committed."""

    def git(*arguments: str) -> str:
        return subprocess.run(  # noqa: S603
            ["git", "-C", str(checkout), *arguments],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    changed = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("+" if changed else "")


def _cell(value: float, before: float | None) -> str:
    """Seconds, and how many times faster than ``before`` (the first checkout's)."""
    if before is None:
        return f"{value:.2f} s"
    return f"{value:.2f} s ({before / value:.1f}×)"


def _in(step: dict[str, Any], key: str) -> str:
    """ " in 20" when a step took several requests."""
    return "" if step[key] == 1 else f" in {step[key]}"


def table(results: list[dict[str, Any]], large: int) -> str:
    """The Markdown table: one row per checkout and mode (× faster than the first checkout)."""
    lines = [
        f"| checkout | mode | POST 500 URLs (median) | POST {large:,} URLs | paste {large:,}: "
        f"preview / confirm | CSV {large:,}: preview / confirm | preview page "
        f"| {large:,} Celery publishes alone |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    first: dict[str, dict[str, Any]] = {}
    for result in results:
        mode, data = result["mode"], result["timings"]
        base = first.setdefault(mode, data)
        cells = []
        for step, keys, count in (
            ("api_500", ("median_s",), None),
            ("api_large", ("seconds",), "requests"),
            ("paste_large", ("preview_s", "confirm_s"), "previews"),
            ("csv_large", ("preview_s", "confirm_s"), "previews"),
        ):
            shown = " / ".join(
                _cell(data[step][key], None if data is base else base[step][key]) for key in keys
            )
            cells.append(shown + ("" if count is None else _in(data[step], count)))
        page = data["paste_large"]["preview_page_kib"]
        cells.append("-" if page is None else f"{page:,} KiB")
        publish = data.get("publish_large_s")
        cells.append("-" if publish is None else f"{publish:.2f} s")
        lines.append(f"| {result['commit']} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(arguments: list[str] | None = None) -> None:
    """Run every checkout in every mode, write bench/results/intake.json, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--checkout", type=Path, action="append", help="a checkout to run (repeatable)"
    )
    parser.add_argument("--modes", default="embedded,distributed")
    parser.add_argument("--repeat", type=int, default=5, help="cases of 500 URLs")
    parser.add_argument("--large", type=int, default=10_000, help="URLs or lines of a big intake")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("TRACKER_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)
    )
    options = parser.parse_args(arguments)
    checkouts = [path.resolve() for path in options.checkout or [Path(__file__).parent.parent]]
    results = []
    for mode in options.modes.split(","):
        for checkout in checkouts:
            print(f"{checkout} ({_commit(checkout)}), {mode} ...", file=sys.stderr)
            with running(checkout, mode, options) as tracker:
                timings = measure(tracker, options)
            results.append(
                {
                    "checkout": str(checkout),
                    "commit": _commit(checkout),
                    "mode": mode,
                    "timings": timings,
                }
            )
            print(json.dumps(timings), file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "intake.json").write_text(json.dumps(results, indent=2))
    print(table(results, options.large))


if __name__ == "__main__":
    main()
