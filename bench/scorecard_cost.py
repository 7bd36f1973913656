"""Benchmark: what keeping the scorecards costs the moves that feed them, on PostgreSQL.

A confirmed removal is the move the re-check pipeline makes most; with scorecards it also
reads and updates the report's outcome and appends two deltas. Here ``--reports`` reports are
logged and filed, then each gets two ``removed`` checks through ``record_checks`` in batches of
200 (the second confirms the removal and moves the report). Batches alternate between the
real move and one whose scorecard hook does nothing, in one process on one database, so the
difference per confirmed removal is the hook's cost. A fold of every delta is timed too.

    .venv/bin/python -m bench.scorecard_cost                 # 4,000 reports
    options: --reports 4000 --postgres-url URL
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet

from bench.services import DEFAULT_ADMIN_URL, bench_database

BATCH = 200


def _setup(url: str, reports: int) -> tuple[Any, list[int]]:
    os.environ.update(
        {
            "TRACKER_DATABASE_URL": url,
            "TRACKER_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "TRACKER_ENVIRONMENT": "development",
        }
    )
    from fastapi.testclient import TestClient
    from sqlmodel import col, select

    from tracker.api.app import create_app
    from tracker.crypto import FieldCipher
    from tracker.db import Database, configure_cipher, make_engine
    from tracker.filings.models import Filing
    from tracker.filings.service import mark_submitted
    from tracker.organisations.models import Role
    from tracker.organisations.service import create_user, get_or_create_organisation
    from tracker.reports.models import Report
    from tracker.runtime import load_policies, migrate
    from tracker.settings import get_settings

    configure_cipher(FieldCipher([os.environ["TRACKER_ENCRYPTION_KEYS"]]))
    db = Database(make_engine(url))
    migrate(db)
    load_policies(db, get_settings())
    with db.transaction() as session:
        organisation = get_or_create_organisation(
            session=session, name="Bench helpline", contact_email="desk@bench.example"
        )
        _, key = create_user(
            session=session,
            organisation_id=organisation.id,
            display_name="Bench caseworker",
            role=Role.SUPERVISOR,
            actor="bench",
        )
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(db)) as client:
        case = client.post(
            "/api/v1/cases",
            json={"label": "Case BENCH-1", "jurisdictions": ["INTL"], "authority_to_act": True},
            headers=headers,
        ).json()["id"]
        for first in range(0, reports, 5000):
            urls = [
                f"https://x.com/fakebench/status/{n}"
                for n in range(first, min(first + 5000, reports))
            ]
            answer = client.post(
                f"/api/v1/cases/{case}/reports", json={"urls": urls}, headers=headers
            )
            assert answer.status_code == 200, answer.text
    with db.session() as session:
        ids = list(session.exec(select(Report.id).order_by(col(Report.id))).all())
    for first in range(0, len(ids), 500):
        with db.transaction() as session:
            for report_id in ids[first : first + 500]:
                filing = session.exec(
                    select(Filing).where(Filing.report_id == report_id, Filing.track == "ladder")
                ).first()
                report = session.get(Report, report_id)
                mark_submitted(
                    session=session,
                    filing=filing,
                    report=report,
                    external_ref=f"BENCH-{report_id}",
                    submitted_at=report.created_at + timedelta(hours=1),
                    actor="bench",
                    cause="filed (bench)",
                )
    return db, [int(report_id) for report_id in ids]


@contextmanager
def _hook(enabled: bool) -> Any:
    import tracker.reports.transitions as transitions

    real = transitions.on_moved
    if not enabled:
        transitions.on_moved = lambda **_: None  # type: ignore[assignment]
    try:
        yield
    finally:
        transitions.on_moved = real


def _checks(db: Any, ids: list[int], *, later: bool = False) -> float:
    """A ``removed`` check of each report, in one batch; ``later``: past the spacing that
    removal's confirmation asks of the second check."""
    from tracker.checks.service import Observation, record_checks
    from tracker.db import utcnow
    from tracker.settings import get_settings

    spacing = timedelta(seconds=get_settings().confirm_interval_seconds + 1 if later else 0)

    observations = [
        Observation(
            report_id=report_id,
            checked_at=utcnow() + spacing,
            verdict="removed",
            reason="bench",
            http_status=404,
            final_url=None,
            fingerprint=None,
            latency_ms=1,
            error=None,
        )
        for report_id in ids
    ]
    started = time.perf_counter()
    with db.transaction(immediate=True) as session:
        record_checks(session=session, observations=observations)
    return time.perf_counter() - started


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=4000)
    parser.add_argument(
        "--postgres-url", default=os.environ.get("TRACKER_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)
    )
    options = parser.parse_args(arguments)
    with bench_database(options.postgres_url, keep=False, prefix="tracker_bench_score") as url:
        db, ids = _setup(url, options.reports)
        batches = [ids[first : first + BATCH] for first in range(0, len(ids), BATCH)]
        timings: dict[bool, list[float]] = {True: [], False: []}
        for number, batch in enumerate(batches):
            enabled = number % 2 == 0
            with _hook(enabled):
                _checks(db, batch)  # the first removed check: no move
                confirmed = _checks(db, batch, later=True)  # confirms: moves each report
                timings[enabled].append(confirmed / len(batch))
        from sqlalchemy import text

        from tracker.scorecards.rollup import fold_scorecards, pending_scorecard_deltas

        with db.session() as session:
            removed = session.execute(
                text("SELECT count(*) FROM reports WHERE state = 'removed'")
            ).scalar_one()
            pending = pending_scorecard_deltas(session=session)
        started = time.perf_counter()
        with db.transaction() as session:
            folded = fold_scorecards(session=session)
        fold_seconds = time.perf_counter() - started
    with_hook = statistics.median(timings[True]) * 1e6
    without = statistics.median(timings[False]) * 1e6
    print(f"{options.reports:,} reports, {removed:,} confirmed removals, batches of {BATCH}")
    print(f"confirmation with the scorecard hook:    {with_hook:8.1f} µs per report (median)")
    print(f"confirmation without it:                 {without:8.1f} µs per report (median)")
    print(f"the hook's cost:                         {with_hook - without:8.1f} µs per removal")
    print(f"fold of {pending:,} deltas ({folded:,} folded): {fold_seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
