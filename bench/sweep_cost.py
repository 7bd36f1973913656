"""Benchmark: what one re-check sweep costs on PostgreSQL as the reports table grows.

For a table of 100,000 and then 1,000,000 reports it times, medians of ``--repeat`` runs, the
sweep's two halves and the whole: claiming ``--claim`` due reports with
``tracker.due.claim_due_checks`` (one ``UPDATE … WHERE id = ANY(ARRAY(SELECT … FOR UPDATE
SKIP LOCKED)) RETURNING``, committed), and enqueueing them as Celery messages in batches, exactly as
``workers.scheduler.sweep_checks`` does (``tracker.jobs.send_now`` through
``workers.dispatch.celery_dispatcher``) on a private Redis. It prints EXPLAIN ANALYZE of the
claim query for each size.

Both tables hold the same number of due reports (``--due``, by default 20,000: 2 % of the larger
table), so the comparison isolates the table's size: a sweep should cost what its due rows cost.
The rest of the rows are scheduled up to 30 days ahead or closed (no next check).

Run (PostgreSQL on 127.0.0.1:5432, the ``redis-server`` binary on PATH)::

    python -m bench.sweep_cost                      # 100k then 1M, medians of 5
    python -m bench.sweep_cost --sizes 100000 --repeat 3 --json sweep.json
    python -m bench.sweep_cost --variant both      # also the former IN (subquery) claim

It creates its own database ``tracker_bench_sweep_<hex>`` and drops it at the end, and runs its
own Redis on a free loopback port, stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from bench.services import DEFAULT_ADMIN_URL, bench_database, private_redis

TARGET_SECONDS = 1.0
TARGET_GROWTH = 1.5
#: Expressions for the NOT NULL columns of ``reports`` a bulk load must fill (``n`` is the row
#: number from ``generate_series``). A new NOT NULL column without a default fails loudly.
REPORT_COLUMNS = {
    "case_id": ":case_id",
    "organisation_id": ":organisation_id",
    "original_url": "'https://bench.example/videos/' || n",
    "canonical_url": "'https://bench.example/videos/' || n",
    "host": "'bench.example'",
    "platform": "'web'",
    "state": "(ARRAY['filed','acknowledged','removed','logged'])[1 + n % 4]",
    "policy_version_id": ":policy_version_id",
    "rung_index": "0",
    "consecutive_removed": "0",
    "watch_step": "0",
    "created_at": "now()",
    "updated_at": "now()",
}


@dataclass
class Result:
    """One table size: medians (seconds) and every run, plus the claim's plan."""

    variant: str
    reports: int
    due: int
    claimed: int
    messages: int
    claim_median: float
    enqueue_median: float
    total_median: float
    claim_runs: list[float]
    enqueue_runs: list[float]
    total_runs: list[float]
    plan: str


def _configure(database_url: str, redis_url: str) -> None:
    # Settings are read once per process: set them before anything reads them.
    os.environ.update(
        {
            "TRACKER_ENVIRONMENT": "development",
            "TRACKER_RUN_MODE": "distributed",
            "TRACKER_DATABASE_URL": database_url,
            "TRACKER_REDIS_URL": redis_url,
            "TRACKER_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        }
    )


def _seed(database: Any) -> dict[str, int]:
    """One organisation, one case and the policy every bulk-loaded report refers to."""
    from tracker.cases.models import Case
    from tracker.organisations.service import get_or_create_organisation
    from tracker.policies.service import policy_in_force

    with database.transaction() as session:
        organisation = get_or_create_organisation(
            session=session, name="Benchmark helpline", contact_email="bench@helpline.example"
        )
        case = Case(
            organisation_id=organisation.id,
            label="Case BENCH-FAKE",
            jurisdictions=["IN"],
            authority_to_act=True,
        )
        session.add(case)
        session.flush()
        policy = policy_in_force(session=session, jurisdiction="IN", on=date.today())
        return {
            "organisation_id": int(organisation.id),  # type: ignore[arg-type]
            "case_id": int(case.id),  # type: ignore[arg-type]
            "policy_version_id": int(policy.id),  # type: ignore[arg-type]
        }


def _insert_columns(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        required = [
            row[0]
            for row in connection.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'reports' AND is_nullable = 'NO' "
                    "AND column_default IS NULL"
                )
            )
        ]
    unknown = sorted(set(required) - set(REPORT_COLUMNS))
    if unknown:
        raise SystemExit(f"reports has NOT NULL columns the benchmark cannot fill: {unknown}")
    return dict(REPORT_COLUMNS)


def load_reports(
    engine: Engine, seed: dict[str, int], *, first: int, last: int, due: int, total: int
) -> None:
    """Insert reports ``first..last`` (1-based); rows numbered up to ``due`` are due now.

    Of the others, one in ten is closed (no next check) and the rest are due within 30 days,
    spread evenly: a table of mostly waiting rows, as in production.
    """
    columns = _insert_columns(engine)
    columns["next_check_at"] = (
        "CASE WHEN n <= CAST(:due AS bigint) THEN now() - (n * interval '1 second') "
        "WHEN n % 10 = 0 THEN NULL "
        "ELSE now() + ((n * 7919) % CAST(:total AS bigint) + 60) "
        "* (interval '30 days' / CAST(:total AS bigint)) END"
    )
    # The closed rows are closed in state too, so the claim's state filter sees them as such.
    columns["state"] = (
        "CASE WHEN n > CAST(:due AS bigint) AND n % 10 = 0 THEN 'closed' ELSE "
        + columns["state"]
        + " END"
    )
    names = ", ".join(columns)
    values = ", ".join(columns.values())
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL synchronous_commit = off"))
        connection.execute(
            text(
                f"INSERT INTO reports ({names}) SELECT {values} "  # noqa: S608 - our own SQL
                "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n"
            ),
            {**seed, "first": first, "last": last, "due": due, "total": total},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE reports"))


class ClaimCapture:
    """Remembers the claim statement the ORM sends, to EXPLAIN it afterwards."""

    def __init__(self, engine: Engine) -> None:
        self.statement: str | None = None
        self.parameters: Any = None
        event.listen(engine, "before_cursor_execute", self._capture)

    def _capture(self, _conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if "SKIP LOCKED" in statement.upper() and "UPDATE REPORTS" in statement.upper():
            self.statement, self.parameters = statement, parameters


def explain_claim(engine: Engine, capture: ClaimCapture) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the last claim, run in a transaction rolled back."""
    assert capture.statement is not None, "no claim was captured"
    with engine.connect() as connection:
        transaction = connection.begin()
        rows = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + capture.statement, capture.parameters
        ).all()
        transaction.rollback()
    return "\n".join(row[0] for row in rows)


def claim_checks_in_subquery(*, session: Any, lease_seconds: float, limit: int) -> list[int]:
    """The claim as it was before: ``id IN (subquery)``, kept to show what it cost.

    Same rows and locking as ``tracker.due.claim_due_checks``; PostgreSQL plans the outer
    UPDATE as a hash semi join over a scan of the whole table, so it grows with the table.
    """
    from datetime import timedelta

    from sqlalchemy import select, update
    from sqlmodel import col

    from tracker.db import utcnow
    from tracker.reports.lifecycle import CHECKED
    from tracker.reports.models import Report

    now = utcnow()
    lease = col(Report.check_lease_until)
    candidates = (
        select(Report.id)
        .where(col(Report.next_check_at) <= now, col(Report.state).in_(list(CHECKED)))
        .where(lease.is_(None) | (lease < now))
        .order_by(col(Report.next_check_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Report)
        .where(col(Report.id).in_(candidates.scalar_subquery()))
        .values({lease.key: now + timedelta(seconds=lease_seconds)})
        .returning(Report.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(row[0] for row in session.execute(statement).all())


def measure(
    database: Any,
    engine: Engine,
    *,
    reports: int,
    due: int,
    claim: int,
    repeat: int,
    variant: str = "product",
) -> Result:
    """Time claim, enqueue and both, ``repeat`` times; every run starts from the same table."""
    import redis as redis_client

    from tracker.due import claim_due_checks
    from tracker.jobs import JobKind, send_now
    from tracker.settings import get_settings

    settings = get_settings()
    broker = redis_client.Redis.from_url(settings.redis_url)
    capture = ClaimCapture(engine)
    claims, enqueues, totals = [], [], []
    claimed = messages = 0
    for _ in range(repeat):
        broker.flushdb()  # our own Redis: every run enqueues into an empty one
        started = time.perf_counter()
        with database.transaction() as session:
            claim_checks = claim_due_checks if variant == "product" else claim_checks_in_subquery
            ids = claim_checks(session=session, lease_seconds=600, limit=claim)
        claimed_at = time.perf_counter()
        size = settings.recheck_batch_size
        sent = 0
        for start in range(0, len(ids), size):
            sent += send_now(JobKind.RECHECK, ids[start : start + size])
        finished = time.perf_counter()
        claims.append(claimed_at - started)
        enqueues.append(finished - claimed_at)
        totals.append(finished - started)
        claimed, messages = len(ids), sent
        assert sent == -(-len(ids) // size), f"only {sent} of the batches were sent"
        assert broker.llen("rechecks") == sent
        # Back to the same starting point: leases cleared, dead row versions vacuumed.
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE reports SET check_lease_until = NULL WHERE id = ANY(:ids)"),
                {"ids": ids},
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE reports"))
    plan = explain_claim(engine, capture)
    broker.flushdb()
    broker.close()
    return Result(
        variant=variant,
        reports=reports,
        due=due,
        claimed=claimed,
        messages=messages,
        claim_median=statistics.median(claims),
        enqueue_median=statistics.median(enqueues),
        total_median=statistics.median(totals),
        claim_runs=claims,
        enqueue_runs=enqueues,
        total_runs=totals,
        plan=plan,
    )


def report(results: list[Result]) -> str:
    """A Markdown table of the medians and the verdict against the targets, per variant."""
    lines = [
        "| claim query | reports | due | claimed | messages | claim (s) | enqueue (s) "
        "| claim + enqueue (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result.variant} | {result.reports:,} | {result.due:,} | {result.claimed:,} "
            f"| {result.messages} | {result.claim_median:.3f} | {result.enqueue_median:.3f} "
            f"| {result.total_median:.3f} |"
        )
    lines.append("")
    for variant in dict.fromkeys(result.variant for result in results):
        mine = [result for result in results if result.variant == variant]
        slowest = max(result.total_median for result in mine)
        verdict = "met" if slowest < TARGET_SECONDS else "MISSED"
        line = f"{variant}: under {TARGET_SECONDS:.0f} s {verdict} (slowest {slowest:.3f} s)"
        if len(mine) >= 2:
            growth = mine[-1].total_median / mine[0].total_median
            claim_growth = mine[-1].claim_median / mine[0].claim_median
            verdict = "met" if growth <= TARGET_GROWTH else "MISSED"
            line += (
                f"; {mine[-1].reports:,} vs {mine[0].reports:,}: {growth:.2f}x "
                f"(claim alone {claim_growth:.2f}x), at most {TARGET_GROWTH}x {verdict}"
            )
        lines.append(line + ".")
    return "\n".join(lines)


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--due", type=int, default=20_000, help="due reports in every table")
    parser.add_argument("--claim", type=int, default=10_000, help="reports claimed per sweep")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TRACKER_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL),
        help="a database on the server to create the benchmark's own database from",
    )
    parser.add_argument(
        "--variant",
        choices=["product", "in-subquery", "both"],
        default="product",
        help="tracker.due's claim, the former IN (subquery) claim for comparison, or both",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    options = parser.parse_args(arguments)
    sizes = sorted(options.sizes)
    if options.due > sizes[0]:
        parser.error("--due cannot exceed the smallest size")

    with (
        private_redis() as redis_url,
        bench_database(
            options.postgres_url, keep=options.keep, prefix="tracker_bench_sweep"
        ) as url,
    ):
        _configure(url, redis_url)
        from tracker.jobs import install_dispatcher
        from tracker.runtime import open_database
        from tracker.settings import get_settings
        from workers.dispatch import celery_dispatcher

        database = open_database(get_settings(), upgrade=True)
        install_dispatcher(celery_dispatcher())
        engine = database.engine
        seed = _seed(database)
        results: list[Result] = []
        loaded = 0
        for size in sizes:
            started = time.perf_counter()
            load_reports(
                engine, seed, first=loaded + 1, last=size, due=options.due, total=sizes[-1]
            )
            loaded = size
            print(f"loaded {size:,} reports in {time.perf_counter() - started:.1f} s", flush=True)
            variants = (
                ["product", "in-subquery"] if options.variant == "both" else [options.variant]
            )
            for variant in variants:
                result = measure(
                    database,
                    engine,
                    reports=size,
                    due=options.due,
                    claim=options.claim,
                    repeat=options.repeat,
                    variant=variant,
                )
                results.append(result)
                print(
                    f"\nEXPLAIN ANALYZE of the claim ({variant}), {size:,} reports:\n"
                    f"{result.plan}\n",
                    flush=True,
                )
        install_dispatcher(None)
        engine.dispose()

    print(report(results))
    if options.json:
        options.json.write_text(json.dumps([asdict(result) for result in results], indent=2))


if __name__ == "__main__":
    main()
