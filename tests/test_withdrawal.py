"""Consent withdrawn: everything stops, channels are told, the case is erased, counts remain;
and evidence retention after a case closes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import new_case, reset_settings
from console_client import signed_in
from fastapi.testclient import TestClient
from smtp_sink import SmtpSink
from sqlmodel import select

from tracker.audit.models import AuditEvent
from tracker.cases.models import Case
from tracker.db import utcnow
from tracker.filings.models import Filing, FilingStatus, WithdrawalNotice
from tracker.reports.models import Report

CONTACT = {"name": "Fake Person", "email": "fake.person@example.org", "phone": "+00 000 0000"}


def _case_with_everything(client: TestClient, people: Any, sandbox: Any) -> tuple[int, list[int]]:
    case_id = new_case(
        client, people, contact=CONTACT, notes="FAKE NOTE: lives near the fake station"
    )
    urls = [f"{sandbox.base_url}/videos/ignore-withdraw-{index}" for index in range(2)]
    answer = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": urls}, headers=people.auth("alice")
    )
    assert answer.status_code == 200, answer.text
    report_ids = [result["report_id"] for result in answer.json()["results"]]
    note = client.post(
        f"/api/v1/cases/{case_id}/evidence",
        files={"file": ("note.txt", b"FAKE sharer profile: @fake_sharer", "text/plain")},
        headers=people.auth("alice"),
    )
    assert note.status_code == 201, note.text
    with people.db.transaction() as session:
        # A notice that went out by e-mail, naming the person (consent had been given).
        session.add(
            Filing(
                report_id=report_ids[0],
                organisation_id=session.get(Case, case_id).organisation_id,
                rung_index=2,
                rung_target="host",
                adapter="email",
                channel_kind="email",
                status=FilingStatus.SUBMITTED,
                idempotency_key=f"withdraw-test-{case_id}",
                external_ref="<withdraw-test@takedown-tracker>",
                channel_params={
                    "address": "abuse@fake-host.example",
                    "identity": "Fake Person",
                    "urls": urls,
                },
                submitted_at=utcnow(),
            )
        )
    return case_id, report_ids


def test_withdrawal_stops_erases_and_keeps_only_counts(
    client: TestClient, people: Any, sandbox: Any
) -> None:
    from tracker.cases.keys import CaseKeyDestroyed, case_cipher

    case_id, report_ids = _case_with_everything(client, people, sandbox)
    alice = people.auth("alice")
    unconfirmed = client.post(
        f"/api/v1/cases/{case_id}/withdraw", json={"confirm": False}, headers=alice
    )
    assert unconfirmed.status_code == 422
    assert unconfirmed.json()["detail"][0]["loc"] == ["body", "confirm"]
    assert client.post(
        f"/api/v1/cases/{case_id}/withdraw", json={"confirm": True}, headers=people.auth("bob")
    ).status_code == 404
    answer = client.post(f"/api/v1/cases/{case_id}/withdraw", json={"confirm": True}, headers=alice)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "case_id": case_id,
        "reports_closed": 2,
        "filings_withdrawn": answer.json()["filings_withdrawn"],
        "notices_due": 1,
        "evidence_purged": 1,
    }
    again = client.post(f"/api/v1/cases/{case_id}/withdraw", json={"confirm": True}, headers=alice)
    assert again.status_code == 409

    case = client.get(f"/api/v1/cases/{case_id}", headers=alice).json()
    assert case["contact"] is None and case["notes"] is None
    assert case["label"] == f"Withdrawn case #{case_id}" and case["status"] == "closed"
    with people.db.session() as session:
        with pytest.raises(CaseKeyDestroyed):
            case_cipher(session=session, case_id=case_id)
        reports = session.exec(select(Report).where(Report.case_id == case_id)).all()
        assert {report.state for report in reports} == {"closed"}
        assert all(report.canonical_url.startswith("erased:") for report in reports)
        assert all("withdraw" not in report.original_url for report in reports)
        filing = session.exec(
            select(Filing).where(Filing.idempotency_key == f"withdraw-test-{case_id}")
        ).one()
        assert filing.withdrawal_notice == WithdrawalNotice.DUE
        assert filing.channel_params == {"address": "abuse@fake-host.example"}
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "case.withdrawn")
        ).one()
        assert event.object_id == case_id and event.details["reports_closed"] == 2
        text = str(event.details)
        assert "Fake" not in text and "withdraw-" not in text
    # Evidence is gone for reading; counts remain for the organisation.
    listed = client.get(f"/api/v1/cases/{case_id}/evidence", headers=alice).json()
    for item in listed.get("items", listed if isinstance(listed, list) else []):
        content = client.get(f"/api/v1/evidence/{item['id']}/content", headers=alice)
        assert content.status_code in (404, 409, 410), content.text
    summary = client.get("/api/v1/summary", headers=people.auth("dashboard")).json()
    assert summary["by_state"].get("closed", 0) >= 2
    reports_listed = client.get(f"/api/v1/reports?case_id={case_id}", headers=alice).json()
    assert reports_listed["total"] == 2
    assert "withdraw-0" not in str(reports_listed)


def test_the_withdrawal_notice_reaches_the_channel_without_url_or_identity(
    client: TestClient, people: Any, sandbox: Any, smtp_sink: SmtpSink
) -> None:
    from workers.jobs import send_withdrawal
    from workers.scheduler import sweep_withdrawals

    case_id, _ = _case_with_everything(client, people, sandbox)
    answer = client.post(
        f"/api/v1/cases/{case_id}/withdraw", json={"confirm": True}, headers=people.auth("alice")
    )
    assert answer.status_code == 200
    reset_settings(TRACKER_SMTP_HOST="127.0.0.1", TRACKER_SMTP_PORT=str(smtp_sink.port))
    try:
        from tracker.jobs import install_dispatcher
        from tracker.settings import get_settings

        sent: list[int] = []
        install_dispatcher(lambda kind, args: sent.append(args[0]))
        assert sweep_withdrawals(people.db, get_settings()) == 1
        install_dispatcher(None)
        assert send_withdrawal(sent[0], db=people.db) == "sent"
        assert send_withdrawal(sent[0], db=people.db) == "skipped"  # exactly once
    finally:
        reset_settings(TRACKER_SMTP_HOST="127.0.0.1", TRACKER_SMTP_PORT="2525")
    [message] = smtp_sink.handler.sent_to("abuse@fake-host.example")[-1:]
    assert message["Subject"].startswith("Withdrawn: our removal request")
    assert message["In-Reply-To"] == f"<withdraw-test-{case_id}@takedown-tracker>"
    body = message.get_content()
    assert "Fake Person" not in body and "/videos/" not in body and "withdrawn" in body


def test_withdrawing_from_the_console_needs_the_box_ticked(
    client: TestClient, people: Any, sandbox: Any
) -> None:
    case_id = new_case(client, people, contact=CONTACT)
    console = signed_in(client, people, "alice")
    page = console.get(f"/cases/{case_id}")
    assert f'action="/cases/{case_id}/withdraw"' in page.text
    refused = console.post(f"/cases/{case_id}/withdraw", {})
    assert refused.status_code == 400 and "confirm" in refused.text
    done = console.post(f"/cases/{case_id}/withdraw", {"confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"].endswith("?done=withdrawn")
    after = console.get(f"/cases/{case_id}?done=withdrawn")
    assert "Fake Person" not in after.text and "Consent was withdrawn" in after.text


def test_evidence_is_purged_after_the_retention_period_of_a_closed_case(
    client: TestClient, people: Any
) -> None:
    from tracker.evidence.retention import purge_expired_evidence

    case_id = new_case(client, people)
    alice = people.auth("alice")
    note = client.post(
        f"/api/v1/cases/{case_id}/evidence",
        files={"file": ("note.txt", b"FAKE note", "text/plain")},
        headers=alice,
    )
    assert note.status_code == 201, note.text
    closed = client.patch(f"/api/v1/cases/{case_id}", json={"status": "closed"}, headers=alice)
    assert closed.status_code == 200
    with people.db.transaction() as session:
        assert purge_expired_evidence(session=session, days=30) == 0  # closed just now
        case = session.get(Case, case_id)
        assert case.closed_at is not None
        case.closed_at = utcnow() - timedelta(days=31)
        session.add(case)
    with people.db.transaction() as session:
        assert purge_expired_evidence(session=session, days=30) == 1
    content = client.get(f"/api/v1/evidence/{note.json()['id']}/content", headers=alice)
    assert content.status_code in (404, 409, 410), content.text
    with people.db.session() as session:
        purged = session.exec(
            select(AuditEvent).where(AuditEvent.object_id == case_id)
        ).all()
        assert any("purge" in event.action for event in purged)
    # Reopening stops the count.
    reopened = client.patch(f"/api/v1/cases/{case_id}", json={"status": "open"}, headers=alice)
    assert reopened.status_code == 200
    with people.db.session() as session:
        assert session.get(Case, case_id).closed_at is None
