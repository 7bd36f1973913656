"""The batched intake: the same answers and the same rows as logging one URL at a time, 10,000
URLs in one request (API and console), and nothing written or sent unless all of it commits."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import new_case
from intake_reference import add_urls_one_by_one
from rollup_checks import assert_counts_exact, organisation_of
from sqlalchemy import Text, cast, event, func, text
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from tracker.audit.models import AuditEvent
from tracker.errors import Conflict, Invalid
from tracker.filings.models import Filing
from tracker.jobs import JobKind, install_dispatcher
from tracker.organisations.models import User
from tracker.organisations.service import Principal
from tracker.reports.intake import add_urls
from tracker.reports.models import Report, ReportTransition

#: Created, duplicates in the request and in the case, rejected (scheme, not public), platforms.
MIX = [
    "https://leak-one.example/v/1",
    "https://www.facebook.com/fakeprofile/videos/111",
    "https://leak-one.example/v/1/",
    "ftp://files.example/leak",
    "https://mobile.twitter.com/fakeuser/status/123?s=20",
    "https://already.example/in-the-case",
    "http://10.0.0.7/internal",
    "youtu.be/FAKEVIDEO01?si=abc",
    "https://m.facebook.com/story.php?story_fbid=111&id=222&fbclid=FAKE",
]
VALID = [url for url in MIX if not url.startswith(("ftp:", "http://10."))]
ALREADY = ["https://already.example/in-the-case", "https://other.example/before"]
CASES: dict[str, dict[str, Any]] = {
    "authority": {},
    "no authority": {"authority_to_act": False},
    "minor": {"minor_involved": True},
    "india": {"jurisdictions": ["IN"]},
}
#: Columns that differ between two equal intakes (ids, their case, the clock).
REPORT_SKIP = {"id", "case_id", "created_at", "updated_at", "next_check_at"}
FILING_SKIP = {"id", "report_id", "idempotency_key", "created_at", "updated_at"}
FILING_SKIP |= {"next_attempt_at", "lease_until"}


def principal_of(db, people, who: str = "alice") -> Principal:
    with db.session() as session:
        user = session.get(User, people.ids[who])
        assert user is not None
        return Principal(user_id=user.id, organisation_id=user.organisation_id, role=user.role)


def recorded_jobs() -> list[tuple[JobKind, tuple[Any, ...]]]:
    sent: list[tuple[JobKind, tuple[Any, ...]]] = []
    install_dispatcher(lambda kind, args: sent.append((kind, args)))
    return sent


def intake(db, function, principal, case_id: int, urls: list[str], **options: Any) -> Any:
    """Run one intake in its own transaction; its results, or the domain error it raised."""
    try:
        with db.transaction() as session:
            return function(
                session=session, principal=principal, case_id=case_id, urls=urls, **options
            )
    except (Invalid, Conflict) as error:
        return error


def snapshot(db, case_id: int) -> dict[str, Any]:
    """Everything an intake wrote for a case, in the order it was written, without ids."""
    with db.session() as session:
        reports = session.exec(
            select(Report).where(Report.case_id == case_id).order_by(col(Report.id))
        ).all()
        position = {report.id: index for index, report in enumerate(reports)}
        ids = list(position)
        transitions = session.exec(
            select(ReportTransition)
            .where(col(ReportTransition.report_id).in_(ids))
            .order_by(col(ReportTransition.id))
        ).all()
        filings = session.exec(
            select(Filing).where(col(Filing.report_id).in_(ids)).order_by(col(Filing.id))
        ).all()
        stored_params = session.exec(
            select(cast(Filing.channel_params, Text)).where(col(Filing.report_id).in_(ids))
        ).all()
        # The text the database holds for each time, digits blanked: one format per column.
        stored_times = [
            (name, re.sub(r"\d", "0", _as_text(value)))
            for table, names in (
                ("reports", ("created_at", "updated_at", "next_check_at")),
                ("report_transitions", ("at",)),
                ("filings", ("created_at", "next_attempt_at", "lease_until")),
            )
            for name in names
            for value in session.execute(
                text(f"SELECT {name} FROM {table} WHERE {_owner(table)} IN ({_ids(ids)})")
            ).scalars()
        ]
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.object_type == "case", AuditEvent.object_id == case_id)
            .where(AuditEvent.action == "reports.added")
            .order_by(col(AuditEvent.id))
        ).all()
    for filing in filings:
        assert filing.lease_until - filing.next_attempt_at == timedelta(seconds=60)
    return {
        "reports": [report.model_dump(exclude=REPORT_SKIP, warnings=False) for report in reports],
        "ids in order": ids == sorted(ids),
        "transitions": [
            (position[row.report_id], row.from_state, row.to_state, row.rung_index, row.cause)
            for row in transitions
        ],
        "filings": [
            (position[row.report_id], row.model_dump(exclude=FILING_SKIP, warnings=False))
            for row in filings
        ],
        "stored channel_params": sorted(stored_params),
        "stored times look like": sorted(set(stored_times)),
        "audit": [(event.actor, event.details) for event in events],
    }


def _as_text(value: Any) -> str:
    """A time as stored (SQLite: text; PostgreSQL: to the microsecond, even when it is 0)."""
    return value.isoformat(timespec="microseconds") if isinstance(value, datetime) else value


def _owner(table: str) -> str:
    return "id" if table == "reports" else "report_id"


def _ids(ids: list[int]) -> str:
    return ", ".join(str(int(report_id)) for report_id in ids) or "0"


def answers(db, case_id: int, outcome: Any) -> Any:
    """Results with report ids replaced by the URL they name (ids differ between cases)."""
    if isinstance(outcome, Exception):
        return (type(outcome).__name__, outcome.problems)
    with db.session() as session:
        urls = dict(
            session.exec(
                select(Report.id, Report.canonical_url).where(Report.case_id == case_id)
            ).all()
        )
    return [{**result.model_dump(), "report_id": urls.get(result.report_id)} for result in outcome]


@pytest.mark.parametrize("kind", list(CASES))
@pytest.mark.parametrize(
    ("urls", "options"),
    [
        (MIX, {"allow_partial": True}),
        (VALID, {"allow_partial": False}),
        (MIX, {"allow_partial": False}),
        (MIX, {"allow_partial": True, "preview": True}),
    ],
    ids=["partial", "all valid", "all or nothing refused", "preview"],
)
def test_the_batched_intake_writes_what_one_at_a_time_wrote(
    client, people, db, kind, urls, options
):
    principal = principal_of(db, people)
    old_case, new_case_id = (new_case(client, people, **CASES[kind]) for _ in range(2))
    for case_id in (old_case, new_case_id):  # the same reports already in both cases
        intake(db, add_urls_one_by_one, principal, case_id, ALREADY, allow_partial=False)
    jobs = recorded_jobs()

    before = intake(db, add_urls_one_by_one, principal, old_case, urls, **options)
    jobs_before, jobs[:] = list(jobs), []
    after = intake(db, add_urls, principal, new_case_id, urls, **options)

    assert answers(db, new_case_id, after) == answers(db, old_case, before)
    assert snapshot(db, new_case_id) == snapshot(db, old_case)
    assert snapshot(db, new_case_id)["ids in order"]
    filed = snapshot(db, new_case_id)["filings"]
    with db.session() as session:
        new_filings = session.exec(
            select(Filing.id)
            .join(Report, col(Report.id) == Filing.report_id)
            .where(Report.case_id == new_case_id)
            .order_by(col(Report.id))
        ).all()
    assert jobs == [(JobKind.FILE, (filing_id,)) for filing_id in new_filings[len(ALREADY) :]]
    assert len(jobs) == len(jobs_before) == len(filed) - (len(ALREADY) if filed else 0)
    if kind == "no authority":
        assert filed == [] and jobs == []
    if options.get("preview") or (not options["allow_partial"] and urls == MIX):
        assert len(snapshot(db, new_case_id)["reports"]) == len(ALREADY)


def counts(db) -> tuple[int, ...]:
    with db.session() as session:
        return tuple(
            session.exec(select(func.count()).select_from(model)).one()
            for model in (Report, ReportTransition, Filing, AuditEvent)
        )


def ten_thousand(prefix: str) -> list[str]:
    """10,000 distinct URLs on a documentation host and on platform hosts (no rejects)."""
    shapes = [
        "https://{p}-leak.example/videos/{n}",
        "https://www.facebook.com/watch/?v={n}{p}",
        "https://x.com/fakeuser/status/{n}{p}",
    ]
    return [shapes[number % 3].format(p=prefix, n=number) for number in range(10_000)]


def test_ten_thousand_urls_in_one_api_request(client, people, db):
    case_id = new_case(client, people)
    jobs = recorded_jobs()
    urls = ten_thousand("api")
    urls[7_777] = urls[1_234]  # one duplicate in the request

    answer = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": urls}, headers=people.auth("alice")
    )

    assert answer.status_code == 200, answer.text[:500]
    body = answer.json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (9_999, 1, 0)
    assert body["results"][7_777]["duplicate_of"] == 1_234
    created = [result["report_id"] for result in body["results"] if result["outcome"] == "created"]
    assert created == sorted(created) and len(set(created)) == 9_999
    reports, transitions, filings, _ = counts(db)
    assert (reports, transitions, filings) == (9_999, 9_999, 9_999)
    assert len(jobs) == 9_999 and {kind for kind, _ in jobs} == {JobKind.FILE}
    with db.session() as session:
        platforms = dict(
            session.exec(select(Report.platform, func.count()).group_by(Report.platform)).all()
        )
    assert platforms == {"web": 3_334, "facebook": 3_332, "x": 3_333}  # 7,777 was a facebook URL
    assert_counts_exact(db, organisation_of(db))  # the report counts saw every inserted row


def test_ten_thousand_urls_with_one_rejected_write_nothing(client, people, db):
    case_id = new_case(client, people)
    jobs = recorded_jobs()
    before = counts(db)
    urls = ten_thousand("bad")
    urls[9_000] = "javascript:alert(1)"

    refused = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": urls}, headers=people.auth("alice")
    )

    assert refused.status_code == 422
    assert [(p["loc"], p["type"]) for p in refused.json()["detail"]] == [
        (["body", "urls", 9_000], "url.scheme_not_allowed")
    ]
    assert counts(db) == before and jobs == []
    partial = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": urls, "allow_partial": True},
        headers=people.auth("alice"),
    )
    assert (partial.json()["created"], partial.json()["rejected"]) == (9_999, 1)
    assert_counts_exact(db, organisation_of(db))


def test_the_intake_body_limit_and_the_largest_list(client, people, db):
    case_id = new_case(client, people)
    path = f"/api/v1/cases/{case_id}/reports"
    # 10,000 URLs of 300 characters: over the 1 MiB of other requests, within the intake's.
    long_urls = [f"https://long.example/{number:05d}/" + "a" * 272 for number in range(10_000)]
    accepted = client.post(
        path, json={"urls": long_urls, "dry_run": True}, headers=people.auth("alice")
    )
    assert accepted.status_code == 200, accepted.text[:300]
    assert accepted.json()["created"] == 10_000
    too_large = client.post(
        path, json={"urls": [url + "b" * 200 for url in long_urls]}, headers=people.auth("alice")
    )
    assert too_large.status_code == 413
    assert too_large.json()["detail"][0]["loc"] == ["body"]
    too_many = client.post(
        path, json={"urls": ["https://x.example/1"] * 10_001}, headers=people.auth("alice")
    )
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["body", "urls"]
    # Far more values than an intake holds: refused before validation, as on every route.
    crowded = client.post(
        path, json={"urls": ["https://x.example/1"] * 20_000}, headers=people.auth("alice")
    )
    assert crowded.status_code == 422
    assert crowded.json()["detail"] == [
        {
            "loc": ["body"],
            "msg": "the body holds more than 10100 values",
            "type": "value_error.too_many_values",
        }
    ]
    assert counts(db)[0] == 0


def test_nothing_is_written_or_sent_when_the_commit_fails(client, people, db):
    case_id = new_case(client, people)
    principal = principal_of(db, people)
    jobs = recorded_jobs()
    before = counts(db)

    def refuse_commit(session) -> None:
        raise RuntimeError("the commit fails")

    session = db.session()
    event.listen(session, "before_commit", refuse_commit)
    try:
        add_urls(
            session=session, principal=principal, case_id=case_id, urls=VALID, allow_partial=False
        )
        with pytest.raises(RuntimeError, match="the commit fails"):
            session.commit()
    finally:
        session.rollback()
        session.close()

    assert counts(db) == before and jobs == []


@pytest.mark.postgresql_only
def test_nothing_is_written_or_sent_when_the_connection_dies_before_commit(client, people, db):
    case_id = new_case(client, people)
    principal = principal_of(db, people)
    jobs = recorded_jobs()
    before = counts(db)

    session = db.session()
    try:
        add_urls(
            session=session, principal=principal, case_id=case_id, urls=VALID, allow_partial=False
        )
        backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with db.engine.begin() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        with pytest.raises(OperationalError):
            session.commit()
    finally:
        session.rollback()
        session.close()

    assert counts(db) == before and jobs == []


def test_nothing_is_written_or_sent_when_the_filings_cannot_be_inserted(client, people, db):
    case_id = new_case(client, people)
    principal = principal_of(db, people)
    jobs = recorded_jobs()
    before = counts(db)

    def fail_filings(connection, cursor, statement, *_: Any) -> None:
        if statement.startswith("INSERT INTO filings"):
            raise RuntimeError("the filings insert fails")

    event.listen(db.engine, "before_cursor_execute", fail_filings)
    try:
        with pytest.raises(RuntimeError, match="filings insert"):
            intake(db, add_urls, principal, case_id, VALID, allow_partial=False)
    finally:
        event.remove(db.engine, "before_cursor_execute", fail_filings)

    assert counts(db) == before and jobs == []


@pytest.mark.postgresql_only
def test_urls_logged_meanwhile_by_another_request_are_a_409(client, people, db):
    # A double submission: the other request commits the same URL between this one's duplicate
    # search and its insert; the unique constraint refuses it and nothing of this one is kept.
    case_id = new_case(client, people)
    principal = principal_of(db, people)
    jobs = recorded_jobs()

    other_requests = [[VALID[0]]]

    def the_other_request_first(connection, cursor, statement, *_: Any) -> None:
        if statement.startswith("INSERT INTO reports") and other_requests:
            intake(db, add_urls, principal, case_id, other_requests.pop(), allow_partial=False)

    event.listen(db.engine, "before_cursor_execute", the_other_request_first)
    try:
        refused = intake(db, add_urls, principal, case_id, VALID, allow_partial=False)
    finally:
        event.remove(db.engine, "before_cursor_execute", the_other_request_first)

    assert isinstance(refused, Conflict)
    assert [(problem.loc, problem.type) for problem in refused.problems] == [
        (("body", "urls"), "report.logged_concurrently")
    ]
    assert counts(db)[:3] == (1, 1, 1) and len(jobs) == 1


def test_the_same_urls_logged_twice_at_the_same_moment_are_logged_once(client, people, db):
    # A double submission (two tabs, a retried request): both requests run the intake at the
    # same moment on their own connections. One creates the reports; the other finds them as
    # duplicates, or, when both searched before either wrote, is refused as a whole by the
    # unique constraint (a 409). Neither fails, nothing is logged twice.
    principal = principal_of(db, people)
    recorded_jobs()
    for _round in range(5):
        case_id = new_case(client, people)
        start = threading.Barrier(2)
        answers: list[Any] = []

        def submit() -> None:
            start.wait()
            try:
                answers.append(intake(db, add_urls, principal, case_id, VALID, allow_partial=True))
            except Exception as error:  # noqa: BLE001 - what the test is about
                answers.append(error)

        threads = [threading.Thread(target=submit) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(answers) == 2, answers
        assert not [a for a in answers if isinstance(a, Exception) and not isinstance(a, Conflict)]
        created = [
            result.report_id
            for answer in answers
            if isinstance(answer, list)
            for result in answer
            if result.outcome == "created"
        ]
        with db.session() as session:
            logged = session.exec(select(Report.id).where(Report.case_id == case_id)).all()
        assert sorted(created) == sorted(logged) and logged
