"""Filing, polling and escalation, driven by calling the job functions directly."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
from conftest import new_case
from sqlalchemy import update
from sqlmodel import col, select

from platform_adapters.registry import build_adapter
from tracker.db import utcnow
from tracker.due import claim_due_escalations, claim_due_filings
from tracker.filings.models import Filing, FilingAttempt
from tracker.filings.service import claim_for_submission
from tracker.reports.models import Report, ReportTransition
from tracker.settings import get_settings
from workers import jobs


def log_url(client, people, url, **case_fields):
    case_id = new_case(client, people, **case_fields)
    response = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": [url]}, headers=people.auth("alice")
    )
    assert response.status_code == 200, response.text
    return response.json()["results"][0]["report_id"]


def filings_of(db, report_id):
    with db.session() as session:
        return list(
            session.exec(
                select(Filing).where(Filing.report_id == report_id).order_by(col(Filing.id))
            ).all()
        )


def report(db, report_id):
    with db.session() as session:
        return session.get(Report, report_id)


def sandbox_reports(sandbox, url):
    listing = httpx.get(
        f"{sandbox.base_url}/api/v1/reports", headers={"Authorization": "Bearer sandbox-token"}
    ).json()
    items = listing["items"]
    return [item for item in items if item["url"] == url]


def test_a_task_run_twice_files_once(client, people, db, sandbox):
    url = f"{sandbox.base_url}/videos/comply-twice-{time.monotonic_ns()}"
    report_id = log_url(client, people, url)
    [filing] = filings_of(db, report_id)
    assert filing.status == "pending" and filing.adapter == "sandbox"
    assert jobs.file_filing(filing.id, db=db) == "filed"
    assert jobs.file_filing(filing.id, db=db) == "skipped"
    [filing] = filings_of(db, report_id)
    assert filing.status == "submitted"
    assert filing.external_ref.startswith("SBX-")
    assert filing.deadline_at == filing.submitted_at + timedelta(seconds=6)
    assert len(sandbox_reports(sandbox, url)) == 1
    current = report(db, report_id)
    assert current.state == "filed"
    assert current.deadline_at == filing.deadline_at


def test_a_worker_dying_mid_submission_is_retried_under_the_same_key(client, people, db, sandbox):
    url = f"{sandbox.base_url}/videos/comply-crash-{time.monotonic_ns()}"
    report_id = log_url(client, people, url)
    [filing] = filings_of(db, report_id)
    with db.transaction() as session:
        claim = claim_for_submission(session=session, filing_id=filing.id)
    # The worker posts the report, then dies before recording the answer.
    build_adapter("sandbox", get_settings()).file(claim.request)
    assert jobs.file_filing(filing.id, db=db) == "skipped"  # its lease still holds
    with db.transaction() as session:
        session.execute(
            update(Filing)
            .where(col(Filing.id) == filing.id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    with db.transaction() as session:
        assert claim_due_filings(session=session, lease_seconds=60, limit=10) == [filing.id]
    assert jobs.file_filing(filing.id, db=db) == "filed"
    assert len(sandbox_reports(sandbox, url)) == 1
    [filing] = filings_of(db, report_id)
    assert filing.status == "submitted" and filing.attempt_count == 2


def test_transient_errors_are_retried_with_retry_after_then_filed(client, people, db, sandbox):
    url = f"{sandbox.base_url}/videos/flaky-{time.monotonic_ns()}"
    report_id = log_url(client, people, url)
    [filing] = filings_of(db, report_id)
    before = utcnow()
    assert jobs.file_filing(filing.id, db=db) == "transient"
    [filing] = filings_of(db, report_id)
    assert filing.status == "pending"
    assert filing.next_attempt_at >= before + timedelta(seconds=1)  # Retry-After: 1
    for _ in range(2):
        with db.transaction() as session:
            session.execute(
                update(Filing).where(col(Filing.id) == filing.id).values(next_attempt_at=utcnow())
            )
        jobs.file_filing(filing.id, db=db)
    [filing] = filings_of(db, report_id)
    assert filing.status == "submitted"
    with db.session() as session:
        outcomes = [
            a.outcome
            for a in session.exec(
                select(FilingAttempt)
                .where(FilingAttempt.filing_id == filing.id)
                .order_by(col(FilingAttempt.id))
            ).all()
        ]
    assert outcomes == ["transient_error", "transient_error", "succeeded"]
    assert len(sandbox_reports(sandbox, url)) == 1


def test_platform_acknowledges_then_rejects_and_the_report_escalates(client, people, db, sandbox):
    url = f"{sandbox.base_url}/videos/reject-{time.monotonic_ns()}"
    report_id = log_url(client, people, url)
    [filing] = filings_of(db, report_id)
    jobs.file_filing(filing.id, db=db)
    time.sleep(0.4)
    assert jobs.poll_filing(filing.id, db=db) == "acknowledged"
    assert report(db, report_id).state == "acknowledged"
    time.sleep(0.9)
    assert jobs.poll_filing(filing.id, db=db) == "rejected"
    current = report(db, report_id)
    assert current.state == "escalated" and current.rung_index == 1
    first, second = filings_of(db, report_id)
    assert first.status == "rejected"
    assert (second.rung_index, second.rung_target, second.status) == (
        1,
        "grievance_officer",
        "pending",
    )
    assert jobs.file_filing(second.id, db=db) == "filed"
    assert report(db, report_id).state == "filed"
    channels = {item["channel"] for item in sandbox_reports(sandbox, url)}
    assert channels == {"platform", "grievance_officer"}


def test_deadline_passed_while_live_escalates_with_the_cause_recorded(client, people, db, sandbox):
    url = f"{sandbox.base_url}/videos/ignore-{time.monotonic_ns()}"
    report_id = log_url(client, people, url)
    [filing] = filings_of(db, report_id)
    jobs.file_filing(filing.id, db=db)
    with db.transaction() as session:
        assert claim_due_escalations(session=session, lease_seconds=60, limit=10) == []
        session.execute(
            update(Report)
            .where(col(Report.id) == report_id)
            .values(deadline_at=utcnow() - timedelta(seconds=1), last_verdict="live")
        )
    with db.transaction() as session:
        assert claim_due_escalations(session=session, lease_seconds=60, limit=10) == [report_id]
    with db.transaction() as session:  # claimed: a second sweep takes nothing
        assert claim_due_escalations(session=session, lease_seconds=60, limit=10) == []
    assert jobs.escalate_report(report_id, db=db) is True
    current = report(db, report_id)
    assert (current.state, current.rung_index, current.deadline_at) == ("escalated", 1, None)
    with db.session() as session:
        last = session.exec(
            select(ReportTransition)
            .where(ReportTransition.report_id == report_id)
            .order_by(col(ReportTransition.id).desc())
        ).first()
    assert last.to_state == "escalated"
    assert "deadline passed" in last.cause and "last check: live" in last.cause
    assert [f.status for f in filings_of(db, report_id)] == ["superseded", "pending"]


def test_removal_seen_but_unconfirmed_holds_escalation(client, people, db, sandbox):
    url = f"{sandbox.base_url}/videos/comply-hold-{time.monotonic_ns()}"
    report_id = log_url(client, people, url)
    [filing] = filings_of(db, report_id)
    jobs.file_filing(filing.id, db=db)
    with db.transaction() as session:
        session.execute(
            update(Report)
            .where(col(Report.id) == report_id)
            .values(deadline_at=utcnow() - timedelta(seconds=1), consecutive_removed=1)
        )
    assert jobs.escalate_report(report_id, db=db) is False
    assert report(db, report_id).rung_index == 0


def test_web_form_packet_round_trip_through_the_api(client, people, db):
    report_id = log_url(client, people, "https://www.facebook.com/fakeprofile/videos/1234567890")
    [filing] = filings_of(db, report_id)
    assert (filing.adapter, filing.channel_kind) == ("meta_webform", "webform")
    jobs.file_filing(filing.id, db=db)
    assert report(db, report_id).state == "awaiting_manual"
    listing = client.get("/api/v1/filings", headers=people.auth("alice")).json()
    assert listing["total"] == 1
    item = listing["items"][0]
    assert item["packet"]["form_url"] == "https://www.facebook.com/help/contact/144059062408922"
    assert item["deadline_at"] is None  # the clock starts only when the caseworker confirms
    assert client.get("/api/v1/filings", headers=people.auth("bob")).json()["total"] == 0
    before = utcnow()
    confirmed = client.post(
        f"/api/v1/filings/{filing.id}/confirm",
        json={"reference_id": "FB-FAKE-0001"},
        headers=people.auth("alice"),
    )
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["status"] == "submitted" and body["external_ref"] == "FB-FAKE-0001"
    current = report(db, report_id)
    assert current.state == "filed"
    assert before + timedelta(seconds=6) <= current.deadline_at <= utcnow() + timedelta(seconds=6)
    again = client.post(
        f"/api/v1/filings/{filing.id}/confirm",
        json={"reference_id": "FB-FAKE-0001"},
        headers=people.auth("alice"),
    )
    assert again.status_code == 409
    assert again.json()["detail"][0]["type"] == "filing.not_awaiting_manual"
    empty = client.post(
        f"/api/v1/filings/{filing.id}/confirm",
        json={"reference_id": ""},
        headers=people.auth("alice"),
    )
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "reference_id"]


def test_granting_authority_later_opens_the_filings(client, people, db, sandbox):
    url = f"{sandbox.base_url}/videos/comply-later-{time.monotonic_ns()}"
    report_id = log_url(client, people, url, authority_to_act=False)
    assert filings_of(db, report_id) == []
    case_id = report(db, report_id).case_id
    response = client.patch(
        f"/api/v1/cases/{case_id}", json={"authority_to_act": True}, headers=people.auth("alice")
    )
    assert response.status_code == 200
    [filing] = filings_of(db, report_id)
    assert filing.status == "pending"


def test_email_channel_files_a_notice_with_the_legal_basis_and_no_identity(client, people, db):
    from conftest import reset_settings
    from smtp_sink import CollectingHandler, LoopbackController

    handler = CollectingHandler()
    sink = LoopbackController(handler, hostname="127.0.0.1")
    sink.start()
    reset_settings(TRACKER_SMTP_PORT=str(sink.port))
    try:
        report_id = log_url(
            client,
            people,
            "https://telegram.me/fakechannel/42",
            contact={"name": "Fakename Victimson", "email": "victim@fake.example"},
        )
        [filing] = filings_of(db, report_id)
        assert (filing.adapter, filing.channel_kind) == ("telegram", "email")
        assert filing.channel_params["address"] == "abuse@telegram.org"
        assert jobs.file_filing(filing.id, db=db) == "filed"
        assert jobs.file_filing(filing.id, db=db) == "skipped"
    finally:
        sink.stop()
        reset_settings(TRACKER_SMTP_PORT="1")
    [message] = handler.messages
    assert message["To"] == "abuse@telegram.org"
    text = message.get_content()
    assert "https://t.me/fakechannel/42" in text
    assert "Test rule 1 (platform rung)" in text
    assert "Test helpline" in text
    assert "Victimson" not in text and "victim@fake.example" not in text
    [filing] = filings_of(db, report_id)
    assert filing.status == "submitted" and filing.external_ref.endswith("@takedown-tracker>")


def test_manual_confirmation_in_the_future_is_refused(client, people, db):
    report_id = log_url(
        client, people, "https://www.tiktok.com/@fakeuser/video/7000000000000000000"
    )
    [filing] = filings_of(db, report_id)
    jobs.file_filing(filing.id, db=db)
    response = client.post(
        f"/api/v1/filings/{filing.id}/confirm",
        json={"reference_id": "TT-FAKE-1", "submitted_at": "2999-01-01T00:00:00Z"},
        headers=people.auth("alice"),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "submitted_at"]
    naive = client.post(
        f"/api/v1/filings/{filing.id}/confirm",
        json={"reference_id": "TT-FAKE-1", "submitted_at": "2026-01-01T00:00:00"},
        headers=people.auth("alice"),
    )
    assert naive.status_code == 422
    assert naive.json()["detail"][0]["loc"] == ["body", "submitted_at"]


def test_identity_goes_out_only_when_required_and_consented(client, people, db):
    from tracker.filings.service import claim_for_submission

    def params_for(consent: bool, requires: bool) -> dict:
        report_id = log_url(
            client,
            people,
            f"https://files.example/v/{time.time_ns()}",
            contact={"name": "Fakename Consenting"},
            consent_to_share_identity=consent,
            jurisdictions=["IN"],
        )
        [filing] = filings_of(db, report_id)
        with db.transaction() as session:
            session.execute(
                update(Filing)
                .where(col(Filing.id) == filing.id)
                .values(
                    channel_params={"requires_identity": requires, "identity": "Stored Fakename"}
                )
            )
        with db.transaction() as session:
            claim = claim_for_submission(session=session, filing_id=filing.id)
        return dict(claim.request.channel_params)

    both = params_for(consent=True, requires=True)
    assert both["identity"] == "Fakename Consenting" and both["country"] == "India"
    assert "identity" not in params_for(consent=False, requires=True)
    assert "identity" not in params_for(consent=True, requires=False)
