"""Recording re-checks a batch at a time: the same rows as one at a time, deferred hosts, the
fallback when a batch cannot be recorded, and writers that meet."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import new_case, reset_settings
from sqlalchemy import text, update
from sqlmodel import col, select
from test_filing_flow import filings_of, log_url, report

from tracker.audit.chain import verify_chain
from tracker.audit.models import AuditEvent
from tracker.checks.models import Check
from tracker.checks.service import Observation, record_check, record_checks
from tracker.db import utcnow
from tracker.evidence.models import Evidence
from tracker.evidence.service import RECORD_STORE, evidence_bytes, purge_case_evidence
from tracker.notifications.models import Notification
from tracker.reports.models import Report, ReportTransition
from workers import jobs
from workers.recheck import pipeline

#: One observation of each kind the recorder tells apart, by the report's state before it.
SCENARIOS = [
    ("never checked, live", [], "live"),
    ("seen live, live again", ["live"], "live"),
    ("removed once, removed", ["removed"], "removed"),
    ("removed, live again", ["removed", "removed"], "live"),
    ("removed at the last watch step, removed", ["removed", "removed", "removed"], "removed"),
    ("removed, unreachable", ["removed", "removed"], "unreachable"),
    ("live, removed once", ["live"], "removed"),
    ("closed", ["removed", "removed", "removed", "removed"], "live"),
]


def _observation(report_id: int, verdict: str, **fields: object) -> Observation:
    values: dict[str, object] = {
        "report_id": report_id,
        "checked_at": utcnow(),
        "verdict": verdict,
        "reason": f"test {verdict}",
        "http_status": 200 if verdict == "live" else 404,
        "final_url": f"https://x.com/fakeuser/status/{report_id}",
        "fingerprint": "ab" * 32 if verdict == "live" else None,
        "latency_ms": 3,
        "error": None,
        "headers": {"Content-Type": "text/html", "ETag": '"fake"'},
    }
    values.update(fields)
    return Observation(**values)  # type: ignore[arg-type]


def _prepared(client, people, db, label: str) -> list[int]:  # type: ignore[no-untyped-def]
    """One report per scenario, brought to its state by checks recorded one at a time."""
    ids = []
    for index, (_name, history, _verdict) in enumerate(SCENARIOS):
        report_id = log_url(client, people, f"https://x.com/fakeuser/status/{label}{index}")
        for verdict in history:
            with db.transaction() as session:
                record_check(session=session, **vars_of(_observation(report_id, verdict)))
        ids.append(report_id)
    return ids


def vars_of(observation: Observation) -> dict[str, object]:
    fields = {name: getattr(observation, name) for name in Observation.__slots__}
    fields.pop("matches")
    return fields


def _summary(db, report_id: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """What a report's records say, without ids and times."""
    with db.session() as session:
        current = session.get(Report, report_id)
        checks = session.exec(
            select(Check).where(Check.report_id == report_id).order_by(col(Check.id))
        ).all()
        moves = session.exec(
            select(ReportTransition)
            .where(ReportTransition.report_id == report_id)
            .order_by(col(ReportTransition.id))
        ).all()
        notes = session.exec(select(Notification).where(Notification.report_id == report_id)).all()
        captures = session.exec(select(Evidence).where(Evidence.report_id == report_id)).all()
    return {
        "state": current.state,
        "last_verdict": current.last_verdict,
        "consecutive_removed": current.consecutive_removed,
        "first_removed_set": current.first_removed_at is not None,
        "watch_step": current.watch_step,
        "lease": current.check_lease_until,
        "next_check_in": None
        if current.next_check_at is None
        else round((current.next_check_at - utcnow()).total_seconds() / 60),
        "checks": [(c.verdict, c.reason, c.http_status, c.fingerprint) for c in checks],
        "moves": [(m.from_state, m.to_state, m.cause) for m in moves],
        "notifications": sorted(n.kind for n in notes),
        "captures": len(captures),
        "filings": [f.status for f in filings_of(db, report_id)],
    }


def test_a_batch_records_what_one_at_a_time_records(client, people, db):
    reset_settings(TRACKER_WATCH_SCHEDULE_SECONDS="3600,7200")
    try:
        one_by_one = _prepared(client, people, db, "single")
        batched = _prepared(client, people, db, "batch")
        for report_id, (_name, _history, verdict) in zip(one_by_one, SCENARIOS, strict=True):
            with db.transaction() as session:
                record_check(session=session, **vars_of(_observation(report_id, verdict)))
        with db.transaction(immediate=True) as session:
            recorded = record_checks(
                session=session,
                observations=[
                    _observation(report_id, verdict)
                    for report_id, (_name, _h, verdict) in zip(batched, SCENARIOS, strict=True)
                ],
            )
        assert sorted(recorded) == batched[:-1]  # the closed report gets no check
        for (name, _history, _verdict), single, batch in zip(
            SCENARIOS, one_by_one, batched, strict=True
        ):
            assert _summary(db, batch) == _summary(db, single), name
        states = [_summary(db, report_id)["state"] for report_id in batched]
        assert states == [
            "logged",
            "logged",
            "removed",
            "reappeared",
            "closed",
            "removed",
            "logged",
            "closed",
        ]
        with db.session() as session:
            assert verify_chain(session=session).intact
    finally:
        reset_settings(TRACKER_WATCH_SCHEDULE_SECONDS="3600,21600,86400,604800,2592000")


def test_a_page_gone_while_its_media_serve_and_a_refused_fetch_are_recorded_as_before(
    client, people, db
):
    gone = log_url(client, people, "https://x.com/fakeuser/status/501")
    refused = log_url(client, people, "https://x.com/fakeuser/status/502")
    with db.transaction(immediate=True) as session:
        checks = record_checks(
            session=session,
            observations=[
                _observation(gone, "removed", media_live=True, reason="http_404", matches=2),
                _observation(
                    refused,
                    "unknown",
                    reason="destination_refused",
                    error="10.0.0.1 is private",
                    http_status=None,
                ),
            ],
        )
    assert (checks[gone].verdict, checks[gone].reason, checks[gone].matches) == (
        "live",
        "linked media still live (page: http_404)",
        2,
    )
    assert checks[refused].error is not None and "10.0.0.1" not in checks[refused].error
    assert report(db, gone).consecutive_removed == 0


def test_captures_are_sealed_in_their_rows_and_purged_with_them(client, people, db):
    case_id = new_case(client, people)
    intake = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": [f"https://x.com/fakeuser/status/{n}" for n in (601, 602)]},
        headers=people.auth("alice"),
    )
    ids = [result["report_id"] for result in intake.json()["results"]]
    with db.transaction(immediate=True) as session:
        record_checks(session=session, observations=[_observation(i, "live") for i in ids])
    with db.session() as session:
        rows = session.exec(select(Evidence).order_by(col(Evidence.id))).all()
        assert [(row.report_id, row.kind, row.store) for row in rows] == [
            (ids[0], "capture", RECORD_STORE),
            (ids[1], "capture", RECORD_STORE),
        ]
        assert all(row.sealed_record and b"fakeuser" not in row.sealed_record for row in rows)
        content = b"".join(evidence_bytes(session=session, evidence=rows[0]))
        assert b'"verdict": "live"' in content and b"status/601" in content
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == "evidence.captured")
        ).all()
        assert sorted(event.object_id for event in events) == [row.id for row in rows]
    with db.transaction() as session:
        assert purge_case_evidence(session=session, case_id=case_id, actor="test", reason="t") == 2
    with db.session() as session:
        assert all(
            row.sealed_record is None and row.purged_at is not None
            for row in session.exec(select(Evidence)).all()
        )


class Throttling(BaseHTTPRequestHandler):
    """Answers every request 429 with a long Retry-After, slowly enough to hold its slot."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        time.sleep(0.2)
        body = b"slow down"
        self.send_response(429)
        self.send_header("Retry-After", "3600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def throttling_host() -> Iterator[str]:
    """A loopback host of its own (127.0.0.5), so its pause touches no other test's host."""
    server = ThreadingHTTPServer(("127.0.0.5", 0), Throttling)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    reset_settings(
        TRACKER_OUTBOUND_ALLOWLIST="127.0.0.1,127.0.0.5",
        TRACKER_RECHECK_PER_HOST_CONCURRENCY="1",
        TRACKER_RECHECK_PER_HOST_MIN_INTERVAL_SECONDS="0",
    )
    try:
        yield f"http://127.0.0.5:{server.server_address[1]}"
    finally:
        reset_settings(
            TRACKER_OUTBOUND_ALLOWLIST="127.0.0.1",
            TRACKER_RECHECK_PER_HOST_CONCURRENCY="4",
            TRACKER_RECHECK_PER_HOST_MIN_INTERVAL_SECONDS="0.5",
        )
        server.shutdown()
        server.server_close()


def test_a_check_the_hosts_pause_defers_is_not_recorded_and_comes_due_again(
    client, people, db, throttling_host
):
    case_id = new_case(client, people)
    intake = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": [f"{throttling_host}/videos/{n}" for n in (1, 2)]},
        headers=people.auth("alice"),
    )
    first, second = [result["report_id"] for result in intake.json()["results"]]
    started = utcnow()
    assert jobs.recheck_batch([first, second], db=db) == 1
    with db.session() as session:
        checks = session.exec(select(Check).order_by(col(Check.id))).all()
    # The one request sent was answered 429; its retry was deferred, so it keeps the 429.
    assert [(c.report_id, c.http_status) for c in checks] == [(first, 429)]
    deferred = report(db, second)
    assert deferred.last_checked_at is None and deferred.check_lease_until is None
    # It comes due again when the host's pause ends (Retry-After: 3600), not before.
    due_in = deferred.next_check_at - started
    assert timedelta(seconds=3590) <= due_in <= timedelta(seconds=3610)


def test_a_batch_that_cannot_be_recorded_is_recorded_page_by_page(
    client, people, db, sandbox, monkeypatch
):
    ids = [log_url(client, people, f"{sandbox.base_url}/videos/comply-{n}") for n in range(3)]
    real = pipeline.record_checks

    def failing_for_batches(*, session, observations):  # type: ignore[no-untyped-def]
        if len(observations) > 1:
            raise RuntimeError("a record that cannot be written")
        return real(session=session, observations=observations)

    monkeypatch.setattr(pipeline, "record_checks", failing_for_batches)
    assert jobs.recheck_batch(ids, db=db) == 3
    with db.session() as session:
        checked = session.exec(select(col(Check.report_id))).all()
    assert sorted(checked) == sorted(ids)


def test_a_batch_waits_for_another_writer_and_records_once(client, people, db, sandbox):
    report_id = log_url(client, people, f"{sandbox.base_url}/videos/comply-writer")
    holding = threading.Event()
    done = threading.Event()

    def other_writer() -> None:
        # Another transaction writes the report and holds it for a moment.
        with db.transaction(immediate=True) as session:
            session.execute(
                update(Report).where(col(Report.id) == report_id).values(remind_at=None)
            )
            holding.set()
            done.wait(0.5)

    writer = threading.Thread(target=other_writer)
    writer.start()
    holding.wait(5)
    try:
        with db.transaction(immediate=True) as session:
            record_checks(session=session, observations=[_observation(report_id, "live")])
    finally:
        done.set()
        writer.join()
    with db.session() as session:
        count = session.execute(
            text("SELECT count(*) FROM checks WHERE report_id = :id"), {"id": report_id}
        ).scalar_one()
    assert count == 1
    assert report(db, report_id).last_verdict == "live"
