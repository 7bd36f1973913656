"""The case pages: the list (filters, search, pages; and the API's filters), opening a case,
the case page (contact on request, audited; the reports table and its fragment), its actions,
and who may see what."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from conftest import new_case
from console_client import ConsoleClient, signed_in
from sqlalchemy import delete
from sqlmodel import col, func, select
from test_console_queue import (
    add_urls,
    check,
    filed_report,
    filings_of,
    packet_filing,
    report_row,
    sandbox_url,
    set_deadline,
)

from tracker.audit.models import AuditEvent
from tracker.cases.models import Case
from tracker.cases.service import contact_of
from tracker.policies.models import PolicyVersion

CONTACT = {"name": "Fake Person", "email": "fake.person@example.com", "phone": "+44 7700 900123"}
NOTES = "Prefers e-mail. FAKE-NOTE-7"
ROW_IDS = re.compile(r'<td data-label="Case"><a href="/cases/(\d+)">')


def listed(console: ConsoleClient, query: str = "") -> list[int]:
    """The case ids the list shows for a query string, in order."""
    response = console.get(f"/cases{query}")
    assert response.status_code == 200, response.text
    return [int(found) for found in ROW_IDS.findall(response.text)]


def api_ids(client: Any, people: Any, query: str, who: str = "alice") -> list[int]:
    response = client.get(f"/api/v1/cases{query}", headers=people.auth(who))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def case_row(db: Any, case_id: int) -> Case:
    with db.session() as session:
        found = session.get(Case, case_id)
        assert found is not None
        return found


def count(db: Any, model: Any, *where: Any) -> int:
    with db.session() as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def contact_views(db: Any, case_id: int) -> int:
    return count(
        db,
        AuditEvent,
        col(AuditEvent.action) == "case.contact_viewed",
        col(AuditEvent.object_id) == case_id,
    )


def is_not_found(response: Any) -> bool:
    return response.status_code == 404 and "<h1>\nNot found" in response.text


# -- the list -----------------------------------------------------------------------------------


@pytest.fixture
def cases(client, people, db, sandbox):
    """Alice: red (a filed sandbox report, overdue), blue (a TikTok packet), grey (closed);
    Bob: one case of his own."""
    red = new_case(client, people, "alice", label="Case Alpha-RED")
    blue = new_case(client, people, "alice", label="Case Beta-blue")
    grey = new_case(client, people, "alice", label="Case Gamma-grey")
    overdue = filed_report(client, people, db, sandbox, red)
    set_deadline(db, overdue, -timedelta(hours=1))
    packet = packet_filing(client, people, db, blue, 7)
    confirmed = client.post(
        f"/api/v1/filings/{packet.id}/confirm",
        json={"reference_id": "FAKE-REF-0042"},
        headers=people.auth("alice"),
    )
    assert confirmed.status_code == 200, confirmed.text
    assert (
        client.patch(
            f"/api/v1/cases/{grey}", json={"status": "closed"}, headers=people.auth("alice")
        ).status_code
        == 200
    )
    bob = new_case(client, people, "bob", label="Case Alpha-BOB")
    return {"red": red, "blue": blue, "grey": grey, "bob": bob}


def test_the_list_shows_the_persons_cases_with_counts_and_never_bobs(client, people, cases):
    alice = signed_in(client, people, "alice")
    page = alice.get("/cases").text
    assert [int(x) for x in ROW_IDS.findall(page)] == [cases["grey"], cases["blue"], cases["red"]]
    assert "<h2>3 cases</h2>" in page and "Case Alpha-BOB" not in page
    red_row = page[page.index(f'href="/cases/{cases["red"]}"') :].split("</tr>")[0]
    assert '<td data-label="Reports">1</td>' in red_row
    assert '<span class="overdue">1 overdue</span>' in red_row
    assert '<td data-label="Assigned to">Test alice</td>' in red_row
    assert listed(alice, f"?q={cases['bob']}") == []


def test_filter_by_status(client, people, cases):
    alice = signed_in(client, people, "alice")
    assert listed(alice, "?status=open") == [cases["blue"], cases["red"]]
    assert listed(alice, "?status=closed") == [cases["grey"]]


def test_filter_by_report_state(client, people, cases):
    alice = signed_in(client, people, "alice")
    assert listed(alice, "?report_state=filed") == [cases["blue"], cases["red"]]
    assert listed(alice, "?report_state=removed") == []
    assert api_ids(client, people, "?report_state=filed") == [cases["blue"], cases["red"]]


def test_filter_by_platform(client, people, cases):
    alice = signed_in(client, people, "alice")
    assert listed(alice, "?platform=tiktok") == [cases["blue"]]
    assert listed(alice, "?platform=sandbox") == [cases["red"]]
    assert api_ids(client, people, "?platform=tiktok") == [cases["blue"]]


def test_filter_by_overdue(client, people, cases):
    alice = signed_in(client, people, "alice")
    assert listed(alice, "?overdue=true") == [cases["red"]]
    assert listed(alice, "?overdue=false") == [cases["grey"], cases["blue"]]
    assert api_ids(client, people, "?overdue=true") == [cases["red"]]
    assert api_ids(client, people, "?overdue=false") == [cases["grey"], cases["blue"]]


def test_filter_by_assignee_for_supervisors(client, people, cases):
    supervisor = signed_in(client, people, "supervisor")
    assert listed(supervisor, f"?assigned_to={people.ids['bob']}") == [cases["bob"]]
    assert listed(supervisor, f"?assigned_to={people.ids['alice']}&status=open") == [
        cases["blue"],
        cases["red"],
    ]
    client.cookies.clear()
    alice = signed_in(client, people, "alice")  # her list is her own whatever she asks
    assert listed(alice, f"?assigned_to={people.ids['bob']}") == [
        cases["grey"],
        cases["blue"],
        cases["red"],
    ]


def test_search_by_label_any_case_and_wildcards_taken_literally(client, people, cases):
    alice = signed_in(client, people, "alice")
    assert listed(alice, "?q=alpha-r") == [cases["red"]]
    assert listed(alice, "?q=BLUE") == [cases["blue"]]
    assert listed(alice, "?q=%25") == [] and listed(alice, "?q=_") == []
    assert api_ids(client, people, "?q=alpha") == [cases["red"]]  # not Bob's Alpha-BOB


def test_search_by_case_id(client, people, cases):
    alice = signed_in(client, people, "alice")
    assert listed(alice, f"?q={cases['blue']}") == [cases["blue"]]
    assert listed(alice, f"?q=%23{cases['blue']}") == [cases["blue"]]
    assert api_ids(client, people, f"?q=%23{cases['red']}") == [cases["red"]]


def test_search_by_platform_reference(client, people, cases):
    alice = signed_in(client, people, "alice")
    assert listed(alice, "?q=FAKE-REF-0042") == [cases["blue"]]
    assert listed(alice, "?q=FAKE-REF") == []  # a reference matches exactly
    assert api_ids(client, people, "?q=FAKE-REF-0042") == [cases["blue"]]
    assert api_ids(client, people, "?q=FAKE-REF-0042", who="bob") == []


def test_pagination_keeps_the_filters(client, people, db, monkeypatch):
    from tracker.console.pages import cases as page

    monkeypatch.setattr(page, "PAGE_SIZE", 2)
    ids = [new_case(client, people, "alice", label=f"Case Page-{n}") for n in "abc"]
    new_case(client, people, "alice", label="Case Other")
    alice = signed_in(client, people, "alice")
    first = alice.get("/cases?status=open&q=page").text
    assert [int(x) for x in ROW_IDS.findall(first)] == ids[::-1][:2]
    assert "Cases 1 to 2 of 3" in first and 'rel="prev"' not in first
    [next_link] = re.findall(r'<a href="([^"]+)" rel="next">', first)
    assert next_link == "/cases?status=open&amp;q=page&amp;offset=2"
    second = alice.get(next_link.replace("&amp;", "&")).text
    assert [int(x) for x in ROW_IDS.findall(second)] == [ids[0]]
    [previous] = re.findall(r'<a href="([^"]+)" rel="prev">', second)
    assert previous == "/cases?status=open&amp;q=page"
    api = client.get("/api/v1/cases?q=page&limit=2&offset=2", headers=people.auth("alice"))
    assert api.json()["total"] == 3 and [i["id"] for i in api.json()["items"]] == [ids[0]]


def test_a_filter_it_cannot_use_is_named_with_a_400(client, people, db):
    alice = signed_in(client, people, "alice")
    bad_status = alice.get("/cases?status=archived")
    assert bad_status.status_code == 400
    assert 'id="error-status"' in bad_status.text and "Choose open or closed" in bad_status.text
    long_search = alice.get("/cases?q=" + "x" * 121)
    assert long_search.status_code == 400 and 'id="error-q"' in long_search.text
    control = alice.get("/cases?q=a%00b")
    assert control.status_code == 400 and 'id="error-q"' in control.text
    assert alice.get("/cases?offset=abc").status_code == 200  # an odd offset is page one
    api = client.get("/api/v1/cases?q=" + "x" * 121, headers=people.auth("alice"))
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["query", "q"]
    state = client.get("/api/v1/cases?report_state=gone", headers=people.auth("alice"))
    assert state.status_code == 422
    assert state.json()["detail"][0]["loc"] == ["query", "report_state"]


def test_the_api_documents_the_new_filters(client):
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/cases"]["get"]
    parameters = {item["name"]: item for item in operation["parameters"]}
    assert {"report_state", "platform", "overdue", "q"} <= set(parameters)
    assert parameters["q"]["schema"]["anyOf"][0]["maxLength"] == 120
    for name in ("report_state", "platform", "overdue", "q", "status"):
        assert parameters[name]["description"], name
    assert "case id" in parameters["q"]["description"]


# -- opening a case -----------------------------------------------------------------------------


def new_case_form(**fields: Any) -> dict[str, Any]:
    form: dict[str, Any] = {"label": "Case FAKE-FORM", "jurisdictions": ["TEST"]}
    form.update(fields)
    return form


def test_opening_a_case_through_the_form(client, people, db):
    alice = signed_in(client, people, "alice")
    assert alice.get("/cases/new").status_code == 200
    response = alice.post(
        "/cases/new",
        new_case_form(
            jurisdictions=["TEST", "IN"],
            authority_to_act="yes",
            minor_involved="yes",
            assigned_to=str(people.ids["bob"]),  # a caseworker's case is her own
            contact_name=CONTACT["name"],
            contact_email=CONTACT["email"],
            notes=NOTES,
        ),
    )
    assert response.status_code == 303, response.text
    [case_id] = re.findall(r"^/cases/(\d+)\?done=created$", response.headers["location"])
    case = case_row(db, int(case_id))
    assert (case.label, case.jurisdictions) == ("Case FAKE-FORM", ["TEST", "IN"])
    assert (case.authority_to_act, case.minor_involved, case.consent_to_share_identity) == (
        True,
        True,
        False,
    )
    assert case.assigned_to == people.ids["alice"]
    with db.session() as session:
        contact = contact_of(session=session, case=case)
    assert contact is not None
    assert (contact.name, contact.email, contact.phone) == (CONTACT["name"], CONTACT["email"], None)
    page = alice.get(response.headers["location"]).text
    assert "The case is open." in page and CONTACT["name"] not in page


def test_a_supervisor_chooses_who_the_case_is_for(client, people, db):
    supervisor = signed_in(client, people, "supervisor")
    form = supervisor.get("/cases/new").text
    assert f'<option value="{people.ids["bob"]}"' in form
    assert f'<option value="{people.ids["dashboard"]}"' not in form  # not a person's role
    response = supervisor.post("/cases/new", new_case_form(assigned_to=str(people.ids["bob"])))
    assert response.status_code == 303
    case_id = int(response.headers["location"].split("/")[2].split("?")[0])
    assert case_row(db, case_id).assigned_to == people.ids["bob"]
    refused = supervisor.post("/cases/new", new_case_form(assigned_to=str(people.ids["outsider"])))
    assert refused.status_code == 400 and 'id="error-assigned_to"' in refused.text


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"label": "   "}, "label", "Give the case a label on one line"),
        ({"label": "x" * 121}, "label", "at most 120 characters"),
        ({"label": "Case\nTwo lines"}, "label", "Give the case a label on one line"),
        ({"jurisdictions": []}, "jurisdictions", "Choose one to five jurisdictions"),
        ({"jurisdictions": ["XX"]}, "jurisdictions", "No policy is in force"),
        ({"jurisdictions": ["victim@example.invalid"]}, "jurisdictions", "Choose one to five"),
        ({"contact_email": "not-an-address"}, "contact_email", "does not look right"),
        ({"contact_phone": "call me"}, "contact_phone", "A phone number has"),
        ({"notes": "a\x00b"}, "notes", "without control characters"),
    ],
)
def test_a_refused_field_is_named_with_a_400_and_nothing_is_written(
    client, people, db, fields, field, message
):
    alice = signed_in(client, people, "alice")
    response = alice.post("/cases/new", new_case_form(contact_name="Kept Value", **fields))
    assert response.status_code == 400
    error = re.search(
        rf'<p class="field-error" id="error-{field}" role="alert">(.*?)</p>', response.text
    )
    assert error and message in error.group(1), response.text[-3000:]
    assert 'value="Kept Value"' in response.text  # what was typed stays in the form
    assert count(db, Case) == 0
    assert count(db, AuditEvent, col(AuditEvent.action) == "case.created") == 0


def test_the_jurisdictions_offered_are_those_with_a_policy_in_force(client, people, db):
    future = PolicyVersion(
        policy_id="fake-future",
        version=1,
        jurisdiction="FUTURE",
        title="A policy not yet in force",
        effective_from=date.today() + timedelta(days=30),
        source="test",
        document={},
    )
    with db.transaction() as session:
        session.add(future)
    try:
        with db.session() as session:
            in_force = sorted(
                {
                    row.jurisdiction
                    for row in session.exec(select(PolicyVersion)).all()
                    # CHILD is taken by a case involving a minor, never chosen in the form.
                    if row.effective_from <= date.today() and row.jurisdiction != "CHILD"
                }
            )
        alice = signed_in(client, people, "alice")
        form = alice.get("/cases/new").text
        offered = re.findall(r'name="jurisdictions" value="([^"]+)"', form)
        assert offered == in_force and "TEST" in offered and "FUTURE" not in offered
        refused = alice.post("/cases/new", new_case_form(jurisdictions=["FUTURE"]))
        assert refused.status_code == 400 and "No policy is in force" in refused.text
    finally:
        with db.transaction() as session:
            session.execute(
                delete(PolicyVersion).where(col(PolicyVersion.jurisdiction) == "FUTURE")
            )


# -- the case page ------------------------------------------------------------------------------


def test_another_caseworkers_case_is_the_404_page(client, people, db):
    bobs = new_case(client, people, "bob", label="Case FAKE-BOBS")
    alice = signed_in(client, people, "alice")
    for path in (f"/cases/{bobs}", f"/cases/{bobs}/reports", "/cases/2147483648", "/cases/abc"):
        response = alice.get(path)
        assert is_not_found(response), path
        assert "Case FAKE-BOBS" not in response.text
    for action in ("close", "authority", "contact"):
        assert is_not_found(alice.post(f"/cases/{bobs}/{action}")), action
    assert case_row(db, bobs).status == "open" and not contact_views(db, bobs)
    assert "Case FAKE-BOBS" not in alice.get("/cases").text


def test_contact_details_only_on_request_and_each_look_is_audited(client, people, db):
    case_id = new_case(client, people, "alice", contact=CONTACT, notes=NOTES)
    alice = signed_in(client, people, "alice")
    page = alice.get(f"/cases/{case_id}").text
    for secret in (*CONTACT.values(), NOTES):
        assert secret not in page
    assert contact_views(db, case_id) == 0
    revealed = alice.post(f"/cases/{case_id}/contact")
    assert revealed.status_code == 200 and revealed.headers["cache-control"] == "no-store"
    for secret in (*CONTACT.values(), NOTES):
        assert secret in revealed.text
    assert "<title>Contact details of case #" in revealed.text
    assert CONTACT["name"] not in revealed.text.split("</title>")[0]
    with db.session() as session:
        [event] = session.exec(
            select(AuditEvent).where(AuditEvent.action == "case.contact_viewed")
        ).all()
    assert (event.actor, event.object_type, event.object_id) == (
        f"user:{people.ids['alice']}",
        "case",
        case_id,
    )
    assert CONTACT["email"] not in str(event.details)
    by_link = alice.get(f"/cases/{case_id}/contact", follow_redirects=False)
    assert by_link.status_code == 303 and by_link.headers["location"] == f"/cases/{case_id}"
    assert contact_views(db, case_id) == 1


def test_the_reports_table_follows_the_checks(client, people, db, sandbox):
    case_id = new_case(client, people, "alice")
    report_id = filed_report(client, people, db, sandbox, case_id)
    set_deadline(db, report_id, timedelta(hours=2))
    alice = signed_in(client, people, "alice")
    page = alice.get(f"/cases/{case_id}").text
    fragment = alice.get(f"/cases/{case_id}/reports").text
    assert fragment.startswith('\n<div id="case-reports"') or fragment.startswith(
        '<div id="case-reports"'
    )
    assert "<html" not in fragment and fragment.strip() in page
    polling = f'hx-get="/cases/{case_id}/reports" hx-trigger="every 5s" hx-swap="outerHTML"'
    assert 'aria-live="polite"' in fragment and polling in fragment
    assert "Reported, waiting for the platform" in fragment
    assert '<td data-label="Current step">The platform</td>' in fragment
    assert re.search(r'class="due-soon">due in 1 h 5\d min<', fragment)
    assert "Not checked yet" in fragment
    assert f'action="/reports/{report_id}/pause"' in fragment
    assert f'name="next" value="/cases/{case_id}"' in fragment
    check(db, report_id, "live")
    assert "Still online" in alice.get(f"/cases/{case_id}/reports").text
    check(db, report_id, "removed")
    check(db, report_id, "removed")
    assert report_row(db, report_id).state == "removed"
    after = alice.get(f"/cases/{case_id}/reports").text
    assert '<span class="badge state-removed">Removed</span>' in after and "Gone" in after
    assert f'action="/reports/{report_id}/pause"' not in after
    assert alice.post(f"/cases/{case_id}/close").status_code == 303
    closed = alice.get(f"/cases/{case_id}/reports").text
    assert "hx-trigger" not in closed and 'id="case-reports"' in closed


def test_close_and_reopen(client, people, db):
    case_id = new_case(client, people, "alice")
    alice = signed_in(client, people, "alice")
    closed = alice.post(f"/cases/{case_id}/close")
    assert closed.headers["location"] == f"/cases/{case_id}?done=closed"
    assert case_row(db, case_id).status == "closed"
    page = alice.get(closed.headers["location"]).text
    assert "The case is closed." in page and f'action="/cases/{case_id}/reopen"' in page
    assert f'href="/cases/{case_id}/urls"' not in page
    reopened = alice.post(f"/cases/{case_id}/reopen")
    assert reopened.headers["location"] == f"/cases/{case_id}?done=reopened"
    assert case_row(db, case_id).status == "open"


def test_granting_authority_files_the_held_reports(client, people, db, sandbox):
    case_id = new_case(client, people, "alice", authority_to_act=False)
    held = add_urls(client, people, case_id, [sandbox_url(sandbox), sandbox_url(sandbox)])
    assert [report_row(db, r).hold_reason for r in held] == ["no_authority_to_act"] * 2
    assert all(filings_of(db, r) == [] for r in held)
    alice = signed_in(client, people, "alice")
    assert "Not filed: the case has no authority to act yet" in alice.get(f"/cases/{case_id}").text
    response = alice.post(f"/cases/{case_id}/authority")
    assert response.headers["location"] == f"/cases/{case_id}?done=authority&filed=2"
    for report_id in held:
        [filing] = filings_of(db, report_id)
        assert (filing.status, filing.track, filing.rung_index) == ("pending", "ladder", 0)
        assert report_row(db, report_id).hold_reason is None
    assert case_row(db, case_id).authority_to_act is True
    page = alice.get(response.headers["location"]).text
    assert "2 waiting reports are being filed now." in page
    again = alice.post(f"/cases/{case_id}/authority")  # nothing more to file
    assert again.headers["location"].endswith("filed=0")
    assert all(len(filings_of(db, r)) == 1 for r in held)


def test_only_a_supervisor_assigns(client, people, db):
    case_id = new_case(client, people, "alice")
    alice = signed_in(client, people, "alice")
    assert f'action="/cases/{case_id}/assign"' not in alice.get(f"/cases/{case_id}").text
    refused = alice.post(f"/cases/{case_id}/assign", {"assigned_to": str(people.ids["bob"])})
    assert refused.status_code == 403 and "Not available to you" in refused.text
    assert case_row(db, case_id).assigned_to == people.ids["alice"]
    client.cookies.clear()
    supervisor = signed_in(client, people, "supervisor")
    bad = supervisor.post(f"/cases/{case_id}/assign", {"assigned_to": str(people.ids["dashboard"])})
    assert bad.status_code == 400 and "was not reassigned" in bad.text
    assert case_row(db, case_id).assigned_to == people.ids["alice"]
    done = supervisor.post(f"/cases/{case_id}/assign", {"assigned_to": str(people.ids["bob"])})
    assert done.headers["location"] == f"/cases/{case_id}?done=assigned"
    assert case_row(db, case_id).assigned_to == people.ids["bob"]
    assert "now assigned to Test bob" in supervisor.get(done.headers["location"]).text


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(client, people, db):
    case_id = new_case(client, people, "alice", contact=CONTACT, authority_to_act=False)
    alice = signed_in(client, people, "alice")
    for path, data in [
        (f"/cases/{case_id}/close", {}),
        (f"/cases/{case_id}/authority", {}),
        (f"/cases/{case_id}/contact", {}),
        ("/cases/new", new_case_form()),
    ]:
        response = alice.client.post(path, data=data, follow_redirects=False)
        assert response.status_code == 403 and "The form was too old" in response.text, path
        assert CONTACT["name"] not in response.text
    case = case_row(db, case_id)
    assert (case.status, case.authority_to_act) == ("open", False)
    assert contact_views(db, case_id) == 0 and count(db, Case) == 1


def test_the_row_actions_come_back_to_the_case_page(client, people, db, sandbox):
    case_id = new_case(client, people, "alice")
    report_id = filed_report(client, people, db, sandbox, case_id)
    alice = signed_in(client, people, "alice")
    alice.get(f"/cases/{case_id}")
    back = f"/cases/{case_id}"
    paused = alice.post(
        f"/reports/{report_id}/pause", {"reason": "waiting_for_victim", "next": back}
    )
    assert paused.headers["location"] == f"{back}?done=paused"
    assert report_row(db, report_id).state == "paused"
    page = alice.get(paused.headers["location"]).text
    assert "The report's clock is paused." in page
    assert "Waiting for the person we help" in page
    assert f'action="/reports/{report_id}/resume"' in page
    resumed = alice.post(f"/reports/{report_id}/resume", {"next": back})
    assert resumed.headers["location"] == f"{back}?done=resumed"
    assert report_row(db, report_id).state == "filed"
    rechecked = alice.post(f"/reports/{report_id}/recheck", {"next": back})
    assert rechecked.headers["location"] == f"{back}?done=rechecked"
    assert "A re-check is on its way" in alice.get(rechecked.headers["location"]).text
