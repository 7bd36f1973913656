"""My queue: each kind of item for the right person, most urgent first, never another's."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

from conftest import new_case
from console_client import ConsoleClient, signed_in
from sqlalchemy import update
from sqlmodel import col, select

from tracker.alerts.service import raise_alert, resolve_alerts
from tracker.checks.service import record_check
from tracker.db import utcnow
from tracker.filings.models import Filing
from tracker.reports.lifecycle import ReportState
from tracker.reports.models import Report
from tracker.reports.transitions import move
from workers import jobs

TIKTOK = "https://www.tiktok.com/@fakeuser/video/70000000000000000{:02d}"
SECTIONS = [
    "queue-packets",
    "queue-overdue",
    "queue-due-soon",
    "queue-reappeared",
    "queue-held",
    "queue-exhausted",
    "queue-channels",
]


# -- building data through the API, the workers and the services ---------------------------


def add_urls(
    client: Any, people: Any, case_id: int, urls: list[str], who: str = "alice"
) -> list[int]:
    """Log URLs into a case through the API; their report ids."""
    response = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": urls}, headers=people.auth(who)
    )
    assert response.status_code == 200, response.text
    return [item["report_id"] for item in response.json()["results"]]


def filings_of(db: Any, report_id: int) -> list[Filing]:
    with db.session() as session:
        return list(
            session.exec(
                select(Filing).where(Filing.report_id == report_id).order_by(col(Filing.id))
            ).all()
        )


def report_row(db: Any, report_id: int) -> Report:
    with db.session() as session:
        found = session.get(Report, report_id)
        assert found is not None
        return found


def sandbox_url(sandbox: Any, prefix: str = "comply") -> str:
    return f"{sandbox.base_url}/videos/{prefix}-{time.monotonic_ns()}"


def filed_report(
    client: Any, people: Any, db: Any, sandbox: Any, case_id: int, who: str = "alice"
) -> int:
    """A sandbox URL logged into the case and filed by the worker (on the clock)."""
    [report_id] = add_urls(client, people, case_id, [sandbox_url(sandbox)], who)
    [filing] = filings_of(db, report_id)
    assert jobs.file_filing(filing.id, db=db) == "filed"
    assert report_row(db, report_id).state == "filed"
    return report_id


def set_deadline(db: Any, report_id: int, from_now: timedelta) -> None:
    """Move a filed report's deadline (the clock itself is tested elsewhere)."""
    with db.transaction() as session:
        session.execute(
            update(Report)
            .where(col(Report.id) == report_id)
            .values(deadline_at=utcnow() + from_now)
        )


def check(db: Any, report_id: int, verdict: str) -> None:
    """Record a check as the recheck worker would."""
    with db.transaction() as session:
        record_check(
            session=session,
            report_id=report_id,
            checked_at=utcnow(),
            verdict=verdict,
            reason="test",
            http_status=200,
            final_url=None,
            fingerprint=None,
            latency_ms=1,
            error=None,
        )


def packet_filing(client: Any, people: Any, db: Any, case_id: int, number: int) -> Filing:
    """A TikTok URL (a web-form channel) filed: its packet awaits manual submission."""
    [report_id] = add_urls(client, people, case_id, [TIKTOK.format(number)])
    [filing] = filings_of(db, report_id)
    jobs.file_filing(filing.id, db=db)
    [filing] = filings_of(db, report_id)
    assert filing.status == "awaiting_manual"
    return filing


def exhaust(db: Any, report_id: int) -> None:
    """Mark every rung tried (the escalation worker's move, made directly)."""
    with db.transaction() as session:
        report = session.get(Report, report_id)
        assert report is not None
        move(
            session=session,
            report=report,
            to_state=ReportState.EXHAUSTED,
            cause="test: every rung tried",
            actor="test",
            deadline_at=None,
        )


def section(html: str, name: str) -> str:
    """The HTML of one queue section ("" when the page has none)."""
    found = re.search(rf'<section[^>]*aria-labelledby="{name}".*?</section>', html, re.S)
    return found.group(0) if found else ""


def heading(html: str, name: str) -> str:
    found = re.search(rf'<h2 id="{name}">(.*?)</h2>', html, re.S)
    assert found, name
    return re.sub(r"\s+", " ", found.group(1)).strip()


class World:
    """Alice's case with one item of every kind; Bob's case with an overdue report."""

    def __init__(self, client: Any, people: Any, db: Any, sandbox: Any) -> None:
        self.case = new_case(client, people, "alice", label="Case FAKE-QUEUE")
        self.packet = packet_filing(client, people, db, self.case, 1)
        self.later_overdue = filed_report(client, people, db, sandbox, self.case)
        self.overdue = filed_report(client, people, db, sandbox, self.case)
        set_deadline(db, self.overdue, -timedelta(hours=3))
        set_deadline(db, self.later_overdue, -timedelta(minutes=10))
        self.due_soon = filed_report(client, people, db, sandbox, self.case)
        set_deadline(db, self.due_soon, timedelta(hours=2))
        self.not_due = filed_report(client, people, db, sandbox, self.case)
        set_deadline(db, self.not_due, timedelta(hours=30))
        self.reappeared = filed_report(client, people, db, sandbox, self.case)
        check(db, self.reappeared, "removed")
        check(db, self.reappeared, "removed")
        assert report_row(db, self.reappeared).state == "removed"
        check(db, self.reappeared, "live")
        assert report_row(db, self.reappeared).state == "reappeared"
        self.exhausted = filed_report(client, people, db, sandbox, self.case)
        exhaust(db, self.exhausted)
        self.held_case = new_case(
            client, people, "alice", label="Case FAKE-HELD", authority_to_act=False
        )
        self.held = add_urls(
            client, people, self.held_case, [sandbox_url(sandbox), sandbox_url(sandbox)]
        )
        with db.transaction() as session:
            raise_alert(
                session=session,
                organisation_id=self._organisation(db, people),
                kind="channel.failing",
                subject="adapter:sandbox",
                numbers={"count": 5},
            )
        self.bob_case = new_case(client, people, "bob", label="Case FAKE-BOB")
        self.bob_overdue = filed_report(client, people, db, sandbox, self.bob_case, "bob")
        set_deadline(db, self.bob_overdue, -timedelta(hours=1))

    @staticmethod
    def _organisation(db: Any, people: Any) -> int:
        from tracker.organisations.models import User

        with db.session() as session:
            user = session.get(User, people.ids["alice"])
            assert user is not None
            return user.organisation_id


def queue_page(console: ConsoleClient) -> str:
    response = console.get("/")
    assert response.status_code == 200, response.text
    return str(response.text)


def test_the_queue_lists_every_kind_of_item_in_urgency_order(client, people, db, sandbox):
    world = World(client, people, db, sandbox)
    html = queue_page(signed_in(client, people, "alice"))
    positions = [html.index(f'id="{name}"') for name in SECTIONS]
    assert positions == sorted(positions)

    packets = section(html, "queue-packets")
    assert f'href="/filings/{world.packet.id}/packet"' in packets
    assert heading(html, "queue-packets") == "Forms waiting for you to submit (1)"

    overdue = section(html, "queue-overdue")
    links = re.findall(r'href="/reports/(\d+)"', overdue)
    assert [int(link) for link in links] == [world.overdue, world.later_overdue]  # longest first
    assert heading(html, "queue-overdue") == "Past the deadline (2)"
    assert 'class="overdue">overdue by 3 h' in overdue

    due = section(html, "queue-due-soon")
    assert [int(link) for link in re.findall(r'href="/reports/(\d+)"', due)] == [world.due_soon]
    assert 'class="due-soon">due in 1 h 59 min' in due or 'class="due-soon">due in 2 h' in due

    reappeared = section(html, "queue-reappeared")
    assert re.findall(r'href="/reports/(\d+)"', reappeared) == [str(world.reappeared)]

    held = section(html, "queue-held")
    assert heading(html, "queue-held") == "Waiting for authority to act (1 case)"
    assert f'href="/cases/{world.held_case}"' in held and "2 reports not filed" in held
    assert "Case FAKE-HELD" in held

    exhausted = section(html, "queue-exhausted")
    assert re.findall(r'href="/reports/(\d+)"', exhausted) == [str(world.exhausted)]

    channels = section(html, "queue-channels")
    assert "Filings on this channel keep failing" in channels and "sandbox" in channels
    assert "/alerts" not in channels  # a caseworker cannot open the alerts page

    # Not in the queue: a report due later than 24 h, and anything of Bob's.
    assert f"/reports/{world.not_due}" not in html
    assert f"/reports/{world.bob_overdue}" not in html
    assert f"/cases/{world.bob_case}" not in html and "Case FAKE-BOB" not in html

    mine = section(html, "queue-my-cases")
    assert heading(html, "queue-my-cases") == "My cases (2)"
    assert [int(case) for case in re.findall(r'href="/cases/(\d+)"', mine)] == [
        world.held_case,
        world.case,
    ]  # newest activity first


def test_the_supervisor_sees_the_organisations_items_and_bob_only_his(client, people, db, sandbox):
    world = World(client, people, db, sandbox)
    supervisor = queue_page(signed_in(client, people, "supervisor"))
    overdue = section(supervisor, "queue-overdue")
    assert [int(x) for x in re.findall(r'href="/reports/(\d+)"', overdue)] == [
        world.overdue,
        world.bob_overdue,
        world.later_overdue,
    ]
    assert f'href="/filings/{world.packet.id}/packet"' in section(supervisor, "queue-packets")
    assert 'href="/alerts?kind=channel.failing"' in section(supervisor, "queue-channels")
    assert heading(supervisor, "queue-my-cases") == "My cases (0)"
    assert "You have no open cases." in supervisor

    client.cookies.clear()
    bob = queue_page(signed_in(client, people, "bob"))
    bob_overdue = re.findall(r'href="/reports/(\d+)"', section(bob, "queue-overdue"))
    assert [int(x) for x in bob_overdue] == [world.bob_overdue]
    for name in ("queue-packets", "queue-due-soon", "queue-reappeared", "queue-held"):
        assert section(bob, name) == "", name
    assert "Case FAKE-QUEUE" not in bob and f"/cases/{world.case}" not in bob
    # The channel alert is the organisation's: every caseworker is told.
    assert "Filings on this channel keep failing" in section(bob, "queue-channels")


def test_an_empty_queue_says_so_calmly(client, people, db):
    with db.transaction() as session:
        raise_alert(
            session=session,
            organisation_id=_organisation_of(people, db),
            kind="host.unreachable",  # not a channel: not in the queue
            subject="host:unrelated.example",
            numbers={"count": 3},
        )
    html = queue_page(signed_in(client, people, "alice"))
    assert "Nothing needs you right now." in html
    assert all(section(html, name) == "" for name in SECTIONS)
    assert "You have no open cases." in html


def test_resolved_alerts_and_closed_cases_leave_the_queue(client, people, db, sandbox):
    organisation_id = _organisation_of(people, db)
    with db.transaction() as session:
        raise_alert(
            session=session,
            organisation_id=organisation_id,
            kind="adapter.invalid_credentials",
            subject="adapter:reddit",
        )
    alice = signed_in(client, people, "alice")
    assert "refused this channel" in section(queue_page(alice), "queue-channels")
    with db.transaction() as session:
        resolve_alerts(
            session=session,
            organisation_id=organisation_id,
            kind="adapter.invalid_credentials",
            actor="test",
        )
    case_id = new_case(client, people, "alice")
    assert f'href="/cases/{case_id}"' in section(queue_page(alice), "queue-my-cases")
    closed = client.patch(
        f"/api/v1/cases/{case_id}", json={"status": "closed"}, headers=people.auth("alice")
    )
    assert closed.status_code == 200
    html = queue_page(alice)
    assert section(html, "queue-channels") == ""
    assert f'href="/cases/{case_id}"' not in html
    assert "Nothing needs you right now." in html


def test_each_section_is_bounded_with_a_count_of_the_rest(client, people, db, sandbox, monkeypatch):
    from tracker.reports import queue

    monkeypatch.setattr(queue, "SECTION_LIMIT", 2)
    case_id = new_case(client, people, "alice", authority_to_act=False)
    held = add_urls(client, people, case_id, [sandbox_url(sandbox) for _ in range(3)])
    for report_id in held:
        exhaust(db, report_id)
    html = queue_page(signed_in(client, people, "alice"))
    exhausted = section(html, "queue-exhausted")
    assert heading(html, "queue-exhausted") == "Every step tried (3)"
    assert len(re.findall(r'href="/reports/\d+"', exhausted)) == 2
    assert "and 1 more" in exhausted
    assert 'href="/cases?report_state=exhausted"' in exhausted


def _organisation_of(people: Any, db: Any) -> int:
    return World._organisation(db, people)
