"""The web-form packet page: every field ready to copy, and recording the submission."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from conftest import new_case
from sqlmodel import select

from tests.console_client import signed_in
from tracker.db import utcnow
from tracker.filings.models import Filing
from tracker.reports.models import Report
from workers import jobs

FACEBOOK = "https://www.facebook.com/fakeprofile/videos/{number}"


def packet_filings(client, people, db, count: int = 1) -> list[int]:
    """Web-form filings awaiting manual submission, in one case of Alice's."""
    case_id = new_case(client, people)
    answer = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": [FACEBOOK.format(number=number) for number in range(1, count + 1)]},
        headers=people.auth("alice"),
    )
    report_ids = [result["report_id"] for result in answer.json()["results"]]
    with db.session() as session:
        filing_ids = list(
            session.exec(
                select(Filing.id)
                .where(Filing.report_id.in_(report_ids))  # type: ignore[union-attr]
                .order_by(Filing.id)
            ).all()
        )
    for filing_id in filing_ids:
        jobs.file_filing(filing_id, db=db)
    return filing_ids


def filing_row(db, filing_id: int) -> Filing:
    with db.session() as session:
        filing = session.get(Filing, filing_id)
        assert filing is not None
        return filing


def test_the_packet_lists_every_field_with_a_copy_button_and_the_form(client, people, db):
    [filing_id] = packet_filings(client, people, db)
    packet = filing_row(db, filing_id).packet
    assert packet is not None
    console = signed_in(client, people, "alice")

    page = console.get(f"/filings/{filing_id}/packet")

    assert page.status_code == 200, page.text
    body = page.text
    assert f"<title>Form packet of filing #{filing_id} ·" in body
    assert (
        f'<a class="button" href="{packet["form_url"]}" rel="noopener noreferrer" '
        'target="_blank" referrerpolicy="no-referrer">'
    ) in body
    assert html.escape(packet["policy_category"]) in body
    labels = re.findall(r'<label for="field-(\d+)">\d+\. ([^<]+)</label>', body)
    assert [html.unescape(name) for _, name in labels] == [
        field["name"] for field in packet["fields"]
    ]
    for number, field in enumerate(packet["fields"], start=1):
        value = re.search(
            rf'<textarea id="field-{number}" readonly[^>]*>\n(.*?)</textarea>', body, re.S
        )
        assert value is not None and html.unescape(value.group(1)) == field["value"]
        assert (
            f'<button type="button" class="copy" data-copy="field-{number}" data-copied="Copied"'
            in body
        )
    assert packet["to_fill"] == ["Country"]
    country = body.split(">4. Country</label>")[0].rsplit('<div class="packet-field', 1)[1]
    assert country.startswith(" to-fill")
    assert "You fill this in" in body.split(">4. Country</label>")[1].split("</div>")[0]
    assert body.count("You fill this in") == 1
    assert 'data-copy="statement"' in body and 'data-copy="our-reference"' in body
    assert '<p id="copy-status" class="offscreen" role="status" aria-live="polite"></p>' in body
    assert f'<form method="post" action="/filings/{filing_id}/confirm"' in body
    assert '<label for="reference_id">' in body and 'id="reference_id" name="reference_id"' in body
    assert 'type="datetime-local"' in body and "In UTC" in body
    assert "the platform has 0 min to act" in body  # the test policy's 6-second first rung


def test_confirming_records_the_reference_and_starts_the_deadline(client, people, db):
    [filing_id] = packet_filings(client, people, db)
    console = signed_in(client, people, "alice")
    console.get(f"/filings/{filing_id}/packet")
    before = utcnow()

    confirmed = console.post(f"/filings/{filing_id}/confirm", {"reference_id": " FB-FAKE-0001 "})

    assert confirmed.status_code == 303
    filing = filing_row(db, filing_id)
    assert confirmed.headers["location"] == f"/reports/{filing.report_id}?done=confirmed"
    assert (filing.status, filing.external_ref) == ("submitted", "FB-FAKE-0001")
    assert before <= filing.submitted_at <= utcnow()
    assert filing.deadline_at == filing.submitted_at + timedelta(seconds=6)
    with db.session() as session:
        report = session.get(Report, filing.report_id)
        assert report is not None and report.state == "filed"
        assert report.deadline_at == filing.deadline_at
    page = console.get(confirmed.headers["location"]).text
    assert "Recorded as submitted. The deadline starts now: due in" in page

    done = console.get(f"/filings/{filing_id}/packet")
    assert done.status_code == 200
    assert "This filing is not waiting for you to submit it." in done.text
    assert "FB-FAKE-0001" in done.text and "/confirm" not in done.text
    again = console.post(f"/filings/{filing_id}/confirm", {"reference_id": "FB-FAKE-0002"})
    assert again.status_code == 409
    assert filing_row(db, filing_id).external_ref == "FB-FAKE-0001"


def test_a_stated_submission_time_is_read_as_utc(client, people, db):
    [filing_id] = packet_filings(client, people, db)
    console = signed_in(client, people, "alice")
    console.get(f"/filings/{filing_id}/packet")
    moment = (utcnow() - timedelta(minutes=2)).replace(second=0, microsecond=0)
    confirmed = console.post(
        f"/filings/{filing_id}/confirm",
        {"reference_id": "FB-FAKE-0003", "submitted_at": moment.strftime("%Y-%m-%dT%H:%M")},
    )
    assert confirmed.status_code == 303
    filing = filing_row(db, filing_id)
    assert filing.submitted_at == moment
    assert filing.deadline_at == moment + timedelta(seconds=6)


def test_bad_input_is_400_naming_the_field_and_records_nothing(client, people, db):
    [filing_id] = packet_filings(client, people, db)
    console = signed_in(client, people, "alice")
    console.get(f"/filings/{filing_id}/packet")
    for data, field in (
        ({"reference_id": ""}, "reference_id"),
        ({"reference_id": "Référence"}, "reference_id"),
        ({"reference_id": "x" * 256}, "reference_id"),
        ({"reference_id": "OK-1", "submitted_at": "yesterday"}, "submitted_at"),
        ({"reference_id": "OK-1", "submitted_at": "2999-01-01T00:00"}, "submitted_at"),
        ({"reference_id": "OK-1", "submitted_at": "2001-01-01T00:00"}, "submitted_at"),
    ):
        refused = console.post(f"/filings/{filing_id}/confirm", data)
        assert refused.status_code == 400, data
        assert f'id="{field}-error"' in refused.text, data
        assert f'id="{field}" name="{field}"' in refused.text
        assert "Nothing was recorded" in refused.text
    future = console.post(
        f"/filings/{filing_id}/confirm",
        {"reference_id": "OK-1", "submitted_at": "2999-01-01T00:00"},
    )
    assert "That time is in the future" in future.text
    assert 'value="OK-1"' in future.text  # what was typed stays
    filing = filing_row(db, filing_id)
    assert (filing.status, filing.external_ref, filing.deadline_at) == (
        "awaiting_manual",
        None,
        None,
    )


def test_a_reference_already_recorded_is_refused_on_its_field(client, people, db):
    first, second = packet_filings(client, people, db, count=2)
    console = signed_in(client, people, "alice")
    console.get(f"/filings/{first}/packet")
    assert console.post(f"/filings/{first}/confirm", {"reference_id": "FB-SAME"}).status_code == 303
    refused = console.post(f"/filings/{second}/confirm", {"reference_id": "FB-SAME"})
    assert refused.status_code == 409
    assert 'id="reference_id-error"' in refused.text
    assert "already recorded on another filing" in refused.text
    assert filing_row(db, second).status == "awaiting_manual"


def test_another_caseworker_can_neither_see_nor_confirm_the_packet(client, people, db):
    [filing_id] = packet_filings(client, people, db)
    bob = signed_in(client, people, "bob")
    assert bob.get(f"/filings/{filing_id}/packet").status_code == 404
    assert (
        bob.post(f"/filings/{filing_id}/confirm", {"reference_id": "HIJACK-1"}).status_code == 404
    )
    assert bob.post(f"/filings/{filing_id}/confirm", {"reference_id": ""}).status_code == 404
    filing = filing_row(db, filing_id)
    assert (filing.status, filing.external_ref) == ("awaiting_manual", None)
    assert bob.get("/filings/999999/packet").status_code == 404
