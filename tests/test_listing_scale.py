"""The listings' totals are exact for every filter and every caller, the summary adds up, and
paging by key visits every row once while rows are added."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from conftest import new_case
from sqlalchemy import bindparam, text
from sqlmodel import col, select

from tracker.db import UTCDateTime, utcnow
from tracker.reports.lifecycle import ON_THE_CLOCK, ReportState
from tracker.reports.models import Report
from tracker.reports.rollups import fold_rollups
from tracker.reports.transitions import move

URLS = [
    "https://x.com/fakeuser/status/{n}",
    "https://reddit.com/r/fakesub/comments/{n}/fake",
    "https://youtube.com/watch?v=FAKE{n:07d}",
    "https://fake-{n}.example/leak",
]
#: The states the reports are moved to, in turn (logged stays where intake left it).
PATH = {
    ReportState.FILED: [ReportState.FILED],
    ReportState.ACKNOWLEDGED: [ReportState.FILED, ReportState.ACKNOWLEDGED],
    ReportState.REMOVED: [ReportState.REMOVED],
    ReportState.CLOSED: [ReportState.CLOSED],
    ReportState.AWAITING_MANUAL: [ReportState.AWAITING_MANUAL],
}


def add_reports(client: Any, people: Any, case_id: int, numbers: range, who: str) -> list[int]:
    urls = [URLS[n % len(URLS)].format(n=n) for n in numbers]
    response = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": urls}, headers=people.auth(who)
    )
    assert response.status_code == 200, response.text
    return [result["report_id"] for result in response.json()["results"]]


def spread_states_and_deadlines(db: Any) -> None:
    """States in turn over the reports, and deadlines on the clock: overdue, later, none."""
    now = utcnow()
    with db.transaction() as session:
        reports = list(session.exec(select(Report).order_by(Report.id)).all())
        targets = [None, *PATH]
        for index, report in enumerate(reports):
            target = targets[index % len(targets)]
            if target is None or report.state != ReportState.LOGGED:
                continue
            for state in PATH[target]:
                move(session=session, report=report, to_state=state, cause="test", actor="test")
    with db.engine.begin() as connection:
        # Overdue, due soon, due later, and no deadline (on the clock or off it); off the clock
        # a deadline left behind does not make a report overdue.
        connection.execute(text("UPDATE reports SET deadline_at = NULL"))
        update = text("UPDATE reports SET deadline_at = :at WHERE id % 5 = :remainder")
        update = update.bindparams(bindparam("at", type_=UTCDateTime()))
        for remainder, delta in enumerate(
            (timedelta(hours=-3), timedelta(hours=2), timedelta(days=2))
        ):
            connection.execute(update, {"at": now + delta, "remainder": remainder})


@pytest.fixture
def world(client: Any, people: Any, db: Any) -> dict[str, Any]:
    """Cases of two caseworkers and a supervisor, reports in many states on four platforms."""
    cases = {
        "alice": [new_case(client, people), new_case(client, people)],
        "bob": [new_case(client, people, who="bob")],
        "supervisor": [new_case(client, people, who="supervisor", authority_to_act=False)],
    }
    numbers = itertools.count()
    for who, case_ids in cases.items():
        for case_id in case_ids:
            start = next(numbers) * 100
            add_reports(client, people, case_id, range(start, start + 14), who)
    spread_states_and_deadlines(db)
    return {"cases": cases}


def rows(db: Any) -> list[Any]:
    with db.transaction() as session:
        return list(session.exec(select(Report).order_by(col(Report.id).desc())).all())


def overdue(report: Any, now: Any) -> bool:
    return (
        report.state in ON_THE_CLOCK
        and report.deadline_at is not None
        and report.deadline_at <= now
    )


def expected_ids(
    reports: list[Any], visible: set[int], case_id: Any, state: Any, platform: Any, late: Any
) -> list[int]:
    now = utcnow()
    return [
        report.id
        for report in reports
        if report.case_id in visible
        and (case_id is None or report.case_id == case_id)
        and (state is None or report.state == state)
        and (platform is None or report.platform == platform)
        and (late is None or overdue(report, now) == late)
    ]


def query_string(**filters: Any) -> str:
    parts = [
        f"{name}={str(value).lower() if isinstance(value, bool) else value}"
        for name, value in filters.items()
        if value is not None
    ]
    return "&".join(parts)


def test_listing_totals_are_exact_for_every_filter_and_caller(client, people, db, world):
    reports = rows(db)
    assert len(reports) == 56
    every_case = [case_id for case_ids in world["cases"].values() for case_id in case_ids]
    visible_to = {
        "supervisor": set(every_case),
        "admin": set(every_case),
        "alice": set(world["cases"]["alice"]),
        "bob": set(world["cases"]["bob"]),
    }
    states = [None, "logged", "filed", "acknowledged", "removed", "closed", "reappeared"]
    platforms = [None, "x", "web", "telegram"]
    checked = 0
    for who, visible in visible_to.items():
        for case_id, state, platform, late in itertools.product(
            [None, world["cases"]["alice"][0], world["cases"]["bob"][0]],
            states,
            platforms,
            [None, True, False],
        ):
            wanted = expected_ids(reports, visible, case_id, state, platform, late)
            filters = query_string(case_id=case_id, state=state, platform=platform, overdue=late)
            response = client.get(f"/api/v1/reports?limit=200&{filters}", headers=people.auth(who))
            assert response.status_code == 200, (who, filters, response.text)
            body = response.json()
            assert body["total"] == len(wanted), (who, filters)
            assert [item["id"] for item in body["items"]] == wanted, (who, filters)
            checked += bool(wanted)
    assert checked > 100  # most combinations match something: the comparison is not vacuous


def test_pages_by_offset_and_by_key_list_the_same_rows(client, people, db, world):
    headers = people.auth("supervisor")
    for filters in ("", "state=filed", "overdue=false", f"case_id={world['cases']['alice'][1]}"):
        whole = client.get(f"/api/v1/reports?limit=200&{filters}", headers=headers).json()
        by_offset, by_key, before = [], [], None
        for offset in range(0, whole["total"], 5):
            page = client.get(
                f"/api/v1/reports?limit=5&offset={offset}&{filters}", headers=headers
            ).json()
            assert page["total"] == whole["total"]
            by_offset += [item["id"] for item in page["items"]]
        while True:
            key = f"&before_id={before}" if before else ""
            page = client.get(f"/api/v1/reports?limit=5&{filters}{key}", headers=headers).json()
            assert page["total"] == whole["total"]  # the total counts every page
            if not page["items"]:
                break
            by_key += [item["id"] for item in page["items"]]
            before = page["items"][-1]["id"]
        assert by_offset == by_key == [item["id"] for item in whole["items"]], filters


def test_paging_by_key_visits_every_row_once_while_rows_are_added(client, people, db, world):
    headers = people.auth("alice")
    first = client.get("/api/v1/reports?limit=200", headers=headers).json()
    existing = [item["id"] for item in first["items"]]
    assert len(existing) == first["total"] == 28
    seen: list[int] = []
    before = None
    numbers = itertools.count(5000)
    while True:
        key = f"&before_id={before}" if before else ""
        page = client.get(f"/api/v1/reports?limit=4{key}", headers=headers).json()
        if not page["items"]:
            break
        seen += [item["id"] for item in page["items"]]
        before = page["items"][-1]["id"]
        # New reports arrive between pages, in the cases being listed.
        start = next(numbers) * 10
        add_reports(client, people, world["cases"]["alice"][0], range(start, start + 3), "alice")
    assert seen == existing  # every row once, in order, none repeated, none added mid-walk
    after = client.get("/api/v1/reports?limit=1", headers=headers).json()
    assert after["total"] == 28 + 3 * (len(existing) // 4 + (1 if len(existing) % 4 else 0))


def test_the_summary_adds_up_and_is_exact(client, people, db, world):
    reports = rows(db)
    now = utcnow()
    body = client.get("/api/v1/summary", headers=people.auth("dashboard")).json()
    by_state: dict[str, int] = {}
    by_platform: dict[str, int] = {}
    for report in reports:
        by_state[report.state] = by_state.get(report.state, 0) + 1
        by_platform[report.platform] = by_platform.get(report.platform, 0) + 1
    assert body["by_state"] == by_state
    assert body["by_platform"] == by_platform
    assert body["total"] == len(reports) == sum(body["by_platform"].values())
    assert body["overdue"] == sum(overdue(report, now) for report in reports) > 0
    assert (
        body["due_within_6h"]
        == sum(
            report.state in ON_THE_CLOCK
            and report.deadline_at is not None
            and now < report.deadline_at <= now + timedelta(hours=6)
            for report in reports
        )
        > 0
    )


def test_case_listing_totals_and_report_counts_are_exact(client, people, db, world):
    reports = rows(db)
    now = utcnow()
    every_case = [case_id for case_ids in world["cases"].values() for case_id in case_ids]
    mine = set(world["cases"]["alice"])

    def has(case_id: int, state: Any = None, platform: Any = None, late: Any = None) -> bool:
        return any(
            report.case_id == case_id
            and (state is None or report.state == state)
            and (platform is None or report.platform == platform)
            and (late is None or overdue(report, now))
            for report in reports
        )

    filters_and_matches = [
        ("", lambda case_id: True),
        ("report_state=acknowledged", lambda case_id: has(case_id, state="acknowledged")),
        ("report_state=reappeared", lambda case_id: has(case_id, state="reappeared")),
        ("platform=x", lambda case_id: has(case_id, platform="x")),
        (
            "report_state=filed&platform=web",
            lambda case_id: has(case_id, state="filed") and has(case_id, platform="web"),
        ),
        ("overdue=true", lambda case_id: has(case_id, late=True)),
        ("overdue=false", lambda case_id: not has(case_id, late=True)),
        ("jurisdiction=test", lambda case_id: True),
        ("jurisdiction=GB", lambda case_id: False),
        ("jurisdiction=TES_", lambda case_id: False),  # "_" is no wildcard
        ("jurisdiction=%25", lambda case_id: False),  # nor "%"
        ("jurisdiction=TEST%22%2C%20%22TEST", lambda case_id: False),  # nor a quote
    ]
    # With deltas waiting (PostgreSQL, before a fold) and with none (after it; SQLite always).
    for folded in (False, True):
        if folded:
            with db.transaction() as session:
                fold_rollups(session=session)
        for who, visible in (("supervisor", set(every_case)), ("alice", mine)):
            for filters, keep in filters_and_matches:
                wanted = sorted((case_id for case_id in visible if keep(case_id)), reverse=True)
                body = client.get(f"/api/v1/cases?limit=50&{filters}", headers=people.auth(who))
                assert body.status_code == 200, body.text
                page = body.json()
                assert page["total"] == len(wanted), (who, filters, folded)
                assert [item["id"] for item in page["items"]] == wanted, (who, filters, folded)
                for item in page["items"]:
                    held = sum(report.case_id == item["id"] for report in reports)
                    assert item["report_count"] == held
    # Keyset paging of cases.
    headers = people.auth("supervisor")
    newest = client.get("/api/v1/cases?limit=2", headers=headers).json()
    older = client.get(
        f"/api/v1/cases?limit=2&before_id={newest['items'][-1]['id']}", headers=headers
    ).json()
    assert newest["total"] == older["total"] == len(every_case)
    assert [item["id"] for item in newest["items"] + older["items"]] == sorted(
        every_case, reverse=True
    )


@pytest.mark.parametrize("value", ["0", "-3", "abc", "2147483648", "1.5"])
def test_a_bad_before_id_is_a_422_naming_it(client, people, value):
    for path in ("/api/v1/reports", "/api/v1/cases"):
        response = client.get(f"{path}?before_id={value}", headers=people.auth("alice"))
        assert response.status_code == 422, (path, value)
        assert response.json()["detail"][0]["loc"] == ["query", "before_id"]
