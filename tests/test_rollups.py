"""The report counts the database keeps: equal to a recount after any mix of writes, whoever
makes them (the services, bulk SQL, deletes), folded or not (the migration that fills them is
tested in test_rollups_migration.py)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from conftest import new_case
from rollup_checks import assert_counts_exact, organisation_of
from sqlalchemy import text
from sqlmodel import select

from tracker.db import utcnow
from tracker.organisations.models import Role
from tracker.organisations.service import Principal
from tracker.reports.lifecycle import ALLOWED_TRANSITIONS, ReportState
from tracker.reports.models import Report
from tracker.reports.rollup_triggers import TRIGGER_NAMES, installed_rollup_triggers
from tracker.reports.rollups import (
    fold_rollups,
    pending_deltas,
    rebuild_rollups,
)
from tracker.reports.transitions import move

PLATFORM_URLS = {
    "x": "https://x.com/fakeuser/status/{n}",
    "reddit": "https://reddit.com/r/fakesub/comments/{n}/fake",
    "youtube": "https://youtube.com/watch?v=FAKE{n:07d}",
    "web": "https://fake-{n}.example/leak",
}


def intake(client: Any, people: Any, case_id: int, numbers: list[int], who: str) -> list[int]:
    urls = [PLATFORM_URLS[list(PLATFORM_URLS)[n % 4]].format(n=n) for n in numbers]
    response = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": urls}, headers=people.auth(who)
    )
    assert response.status_code == 200, response.text
    return [result["report_id"] for result in response.json()["results"]]


def random_moves(db: Any, chooser: random.Random, count: int) -> int:
    """Move ``count`` random reports along allowed transitions with ``move``; how many moved."""
    moved = 0
    with db.transaction() as session:
        reports = list(session.exec(select(Report).order_by(Report.id)).all())
        for report in chooser.sample(reports, min(count, len(reports))):
            targets = sorted(ALLOWED_TRANSITIONS[ReportState(report.state)])
            if not targets:
                continue
            move(
                session=session,
                report=report,
                to_state=chooser.choice(targets),
                cause="test move",
                actor="test",
            )
            moved += 1
    return moved


def test_the_counting_triggers_are_in_place_at_the_newest_schema(db):
    with db.engine.connect() as connection:
        installed = installed_rollup_triggers(connection)
    assert installed == TRIGGER_NAMES[db.engine.dialect.name]


def test_counts_equal_a_recount_after_a_random_mix_of_writes(client, people, db):
    chooser = random.Random(20261205)
    alice_case = new_case(client, people)
    bob_case = new_case(client, people, who="bob")
    held_case = new_case(client, people, authority_to_act=False)
    organisation_id = organisation_of(db)
    numbers = iter(range(1, 10_000))
    for round_number in range(4):
        for case_id, who in ((alice_case, "alice"), (bob_case, "bob"), (held_case, "alice")):
            intake(client, people, case_id, [next(numbers) for _ in range(6)], who)
        assert_counts_exact(db, organisation_id)
        assert random_moves(db, chooser, 8) > 0
        assert_counts_exact(db, organisation_id)
        with db.engine.begin() as connection:
            # A bulk load and a bulk state change in SQL, as a recorder or an operator does.
            connection.execute(
                text(
                    "INSERT INTO reports (case_id, organisation_id, original_url, canonical_url,"
                    " host, platform, state, policy_version_id, rung_index, consecutive_removed,"
                    " watch_step, created_at, updated_at)"
                    " SELECT case_id, organisation_id, canonical_url || '?copy=' || :round,"
                    " canonical_url || '?copy=' || :round, host, platform, 'removed',"
                    " policy_version_id, 0, 2, 0, created_at, updated_at"
                    " FROM reports WHERE id % 3 = 0 AND canonical_url NOT LIKE '%copy=%'"
                ),
                {"round": round_number},
            )
            connection.execute(
                text(
                    "UPDATE reports SET state = 'closed' "
                    "WHERE canonical_url LIKE :copy AND id % 2 = 0"
                ),
                {"copy": f"%copy={round_number}"},
            )
            # A platform and a case change: both are counted columns.
            connection.execute(
                text(
                    "UPDATE reports SET platform = 'reddit', case_id = :case "
                    "WHERE canonical_url LIKE :copy AND id % 5 = 1"
                ),
                {"copy": f"%copy={round_number}", "case": bob_case},
            )
            # An update of no counted column changes nothing.
            connection.execute(text("UPDATE reports SET last_verdict = 'live'"))
        assert_counts_exact(db, organisation_id)
        with db.engine.begin() as connection:
            connection.execute(
                text("DELETE FROM reports WHERE canonical_url LIKE :copy AND id % 4 = 0"),
                {"copy": f"%copy={round_number}"},
            )
        assert_counts_exact(db, organisation_id)
        if round_number % 2:
            with db.transaction() as session:
                fold_rollups(session=session)
            with db.transaction() as session:
                assert pending_deltas(session=session) == 0
            assert_counts_exact(db, organisation_id)
    withdrawn = client.post(
        f"/api/v1/cases/{alice_case}/withdraw", json={"confirm": True}, headers=people.auth("alice")
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["reports_closed"] > 0
    assert_counts_exact(db, organisation_id)
    with db.transaction() as session:
        fold_rollups(session=session)
    assert_counts_exact(db, organisation_id)


def test_a_fold_in_small_batches_loses_nothing(client, people, db):
    case_id = new_case(client, people)
    organisation_id = organisation_of(db)
    for start in range(0, 40, 8):
        intake(client, people, case_id, list(range(start, start + 8)), "alice")
    random_moves(db, random.Random(7), 12)
    with db.transaction() as session:
        pending = pending_deltas(session=session)
    folded = 0
    while True:
        with db.transaction() as session:
            step = fold_rollups(session=session, limit=3)
        if not step:
            break
        folded += step
        assert_counts_exact(db, organisation_id)
    assert folded == pending
    if db.is_postgresql:
        assert folded > 0  # the writes went through deltas
    else:
        assert folded == 0  # SQLite's triggers count directly


def test_rebuild_recounts_counts_gone_wrong(client, people, db):
    case_id = new_case(client, people)
    organisation_id = organisation_of(db)
    intake(client, people, case_id, list(range(12)), "alice")
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE organisation_report_counts SET report_count = 999"))
        connection.execute(text("DELETE FROM case_report_counts"))
    with db.transaction() as session:
        rebuild_rollups(session=session)
        assert pending_deltas(session=session) == 0
    assert_counts_exact(db, organisation_id)


@pytest.mark.postgresql_only
def test_concurrent_writers_never_wait_on_a_shared_counter(client, people, db):
    case_id = new_case(client, people)
    organisation_id = organisation_of(db)
    intake(client, people, case_id, [1], "alice")
    insert = text(
        "INSERT INTO reports (case_id, organisation_id, original_url, canonical_url, host,"
        " platform, state, policy_version_id, rung_index, consecutive_removed, watch_step,"
        " created_at, updated_at) SELECT case_id, organisation_id, :url, :url, host, platform,"
        " state, policy_version_id, 0, 0, 0, created_at, updated_at FROM reports LIMIT 1"
    )
    first, second = db.engine.connect(), db.engine.connect()
    try:
        first.begin()
        second.begin()
        first.execute(insert, {"url": "https://fake-a.example/one"})
        # Same organisation, case, state and platform, while the first is still open: a
        # counter row would make this wait for the first commit and time out.
        second.execute(text("SET LOCAL lock_timeout = '1s'"))
        second.execute(insert, {"url": "https://fake-b.example/two"})
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    assert_counts_exact(db, organisation_id)


@pytest.mark.postgresql_only
def test_truncate_empties_the_counts(client, people, db):
    case_id = new_case(client, people)
    organisation_id = organisation_of(db)
    intake(client, people, case_id, list(range(5)), "alice")
    with db.transaction() as session:
        fold_rollups(session=session)
    with db.engine.begin() as connection:
        connection.execute(text("TRUNCATE reports CASCADE"))
    assert_counts_exact(db, organisation_id)
    with db.engine.connect() as connection:
        left = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM organisation_report_counts)"
                " + (SELECT count(*) FROM case_report_counts)"
                " + (SELECT count(*) FROM report_count_deltas)"
            )
        ).scalar_one()
    assert left == 0


def test_a_caseworker_principal_reads_only_their_cases_counts(client, people, db):
    """The counts a caseworker's listing reads are those of their own cases only."""
    from tracker.reports.rollups import count_reports
    from tracker.reports.service import case_scope

    mine = new_case(client, people)
    theirs = new_case(client, people, who="bob")
    intake(client, people, mine, list(range(3)), "alice")
    intake(client, people, theirs, list(range(10, 17)), "bob")
    organisation_id = organisation_of(db)
    alice = Principal(
        user_id=people.ids["alice"], organisation_id=organisation_id, role=Role.CASEWORKER
    )
    with db.transaction() as session:
        scope = case_scope(session=session, principal=alice, case_id=None)
        assert scope == [mine]
        now = utcnow()
        assert (
            count_reports(session=session, organisation_id=organisation_id, now=now, case_ids=scope)
            == 3
        )
        assert case_scope(session=session, principal=alice, case_id=theirs) == []


@pytest.mark.postgresql_only
def test_overdue_is_counted_from_the_partial_index_alone(client, people, db):
    """The query names the states on the clock exactly as the index predicate does (a bound
    parameter would not prove it): PostgreSQL reads the index and no table row."""
    from sqlalchemy import event

    from tracker.reports.rollups import overdue_count_query

    case_id = new_case(client, people)
    intake(client, people, case_id, list(range(3)), "alice")
    organisation_id = organisation_of(db)
    captured: list[tuple[str, Any]] = []

    def capture(_connection, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        captured.append((statement, parameters))

    with db.engine.connect() as connection:
        event.listen(connection, "before_cursor_execute", capture)
        connection.execute(
            overdue_count_query(organisation_id=organisation_id, now=utcnow(), state="filed")
        )
        event.remove(connection, "before_cursor_execute", capture)
        connection.execute(text("SET enable_seqscan = off"))
        statement, parameters = captured[-1]
        plan = "\n".join(
            row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        )
    assert "Index Only Scan using ix_reports_on_clock" in plan, plan


def test_the_scheduler_sweep_folds_every_pending_delta(client, people, db):
    from tracker.settings import get_settings
    from workers.scheduler import SWEEPS

    case_id = new_case(client, people)
    intake(client, people, case_id, list(range(9)), "alice")
    random_moves(db, random.Random(3), 4)
    with db.transaction() as session:
        pending = pending_deltas(session=session)
    assert (pending > 0) == db.is_postgresql
    assert SWEEPS["fold_report_counts"](db, get_settings()) == pending
    with db.transaction() as session:
        assert pending_deltas(session=session) == 0
    assert_counts_exact(db, organisation_of(db))
