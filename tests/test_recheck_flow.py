"""Re-checks: verdicts move reports only as the lifecycle says; removal needs consecutive checks."""

from __future__ import annotations

import time

import pytest
from conftest import reset_settings
from sqlalchemy import update
from sqlmodel import col, select
from test_filing_flow import filings_of, log_url, report

from tracker.checks.models import Check
from tracker.checks.service import record_check
from tracker.db import utcnow
from tracker.due import claim_due_checks
from tracker.reports.models import Report
from workers import jobs


def check(db, report_id, verdict, reason="test"):
    with db.transaction() as session:
        record_check(
            session=session,
            report_id=report_id,
            checked_at=utcnow(),
            verdict=verdict,
            reason=reason,
            http_status=None,
            final_url=None,
            fingerprint=None,
            latency_ms=1,
            error=None,
        )
    return report(db, report_id)


def filed_report(client, people, db, sandbox, prefix="comply"):
    url = f"{sandbox.base_url}/videos/{prefix}-{time.monotonic_ns()}"
    report_id = log_url(client, people, url)
    [filing] = filings_of(db, report_id)
    jobs.file_filing(filing.id, db=db)
    return report_id, url


def test_one_removed_check_is_not_removal_two_are(client, people, db, sandbox):
    report_id, _ = filed_report(client, people, db, sandbox)
    assert check(db, report_id, "removed").state == "filed"
    confirmed = check(db, report_id, "removed")
    assert confirmed.state == "removed"
    assert confirmed.deadline_at is None
    assert [f.status for f in filings_of(db, report_id)] == ["removed"]


def test_blocked_or_unreachable_between_removed_checks_breaks_the_chain(
    client, people, db, sandbox
):
    report_id, _ = filed_report(client, people, db, sandbox)
    check(db, report_id, "removed")
    assert check(db, report_id, "blocked").consecutive_removed == 0
    assert check(db, report_id, "removed").state == "filed"
    check(db, report_id, "unreachable")
    assert check(db, report_id, "removed").state == "filed"


def test_reappearance_reopens_the_report_on_its_rung(client, people, db, sandbox):
    report_id, _ = filed_report(client, people, db, sandbox)
    check(db, report_id, "removed")
    check(db, report_id, "removed")
    reopened = check(db, report_id, "live")
    assert (reopened.state, reopened.rung_index) == ("reappeared", 0)
    statuses = [(f.rung_index, f.status) for f in filings_of(db, report_id)]
    assert statuses == [(0, "removed"), (0, "pending")]


def test_watch_schedule_ends_in_closed(client, people, db, sandbox):
    reset_settings(TRACKER_WATCH_SCHEDULE_SECONDS="1,2")
    try:
        report_id, _ = filed_report(client, people, db, sandbox)
        check(db, report_id, "removed")
        assert check(db, report_id, "removed").state == "removed"
        assert check(db, report_id, "removed").state == "removed"  # watch step 1
        closed = check(db, report_id, "removed")
        assert closed.state == "closed" and closed.next_check_at is None
        with db.transaction() as session:
            assert claim_due_checks(session=session, lease_seconds=60, limit=10) == []
    finally:
        reset_settings(TRACKER_WATCH_SCHEDULE_SECONDS="3600,21600,86400,604800,2592000")


def test_next_check_lands_on_the_deadline(client, people, db, sandbox):
    report_id, _ = filed_report(client, people, db, sandbox, prefix="ignore")
    current = check(db, report_id, "live")
    assert current.next_check_at == current.deadline_at  # 6 s deadline < 1 h cadence


def test_recheck_job_confirms_removal_on_the_sandbox(client, people, db, sandbox):
    report_id, url = filed_report(client, people, db, sandbox, prefix="soft")
    assert jobs.recheck_batch([report_id], db=db) == 1
    assert report(db, report_id).last_verdict == "live"
    time.sleep(1.3)  # the simulator removes after 1.2 s; soft-* answers 200 "isn't available"
    jobs.recheck_batch([report_id], db=db)
    jobs.recheck_batch([report_id], db=db)
    current = report(db, report_id)
    assert current.state == "removed"
    with db.session() as session:
        checks = session.exec(
            select(Check).where(Check.report_id == report_id).order_by(col(Check.id))
        ).all()
    assert [(c.http_status, c.verdict) for c in checks] == [
        (200, "live"),
        (200, "removed"),
        (200, "removed"),
    ]
    assert checks[1].reason == "platform_rule"
    assert all(len(c.fingerprint) == 64 for c in checks)


def test_recheck_refuses_loopback_when_not_allowlisted(client, people, db, sandbox):
    report_id, _ = filed_report(client, people, db, sandbox)
    reset_settings(TRACKER_OUTBOUND_ALLOWLIST="")
    try:
        jobs.recheck_batch([report_id], db=db)
    finally:
        reset_settings(TRACKER_OUTBOUND_ALLOWLIST="127.0.0.1")
    with db.session() as session:
        [only] = session.exec(select(Check).where(Check.report_id == report_id)).all()
    assert (only.verdict, only.reason, only.http_status) == ("unknown", "destination_refused", None)
    assert report(db, report_id).state == "filed"


def test_claims_never_hand_the_same_report_to_two_sweeps(client, people, db, sandbox):
    report_ids = [filed_report(client, people, db, sandbox)[0] for _ in range(3)]
    with db.transaction() as session:
        session.execute(update(Report).values(next_check_at=utcnow()))
    with db.transaction() as session:
        first = claim_due_checks(session=session, lease_seconds=60, limit=2)
    with db.transaction() as session:
        second = claim_due_checks(session=session, lease_seconds=60, limit=10)
    assert len(first) == 2 and set(first).isdisjoint(second)
    assert sorted(first + second) == sorted(report_ids)


@pytest.mark.postgresql_only  # SQLite serialises writers; the sequential test above covers it
def test_concurrent_claims_skip_locked_rows_on_postgresql(client, people, db, sandbox):
    report_ids = [filed_report(client, people, db, sandbox)[0] for _ in range(3)]
    with db.transaction() as session:
        session.execute(update(Report).values(next_check_at=utcnow()))
    holder = db.session()
    try:
        first = claim_due_checks(session=holder, lease_seconds=60, limit=2)  # not committed
        with db.transaction() as session:
            second = claim_due_checks(session=session, lease_seconds=60, limit=10)
        assert len(first) == 2 and len(second) == 1
        assert sorted(first + second) == sorted(report_ids)
        holder.commit()
    finally:
        holder.close()
