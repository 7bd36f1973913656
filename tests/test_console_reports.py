"""The report page: facts, the whole timeline newest first, the ladder, and its actions."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta

from conftest import new_case
from sqlalchemy import func, update
from sqlmodel import col, select

from tests.console_client import signed_in
from tracker.audit.models import AuditEvent
from tracker.checks.models import Check
from tracker.db import utcnow
from tracker.filings.models import Filing
from tracker.notifications.models import NotificationKind
from tracker.notifications.service import notify
from tracker.reports.models import Report
from workers import jobs


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def filed_report(client, people, db, sandbox) -> int:
    """A report on the sandbox platform, filed (one attempt), checked once, notified once."""
    case_id = new_case(client, people)
    url = f"{sandbox.base_url}/videos/comply-page-{time.monotonic_ns()}"
    answer = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": [url]}, headers=people.auth("alice")
    )
    report_id = answer.json()["results"][0]["report_id"]
    with db.session() as session:
        [filing_id] = session.exec(select(Filing.id).where(Filing.report_id == report_id)).all()
    assert jobs.file_filing(filing_id, db=db) == "filed"
    with db.transaction() as session:
        session.add(
            Check(
                report_id=report_id,
                checked_at=utcnow() + timedelta(seconds=1),
                http_status=200,
                final_url="https://final.example/never-shown",
                verdict="live",
                reason="status 200",
                fingerprint="f1ngerpr1nt-never-shown",
            )
        )
        report = session.get(Report, report_id)
        notification = notify(
            session=session,
            report=report,
            kind=NotificationKind.DEADLINE_WARNING,
            message="The deadline of report is near (fake message)",
        )
        notification.created_at = utcnow() + timedelta(seconds=2)
        session.add(notification)
    return report_id


def state_of(db, report_id: int) -> Report:
    with db.session() as session:
        report = session.get(Report, report_id)
        assert report is not None
        return report


def audit_count(db) -> int:
    with db.session() as session:
        return session.exec(select(func.count()).select_from(AuditEvent)).one()


def test_the_page_shows_facts_every_timeline_kind_and_the_ladder(client, people, db, sandbox):
    report_id = filed_report(client, people, db, sandbox)
    report = state_of(db, report_id)
    console = signed_in(client, people, "alice")

    page = console.get(f"/reports/{report_id}")

    assert page.status_code == 200, page.text
    body = page.text
    assert f"<title>Report #{report_id} ·" in body
    assert f'<span class="url">{report.canonical_url}</span>' in body
    assert f'<a href="/cases/{report.case_id}">Case #{report.case_id}</a>' in body
    assert 'class="badge state-filed"' in body
    assert "Step 1 of 3: The platform" in text_of(body)
    assert "due in" in text_of(body)
    assert "Clock Running" in text_of(body)
    # The timeline, newest first: notification, check, filing (with its attempt), transitions.
    kinds = re.findall(r'<li class="event-(\w+)">', body)
    assert kinds == ["notification", "check", "transition", "filing", "transition"]
    timeline = text_of(body.split('class="timeline report-timeline"')[1].split("</ol>")[0])
    assert "Notification: Deadline soon The deadline of report is near (fake message)" in timeline
    assert "Checked Still online · HTTP status 200" in timeline
    assert "Logged, not filed yet → Reported, waiting for the platform" in timeline
    assert "Sent to The platform Channel platform reporting API Status Sent" in timeline
    assert "Platform reference SBX-" in timeline
    assert "Succeeded" in timeline
    assert "Logged: Logged, not filed yet Why: URL logged" in timeline
    assert "never-shown" not in body  # no fingerprint, no final URL: nothing of the content
    # The ladder: current rung marked, the others ahead.
    ladder = body.split('<ol class="ladder">')[1].split("</ol>")[0]
    items = re.findall(r'<li( class="\w+")?( aria-current="step")?>', ladder)
    assert items == [(' class="current"', ' aria-current="step"'), ("", ""), ("", "")]
    assert "Test rule 2 (grievance officer rung)" in ladder

    with db.transaction() as session:
        session.execute(update(Report).where(col(Report.id) == report_id).values(rung_index=1))
    later = console.get(f"/reports/{report_id}").text
    ladder = later.split('<ol class="ladder">')[1].split("</ol>")[0]
    assert re.findall(r'<li(?: class="(\w+)")?', ladder) == ["done", "current", ""]
    assert "Done" in ladder and "Current step" in ladder


def test_recheck_pause_and_resume_through_the_forms(client, people, db, sandbox):
    report_id = filed_report(client, people, db, sandbox)
    with db.transaction() as session:
        session.execute(
            update(Report)
            .where(col(Report.id) == report_id)
            .values(next_check_at=utcnow() + timedelta(days=1))
        )
    console = signed_in(client, people, "alice")
    console.get(f"/reports/{report_id}")

    rechecked = console.post(f"/reports/{report_id}/recheck")
    assert rechecked.status_code == 303
    assert rechecked.headers["location"] == f"/reports/{report_id}?done=rechecked"
    assert state_of(db, report_id).next_check_at <= utcnow()
    assert "A check is due now" in console.get(rechecked.headers["location"]).text

    paused = console.post(f"/reports/{report_id}/pause", {"reason": "waiting_for_victim"})
    assert paused.status_code == 303
    report = state_of(db, report_id)
    assert (report.state, report.pause_reason) == ("paused", "waiting_for_victim")
    page = console.get(paused.headers["location"]).text
    assert "The clock is paused." in page
    assert "Paused: Waiting for the person we help" in text_of(page)
    assert f'action="/reports/{report_id}/resume"' in page
    assert f'action="/reports/{report_id}/pause"' not in page

    again = console.post(f"/reports/{report_id}/pause", {"reason": "waiting_for_victim"})
    assert again.status_code == 409
    assert "That cannot be done now: a paused report cannot be paused" in text_of(again.text)
    assert f"<title>Report #{report_id}" in again.text

    resumed = console.post(f"/reports/{report_id}/resume", {"next": f"/cases/{report.case_id}"})
    assert resumed.status_code == 303
    assert resumed.headers["location"] == f"/cases/{report.case_id}?done=resumed"
    assert state_of(db, report_id).state == "filed"
    elsewhere = console.post(f"/reports/{report_id}/recheck", {"next": "//evil.example/x"})
    assert elsewhere.headers["location"] == "/?done=rechecked"


def test_an_unknown_pause_reason_is_400_naming_the_field(client, people, db, sandbox):
    report_id = filed_report(client, people, db, sandbox)
    console = signed_in(client, people, "alice")
    console.get(f"/reports/{report_id}")
    before = audit_count(db)
    for data in ({"reason": "bored"}, {}):
        refused = console.post(f"/reports/{report_id}/pause", data)
        assert refused.status_code == 400
        assert 'id="reason-error"' in refused.text
        assert "field “reason”" in refused.text
    assert state_of(db, report_id).state == "filed"
    assert audit_count(db) == before


def test_another_caseworker_cannot_open_or_act_on_the_report(client, people, db, sandbox):
    report_id = filed_report(client, people, db, sandbox)
    bob = signed_in(client, people, "bob")
    before = state_of(db, report_id)
    events = audit_count(db)
    assert bob.get(f"/reports/{report_id}").status_code == 404
    for action, data in (
        ("recheck", {}),
        ("pause", {"reason": "waiting_for_victim"}),
        ("pause", {"reason": "bored"}),
        ("resume", {}),
    ):
        assert bob.post(f"/reports/{report_id}/{action}", data).status_code == 404, action
    after = state_of(db, report_id)
    assert (after.state, after.next_check_at, after.updated_at) == (
        before.state,
        before.next_check_at,
        before.updated_at,
    )
    assert audit_count(db) == events
    supervisor = signed_in(client, people, "supervisor")
    assert supervisor.get(f"/reports/{report_id}").status_code == 200


def test_an_awaiting_manual_report_links_to_its_packet(client, people, db):
    case_id = new_case(client, people)
    answer = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": ["https://www.facebook.com/fakeprofile/videos/1234567890"]},
        headers=people.auth("alice"),
    )
    report_id = answer.json()["results"][0]["report_id"]
    with db.session() as session:
        [filing_id] = session.exec(select(Filing.id).where(Filing.report_id == report_id)).all()
    jobs.file_filing(filing_id, db=db)
    console = signed_in(client, people, "alice")
    page = console.get(f"/reports/{report_id}").text
    assert f'<a href="/filings/{filing_id}/packet">' in page
    assert "A web form is ready for you to submit." in page
