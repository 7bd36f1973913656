"""Benchmark: the read API at a million reports on PostgreSQL, before and after, in one run.

For each checkout (``--checkout``, repeatable; the first is "before" when there are two): a
throwaway PostgreSQL database migrated with the checkout's ``tracker db upgrade``, a
supervisor, an admin and a caseworker made with ``tracker users create``, then 2,000 cases,
1,000,000 reports over 10 platforms and 10 states, 500,000 checks, 1,000,000 transitions and
250,000 filings bulk-loaded with SQL (``bench/api_scale_seed.py``: the same data for every
schema), VACUUM ANALYZE, and the checkout's report counts rebuilt if it keeps any
(``tracker.reports.rollups.rebuild_rollups``). Then ``tracker serve`` in distributed mode (a
private Redis; no in-process scheduler) from the checkout. Every endpoint is warmed up with 5
requests, then each gets ``--requests`` sequential keep-alive requests per checkout: p50, p95,
p99. The checkouts are served side by side and their requests interleaved (one to each in
turn), so the machine's other work weighs on both alike. The status of every answer is
counted, and the totals each listing reports are compared between checkouts (they must be
equal: both are exact).

    .venv/bin/python -m bench.api_scale                                 # this checkout
    git -C /work/main worktree add /tmp/before-api 38b7ec3
    .venv/bin/python -m bench.api_scale --checkout /tmp/before-api --checkout .
    options: --requests 200 --reports 1000000 --only reports,summary --keep-database

Results go to bench/results/api-scale-<commits>-<time>.json, and a Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from bench.api_scale_endpoints import endpoints, keyset_endpoints
from bench.api_scale_seed import Seeded, load
from bench.pipeline import Run
from bench.services import DEFAULT_ADMIN_URL, bench_database, free_port, private_redis

RESULTS = Path(__file__).parent / "results"
TARGET_P99_MS = 50.0
WARM_UPS = 5
ORGANISATION = "Benchmark helpline"
#: Rebuild the counts with the checkout's own code, when it has them.
REBUILD = """
from tracker.runtime import database
try:
    from tracker.reports.rollups import rebuild_rollups
except ImportError:
    print("no rollups")
else:
    from sqlalchemy import text

    with database().transaction() as session:
        rebuild_rollups(session=session)
    # The recount deleted the deltas of the bulk load: clear them out, as autovacuum would.
    with database().engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE report_count_deltas, case_report_counts, "
                       "organisation_report_counts"))
    print("rollups rebuilt")
try:
    from tracker.scorecards.buckets import EDGES
    from tracker.scorecards.rollup import rebuild_scorecards
except ImportError:
    print("no scorecards")
else:
    # An outcome for the four reports in five that were filed: first filed over the last
    # year, on one of three channels and four rungs; 60 % removed after a long-tailed time
    # (minutes to weeks), most within the deadline; some rejected, escalated, reappeared.
    from sqlalchemy import bindparam, text

    h = "abs(hashint8extended(id, {}) % {})".format
    seconds = f"(300 * power(1.0::float8 + {h(7, 1000)} / 10.0::float8, 1.6::float8))::bigint"
    with database().transaction() as session:
        session.execute(text("DELETE FROM report_outcomes"))
        session.execute(
            text(
                "INSERT INTO report_outcomes (report_id, organisation_id, platform, channel, "
                "legal_basis, rung, first_filed_at, removed_at, removal_bucket, removed_in_time, "
                "rejected_reason, reappeared, escalated, waiting_manual_seconds, paused_seconds) "
                "SELECT id, organisation_id, platform, "
                f"(ARRAY['api','email','webform'])[{h(2, 3)} + 1], "
                f"'Bench rule ' || {h(3, 4)}, "
                f"(ARRAY['platform','grievance_officer','host','regulator'])[{h(3, 4)} + 1], "
                f"now() - make_interval(secs => {h(4, 365 * 86400)}), "
                f"CASE WHEN {h(5, 10)} < 6 THEN now() END, "
                f"CASE WHEN {h(5, 10)} < 6 THEN (SELECT count(*) FROM unnest(:edges) e "
                f"WHERE e < {seconds}) ELSE -1 END, "
                f"{h(5, 10)} < 5, "
                f"CASE WHEN {h(6, 10)} = 0 THEN 'not_violating' WHEN {h(6, 10)} = 1 "
                "THEN 'more_information' END, "
                f"{h(5, 10)} < 6 AND {h(8, 20)} = 0, {h(3, 4)} > 0, "
                f"CASE WHEN {h(2, 3)} = 2 THEN {h(9, 86400)} ELSE 0 END, "
                f"CASE WHEN {h(10, 15)} = 0 THEN {h(11, 200000)} ELSE 0 END "
                f"FROM reports WHERE {h(12, 5)} > 0"
            ).bindparams(bindparam("edges", value=list(EDGES))),
        )
        rebuild_scorecards(session=session)
    with database().engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE report_outcomes, scorecard_cells, scorecard_deltas"))
    print("scorecards rebuilt")
"""


@dataclass
class Timing:
    """One endpoint as one caller: latency percentiles and what it answered."""

    name: str
    who: str
    path: str
    p50_ms: float
    p95_ms: float
    p99_ms: float
    total: Any = None
    statuses: dict[str, int] = field(default_factory=dict)


@dataclass
class CheckoutRun:
    """Every endpoint of one checkout, and how long the setup took."""

    checkout: str
    commit: str
    seed_seconds: float
    rebuild: str
    timings: list[Timing]


def _percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted samples, in milliseconds."""
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)] * 1000, 2)


def _answer_total(body: Any) -> Any:
    if isinstance(body, dict) and "total" in body:
        if "by_state" in body:  # the summary: every figure it shows
            return {key: body[key] for key in sorted(body)}
        return body["total"]
    return body.get("id") if isinstance(body, dict) else None


class Samples:
    """The timings and answers of one endpoint on one checkout."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.statuses: dict[str, int] = {}
        self.total: Any = None

    def add(self, seconds: float, response: httpx.Response) -> None:
        self.seconds.append(seconds)
        status = str(response.status_code)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        json_answer = response.headers.get("content-type", "").startswith("application/json")
        if response.status_code == 200 and self.total is None:
            # An export answers CSV: its size stands for its total.
            self.total = _answer_total(response.json()) if json_answer else len(response.content)

    def timing(self, name: str, who: str, path: str) -> Timing:
        ordered = sorted(self.seconds)
        return Timing(
            name=name,
            who=who,
            path=path,
            p50_ms=round(statistics.median(ordered) * 1000, 2),
            p95_ms=_percentile(ordered, 0.95),
            p99_ms=_percentile(ordered, 0.99),
            total=self.total,
            statuses=self.statuses,
        )


def _create_user(run: Run, role: str) -> tuple[int, int, str]:
    """``tracker users create`` of the checkout: (user id, organisation id, API key)."""
    output = run.run(
        sys.executable,
        "-m",
        "tracker.cli",
        "users",
        "create",
        "--organisation",
        ORGANISATION,
        "--name",
        f"Bench {role}",
        "--role",
        role,
    )
    made = re.search(r"user (\d+) \(\w+\) in organisation (\d+)", output)
    key = re.search(r"API key \(shown once\): (\S+)", output)
    if made is None or key is None:
        raise SystemExit(f"unexpected output of tracker users create:\n{output}")
    return int(made.group(1)), int(made.group(2)), key.group(1)


def _commit(checkout: Path) -> str:
    return subprocess.run(  # noqa: S603
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def _wait_ready(base_url: str, serve: subprocess.Popen[bytes], run: Run) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            raise SystemExit(f"tracker serve stopped:\n{run.log('serve')[-3000:]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("tracker serve did not answer /healthz within 120 s")


@dataclass
class Served:
    """A checkout's tracker, seeded and answering."""

    checkout: Path
    commit: str
    base_url: str
    keys: dict[str, str]
    ids: dict[str, int]
    seeded: Seeded
    seed_seconds: float
    rebuild: str


def serve(checkout: Path, options: argparse.Namespace, stack: ExitStack) -> Served:
    """Seed a fresh database for ``checkout`` and start its ``tracker serve`` on it (both end
    with ``stack``)."""
    redis_url = stack.enter_context(private_redis())
    url = stack.enter_context(
        bench_database(options.postgres_url, keep=options.keep_database, prefix="tracker_bench_api")
    )
    folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="api-scale-"))
    environment = {
        "TRACKER_ENVIRONMENT": "development",
        "TRACKER_RUN_MODE": "distributed",
        "TRACKER_DATABASE_URL": url,
        "TRACKER_REDIS_URL": redis_url,
        "TRACKER_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "TRACKER_DATA_DIR": str(Path(folder) / "data"),
        # Generous: the benchmark sends thousands of requests with three keys.
        "TRACKER_AUTH_FAILURE_LIMIT": "1000000",
        "PYTHONUNBUFFERED": "1",
    }
    run = Run(checkout, Path(folder), environment)
    stack.callback(run.stop)
    run.run(sys.executable, "-m", "tracker.cli", "db", "upgrade")
    ids, keys = {}, {}
    for role in ("supervisor", "admin", "caseworker"):
        ids[role], organisation_id, keys[role] = _create_user(run, role)
    started = time.perf_counter()
    engine = create_engine(url, poolclass=NullPool)
    seeded = load(
        engine,
        organisation_id=organisation_id,
        supervisor_id=ids["supervisor"],
        caseworker_id=ids["caseworker"],
        reports=options.reports,
    )
    engine.dispose()
    rebuild = run.run(sys.executable, "-c", REBUILD, timeout=1800).strip()
    seed_seconds = time.perf_counter() - started
    print(f"{checkout}: seeded in {seed_seconds:.0f} s ({rebuild})", file=sys.stderr)
    port = free_port()
    server = run.tracker("serve", "serve", "--port", str(port))
    base_url = f"http://127.0.0.1:{port}"
    _wait_ready(base_url, server, run)
    return Served(
        checkout=checkout,
        commit=_commit(checkout),
        base_url=base_url,
        keys=keys,
        ids=ids,
        seeded=seeded,
        seed_seconds=round(seed_seconds, 1),
        rebuild=rebuild,
    )


def measure(served: list[Served], options: argparse.Namespace) -> list[CheckoutRun]:
    """Time every endpoint on every checkout, their requests interleaved (one to each in turn)
    so that the machine's other work weighs on all of them alike.

    Every endpoint is warmed up first (5 requests each), then timed.
    """
    plans = [endpoints(one.seeded, one.ids) + keyset_endpoints(one.seeded) for one in served]
    if options.only:
        plans = [[item for item in plan if item[0].split()[0] in options.only] for plan in plans]
    clients = [httpx.Client(base_url=one.base_url, timeout=120) for one in served]
    results: list[list[Timing]] = [[] for _ in served]
    try:
        for index in range(len(plans[0])):
            for client, one, plan in zip(clients, served, plans, strict=True):
                _, who, path = plan[index]
                for _ in range(WARM_UPS):
                    client.get(path, headers={"Authorization": f"Bearer {one.keys[who]}"})
        for index in range(len(plans[0])):
            samples = [Samples() for _ in served]
            for _ in range(options.requests):
                for client, one, plan, sample in zip(clients, served, plans, samples, strict=True):
                    _, who, path = plan[index]
                    headers = {"Authorization": f"Bearer {one.keys[who]}"}
                    started = time.perf_counter()
                    response = client.get(path, headers=headers)
                    sample.add(time.perf_counter() - started, response)
            name, who, _ = plans[0][index]
            line = f"  {who:<10} {name:<52}"
            for result, plan, sample in zip(results, plans, samples, strict=True):
                timing = sample.timing(name, who, plan[index][2])
                result.append(timing)
                line += f" p50 {timing.p50_ms:7.1f} p99 {timing.p99_ms:7.1f} {timing.statuses} |"
            print(line, file=sys.stderr, flush=True)
    finally:
        for client in clients:
            client.close()
    return [
        CheckoutRun(
            checkout=str(one.checkout),
            commit=one.commit,
            seed_seconds=one.seed_seconds,
            rebuild=one.rebuild,
            timings=result,
        )
        for one, result in zip(served, results, strict=True)
    ]


def _cell(timing: Timing | None) -> str:
    if timing is None:
        return "-"
    return f"{timing.p50_ms:.1f} / {timing.p95_ms:.1f} / {timing.p99_ms:.1f}"


def table(runs: list[CheckoutRun]) -> str:
    """Markdown: one row per endpoint and caller, p50 / p95 / p99 per checkout."""
    heads = [f"{run.commit or Path(run.checkout).name} p50 / p95 / p99 ms" for run in runs]
    lines = ["| endpoint | as | " + " | ".join(heads) + " |"]
    if len(runs) == 2:
        lines[0] += " p99 after ÷ before | same totals | p99 < 50 ms |"
    lines.append("|---|---|" + "---:|" * len(runs) + ("---:|---|---|" if len(runs) == 2 else ""))
    by_run = [{(timing.who, timing.name): timing for timing in run.timings} for run in runs]
    for timing in runs[-1].timings:
        key = (timing.who, timing.name)
        keyset = "before_id" in timing.path
        # A checkout without keyset paging ignores before_id: its timing is of another page.
        cells = [
            _cell(found.get(key)) if not keyset or index == len(runs) - 1 else "-"
            for index, found in enumerate(by_run)
        ]
        row = f"| {timing.name} | {timing.who} | " + " | ".join(cells) + " |"
        if len(runs) == 2:
            before = by_run[0].get(key)
            ratio = f"{timing.p99_ms / before.p99_ms:.3f}" if before and not keyset else "- (new)"
            same = (
                "-"
                if before is None or keyset
                else ("yes" if before.total == timing.total else "NO")
            )
            met = "yes" if timing.p99_ms < TARGET_P99_MS else "no"
            row += f" {ratio} | {same} | {met} |"
        lines.append(row)
    return "\n".join(lines)


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, action="append", default=[])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument(
        "--only",
        type=lambda value: value.split(","),
        default=None,
        help="first words of the endpoint names to run (e.g. summary,reports,cases)",
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("TRACKER_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)
    )
    parser.add_argument("--keep-database", action="store_true")
    options = parser.parse_args(arguments)
    checkouts = [path.resolve() for path in options.checkout] or [Path(__file__).parent.parent]
    with ExitStack() as stack:
        served = [serve(checkout, options, stack) for checkout in checkouts]
        runs = measure(served, options)
    RESULTS.mkdir(exist_ok=True)
    record = {
        "benchmark": "api_scale",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "requests": options.requests,
        "reports": options.reports,
        "runs": [asdict(run) for run in runs],
    }
    commits = "-".join(run.commit or "unknown" for run in runs)
    path = RESULTS / f"api-scale-{commits}-{int(time.time())}.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    print(
        f"\n{options.reports:,} reports, {options.requests} requests per endpoint; JSON in {path}\n"
    )
    print(table(runs))


if __name__ == "__main__":
    main()
