"""The victim's status link: issuing (API and console), the PIN page, what the status page shows
and never shows, locking after wrong PINs, revoking, and who may do what."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from conftest import new_case
from console_client import csrf_of, signed_in
from sqlmodel import col, select

from tracker.audit.models import AuditEvent
from tracker.db import utcnow
from tracker.filings.models import Filing
from tracker.reports.lifecycle import ReportState
from tracker.reports.models import Report, ReportTransition
from tracker.status_links.models import StatusLink

LABEL = "Case FAKE-STATUS-LABEL"
LEAKED_HOST = "leaked-status-host.example"
URLS = [
    "https://www.reddit.com/r/fakesub/comments/fake01/",
    "https://x.com/fakeuser/status/4242",
    f"https://{LEAKED_HOST}/v/fake-video",
]
MARKERS = (LABEL, LEAKED_HOST, "reddit.com", "x.com", "fakeuser", "fakesub", "fake-video")
PLATFORM_NAMES = ("Reddit", "X (formerly Twitter)", "Other website")


def _case_with_reports(client: Any, people: Any, db: Any) -> tuple[int, list[int]]:
    """Alice's case with three addresses: one removed, one reappeared, one just logged."""
    case_id = new_case(client, people, "alice", label=LABEL)
    intake = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": URLS}, headers=people.auth("alice")
    )
    assert intake.status_code == 200, intake.text
    report_ids = [item["report_id"] for item in intake.json()["results"]]
    now = utcnow()
    with db.transaction() as session:
        for report_id, state, path in (
            (report_ids[0], ReportState.REMOVED, ("filed", "removed")),
            (report_ids[1], ReportState.REAPPEARED, ("filed", "removed", "reappeared")),
        ):
            report = session.get(Report, report_id)
            assert report is not None
            report.state = state
            report.last_checked_at = now
            session.add(report)
            previous = "logged"
            for step, target in enumerate(path):
                session.add(
                    ReportTransition(
                        report_id=report_id,
                        from_state=previous,
                        to_state=target,
                        rung_index=0,
                        cause="test",
                        actor="test",
                        at=now - timedelta(hours=len(path) - step),
                    )
                )
                previous = target
            for filing in session.exec(select(Filing).where(Filing.report_id == report_id)):
                filing.submitted_at = now - timedelta(hours=5)
                session.add(filing)
    return case_id, report_ids


def _issue(client: Any, people: Any, case_id: int, who: str = "alice", **body: Any) -> Any:
    return client.post(f"/api/v1/cases/{case_id}/status-links", json=body, headers=people.auth(who))


def _open(client: Any, url: str, pin: str) -> Any:
    """Enter the PIN on the link's page, as the victim's browser does; the last answer."""
    page = client.get(url)
    assert page.status_code == 200, page.text
    return client.post(
        url, data={"pin": pin, "csrf_token": csrf_of(page.text)}, follow_redirects=True
    )


def _wrong(pin: str) -> str:
    return f"{(int(pin) + 1) % 10**8:08d}"


def test_the_right_pin_shows_counts_and_nothing_identifying(client, people, db):
    case_id, _ = _case_with_reports(client, people, db)
    issued = _issue(client, people, case_id, language="en")
    assert issued.status_code == 201, issued.text
    answer = issued.json()
    assert re.fullmatch(r"/status/[A-Za-z0-9_-]{43}", answer["url"])
    assert re.fullmatch(r"[0-9]{8}", answer["pin"])
    assert answer["replaced_link_id"] is None and answer["show_platforms"] is False

    form = client.get(answer["url"])
    assert form.status_code == 200
    assert "<title>Your case status</title>" in form.text
    assert 'name="pin"' in form.text and "Reddit" not in form.text
    assert form.headers["cache-control"] == "no-store"
    assert form.headers["x-robots-tag"].startswith("noindex")
    assert form.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in form.headers["content-security-policy"]
    cookie = form.headers["set-cookie"]
    assert "Path=/status/" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie

    page = _open(client, answer["url"], answer["pin"])
    assert page.status_code == 200, page.text
    html = page.text
    for name, count in (("found", 3), ("filed", 2), ("removed", 1), ("live", 2), ("reappeared", 1)):
        assert f'<dd id="count-{name}">{count}</dd>' in html, name
    assert "Test helpline" in html and "desk@helpline.example" in html
    for marker in (*MARKERS, *PLATFORM_NAMES, f"#{case_id}"):
        assert marker not in html, marker
    # The only address on the page is the organisation's e-mail; no script, no other origin.
    assert re.findall(r"(?:href|src|action)=\"([^\"]+)\"", html) == [
        "/assets/favicon.ico",
        "/assets/console.css",
        "mailto:desk@helpline.example",
        f"{answer['url']}/close",
    ]
    assert "<script" not in html
    assert page.headers["cache-control"] == "no-store"
    with db.session() as session:
        link = session.get(StatusLink, answer["id"])
        assert link is not None and link.last_opened_at is not None

    # Closing it on this device asks for the PIN again.
    closed = client.post(
        f"{answer['url']}/close", data={"csrf_token": csrf_of(html)}, follow_redirects=True
    )
    assert 'name="pin"' in closed.text and "count-found" not in closed.text


def test_platform_names_only_when_the_link_allows(client, people, db):
    case_id, _ = _case_with_reports(client, people, db)
    answer = _issue(client, people, case_id, language="en", show_platforms=True).json()
    html = _open(client, answer["url"], answer["pin"]).text
    for name in PLATFORM_NAMES:
        assert f"<li>{name}: 1</li>" in html, name
    for marker in MARKERS:
        assert marker not in html, marker


def test_a_hindi_link_answers_in_hindi(client, people, db):
    case_id, _ = _case_with_reports(client, people, db)
    answer = _issue(client, people, case_id, language="hi").json()
    page = _open(client, answer["url"], answer["pin"])
    assert '<html lang="hi">' in page.text
    assert '<dd id="count-found">3</dd>' in page.text
    assert _issue(client, people, case_id, language="xx").status_code == 422


def test_five_wrong_pins_lock_the_link_until_the_lock_ends(client, people, db):
    case_id, _ = _case_with_reports(client, people, db)
    answer = _issue(client, people, case_id).json()
    url, pin = answer["url"], answer["pin"]
    form = client.get(url)
    token = csrf_of(form.text)
    for attempt in range(1, 5):
        wrong = client.post(url, data={"pin": _wrong(pin), "csrf_token": token})
        assert wrong.status_code == 401, attempt
        assert "That PIN is not right" in wrong.text
    locked = client.post(url, data={"pin": _wrong(pin), "csrf_token": token})
    assert locked.status_code == 429 and "try again later" in locked.text.lower()
    assert int(locked.headers["retry-after"]) > 14 * 60
    # The right PIN is refused while the lock lasts, and the page itself says so.
    refused = client.post(url, data={"pin": pin, "csrf_token": token})
    assert refused.status_code == 429 and "count-found" not in refused.text
    assert client.get(url).status_code == 429
    listed = client.get(
        f"/api/v1/cases/{case_id}/status-links", headers=people.auth("alice")
    ).json()["items"][0]
    assert listed["failed_attempts"] == 5 and listed["locked_until"] is not None
    with db.session() as session:
        actions = session.exec(
            select(AuditEvent.action).where(AuditEvent.object_type == "status_link")
        ).all()
    assert "status_link.locked" in actions

    with db.transaction() as session:
        link = session.get(StatusLink, answer["id"])
        assert link is not None
        link.locked_until = utcnow() - timedelta(seconds=1)
        session.add(link)
    # After the lock, one wrong PIN does not lock again at once: the count starts over.
    again = client.post(url, data={"pin": _wrong(pin), "csrf_token": token})
    assert again.status_code == 401
    opened = client.post(url, data={"pin": pin, "csrf_token": token}, follow_redirects=True)
    assert opened.status_code == 200 and '<dd id="count-found">3</dd>' in opened.text
    with db.session() as session:
        link = session.get(StatusLink, answer["id"])
        assert link is not None and link.failed_attempts == 0 and link.locked_until is None


def test_the_pin_form_needs_its_token(client, people, db):
    case_id, _ = _case_with_reports(client, people, db)
    answer = _issue(client, people, case_id).json()
    client.get(answer["url"])
    refused = client.post(answer["url"], data={"pin": answer["pin"], "csrf_token": "forged"})
    assert refused.status_code == 403 and "count-found" not in refused.text
    other_site = client.post(
        answer["url"],
        data={"pin": answer["pin"], "csrf_token": csrf_of(refused.text)},
        headers={"origin": "https://elsewhere.example", "sec-fetch-site": "cross-site"},
    )
    assert other_site.status_code == 403


def test_revoked_and_unknown_links_answer_the_same_page(client, people, db):
    case_id, _ = _case_with_reports(client, people, db)
    answer = _issue(client, people, case_id).json()
    unknown = client.get("/status/" + "A" * 43)
    malformed = client.get("/status/not-a-token")
    revoked = client.post(
        f"/api/v1/status-links/{answer['id']}/revoke", headers=people.auth("alice")
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    gone = client.get(answer["url"])
    for response in (unknown, malformed, gone):
        assert response.status_code == 404
        assert "This link does not work any more" in response.text
        assert response.headers["x-robots-tag"].startswith("noindex")
    posted = client.post(answer["url"], data={"pin": answer["pin"], "csrf_token": "x"})
    assert posted.status_code == 404
    again = client.post(f"/api/v1/status-links/{answer['id']}/revoke", headers=people.auth("alice"))
    assert again.status_code == 409


def test_a_new_link_revokes_the_old_one(client, people, db):
    case_id, _ = _case_with_reports(client, people, db)
    first = _issue(client, people, case_id).json()
    assert _open(client, first["url"], first["pin"]).status_code == 200
    second = _issue(client, people, case_id, who="supervisor", language="hi").json()
    assert second["replaced_link_id"] == first["id"]
    assert client.get(first["url"]).status_code == 404
    # The cookie of the first link does not open the second: it asks for its own PIN.
    assert 'name="pin"' in client.get(second["url"]).text
    listing = client.get(
        f"/api/v1/cases/{case_id}/status-links", headers=people.auth("alice")
    ).json()
    assert listing["total"] == 2
    assert [item["id"] for item in listing["items"]] == [second["id"], first["id"]]
    assert listing["items"][1]["revoked_at"] is not None
    assert listing["items"][0]["revoked_at"] is None
    for item in listing["items"]:
        assert "pin" not in item and "url" not in item and "token_hash" not in item
    with db.session() as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.object_type == "status_link")
            .order_by(col(AuditEvent.id))
        ).all()
    assert [(event.action, event.object_id) for event in events] == [
        ("status_link.issued", first["id"]),
        ("status_link.revoked", first["id"]),
        ("status_link.issued", second["id"]),
    ]
    assert events[1].details["reason"] == "replaced"
    text = repr([event.details for event in events])
    for secret in (first["pin"], second["pin"], first["url"][8:], second["url"][8:]):
        assert secret not in text


@pytest.mark.parametrize(
    ("who", "status_code"), [("bob", 404), ("outsider", 404), ("dashboard", 403)]
)
def test_others_cannot_issue_list_or_revoke(client, people, db, who, status_code):
    case_id, _ = _case_with_reports(client, people, db)
    answer = _issue(client, people, case_id).json()
    assert _issue(client, people, case_id, who=who).status_code == status_code
    listing = client.get(f"/api/v1/cases/{case_id}/status-links", headers=people.auth(who))
    assert listing.status_code == status_code
    revoke = client.post(f"/api/v1/status-links/{answer['id']}/revoke", headers=people.auth(who))
    assert revoke.status_code == status_code
    assert client.get(answer["url"]).status_code == 200  # still active


def test_the_console_issues_shows_once_and_revokes(client, people, db):
    case_id, _ = _case_with_reports(client, people, db)
    console = signed_in(client, people, "alice")
    case_page = console.get(f"/cases/{case_id}")
    assert 'id="status-link"' in case_page.text
    assert "No link has been issued for this case." in case_page.text
    issued = console.post(
        f"/cases/{case_id}/status-link", {"language": "hi", "show_platforms": "on"}
    )
    assert issued.status_code == 201, issued.text
    url = re.search(r'<code class="secret" id="status-url">([^<]+)</code>', issued.text)
    pin = re.search(r'<code class="secret" id="status-pin">([0-9]{8})</code>', issued.text)
    assert url and pin
    assert url.group(1).startswith("http://testserver/status/")
    assert "the PIN by phone" in issued.text
    assert issued.headers["cache-control"] == "no-store"
    with db.session() as session:
        link = session.exec(select(StatusLink).where(StatusLink.case_id == case_id)).one()
        assert link.language == "hi" and link.show_platforms is True

    case_page = console.get(f"/cases/{case_id}")
    assert "Active" in case_page.text and url.group(1) not in case_page.text
    assert pin.group(1) not in case_page.text
    revoked = console.post(f"/cases/{case_id}/status-link/revoke")
    assert revoked.status_code == 303
    assert revoked.headers["location"] == f"/cases/{case_id}#status-link"
    assert client.get(url.group(1).removeprefix("http://testserver")).status_code == 404
    assert console.post(f"/cases/{case_id}/status-link/revoke").status_code == 409


def test_another_caseworker_cannot_issue_from_the_console(client, people, db):
    case_id, _ = _case_with_reports(client, people, db)
    console = signed_in(client, people, "bob")
    console.get("/account")
    assert console.post(f"/cases/{case_id}/status-link", {"language": "en"}).status_code == 404
    with db.session() as session:
        assert session.exec(select(StatusLink)).all() == []


def test_revoking_a_cases_links_for_withdrawal(client, people, db):
    from tracker.status_links.service import revoke_case_links

    case_id, _ = _case_with_reports(client, people, db)
    answer = _issue(client, people, case_id).json()
    with db.transaction() as session:
        assert revoke_case_links(session=session, case_id=case_id, actor="user:1") == 1
        assert revoke_case_links(session=session, case_id=case_id, actor="user:1") == 0
    assert client.get(answer["url"]).status_code == 404
    with db.session() as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "status_link.revoked")
        ).one()
    assert event.details == {"case_id": case_id, "reason": "withdrawn"}


def test_wrong_pins_count_against_the_address_too(client, people, db):
    from tracker.organisations.throttle import MemoryFailureLog, Window

    case_id, _ = _case_with_reports(client, people, db)
    answer = _issue(client, people, case_id).json()
    client.app.state.sign_in_failures = MemoryFailureLog(window=Window(limit=2, window_seconds=60))
    token = csrf_of(client.get(answer["url"]).text)
    statuses = [
        client.post(
            answer["url"], data={"pin": _wrong(answer["pin"]), "csrf_token": token}
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 429]
    throttled = client.post(answer["url"], data={"pin": answer["pin"], "csrf_token": token})
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    # Unknown links are counted too: guessing links costs like guessing PINs.
    assert client.post("/status/" + "B" * 43, data={"pin": "1"}).status_code == 429
