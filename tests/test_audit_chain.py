"""The hash-chained audit log: the chain, its verification, tampering named, the append-only
triggers, concurrent appends, the CLI, the admin API and the console page."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import People, _postgres_database, new_case
from console_client import signed_in
from sqlalchemy import exc, text
from sqlmodel import col, select

from tracker.audit.chain import (
    HASH_MISMATCH,
    MISSING_LINK,
    PREV_HASH_MISMATCH,
    link_hash,
    verify_chain,
)
from tracker.audit.guard import guard_lifted
from tracker.audit.models import GENESIS_HASH, AuditEvent
from tracker.audit.service import record
from tracker.console.pages.audit import detail_items
from tracker.organisations.models import Role


def _events(db: Any) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.sequence))).all())


def _record_some(db: Any, count: int, organisation_id: int | None = None) -> None:
    for number in range(count):
        with db.transaction() as session:
            record(
                session=session,
                actor="test",
                action="test.done",
                object_type="case",
                object_id=number + 1,
                organisation_id=organisation_id,
                details={"number": number, "fields": ["a", "b"], "ratio": 0.5, "ok": True},
            )


def _verify(db: Any, batch_size: int = 1000) -> Any:
    with db.session() as session:
        return verify_chain(session=session, batch_size=batch_size)


@contextmanager
def _as_attacker(db: Any) -> Iterator[Any]:
    """A connection of someone with database access who switched the guard off first."""
    with db.engine.begin() as connection:
        if db.is_postgresql:
            connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            try:
                yield connection
            finally:
                connection.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
        else:
            with guard_lifted(connection):
                yield connection


def test_every_event_is_a_link_and_the_chain_verifies(db: Any, client: Any, people: People):
    new_case(client, people)
    _record_some(db, 4)
    events = _events(db)
    assert [event.sequence for event in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS_HASH
    for before, event in zip(events, events[1:], strict=False):
        assert event.prev_hash == before.hash
    for event in events:
        assert len(event.hash) == 64
        assert event.hash == link_hash(
            sequence=event.sequence,
            prev_hash=event.prev_hash,
            organisation_id=event.organisation_id,
            actor=event.actor,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            details=event.details,
            at=event.at,
        )
    for batch_size in (1, 2, 1000):
        report = _verify(db, batch_size)
        assert report.intact and report.checked == len(events), batch_size
        assert (report.broken_sequence, report.broken_id, report.reason) == (None, None, None)


def test_an_empty_chain_is_intact(db: Any):
    report = _verify(db)
    assert report.intact and report.checked == 0


def test_events_of_one_transaction_follow_each_other(db: Any):
    with db.transaction() as session:
        for number in range(3):
            record(
                session=session,
                actor="test",
                action="test.batch",
                object_type="case",
                object_id=number,
                organisation_id=None,
            )
    assert [event.sequence for event in _events(db)] == [1, 2, 3]
    with pytest.raises(RuntimeError):  # a rolled-back transaction leaves no link behind
        with db.transaction() as session:
            record(
                session=session,
                actor="test",
                action="test.lost",
                object_type="case",
                object_id=9,
                organisation_id=None,
            )
            raise RuntimeError("rolled back")
    _record_some(db, 1)
    assert [event.sequence for event in _events(db)] == [1, 2, 3, 4]
    assert _verify(db).intact


def test_the_database_refuses_a_plain_update_or_delete(db: Any):
    _record_some(db, 2)
    for statement in (
        "UPDATE audit_events SET details = '{}' WHERE sequence = 1",
        "DELETE FROM audit_events WHERE sequence = 2",
    ):
        with pytest.raises(exc.DBAPIError, match="append-only"):
            with db.engine.begin() as connection:
                connection.execute(text(statement))
    assert len(_events(db)) == 2 and _verify(db).intact


def test_a_changed_event_is_named(db: Any):
    _record_some(db, 5)
    target = _events(db)[2]
    with _as_attacker(db) as connection:
        connection.execute(
            text("UPDATE audit_events SET details = :details WHERE id = :id"),
            {"details": '{"number": 99}', "id": target.id},
        )
    report = _verify(db)
    assert not report.intact
    assert (report.broken_id, report.broken_sequence, report.reason) == (
        target.id,
        target.sequence,
        HASH_MISMATCH,
    )
    assert report.checked == 2
    # The guard is back once the attacker is done.
    with pytest.raises(exc.DBAPIError, match="append-only"):
        with db.engine.begin() as connection:
            connection.execute(text("DELETE FROM audit_events"))


def test_a_changed_time_or_actor_is_named(db: Any):
    _record_some(db, 3)
    target = _events(db)[1]
    with _as_attacker(db) as connection:
        connection.execute(
            text("UPDATE audit_events SET actor = 'user:1' WHERE id = :id"), {"id": target.id}
        )
    assert _verify(db).broken_id == target.id


def test_a_deleted_event_is_a_missing_link(db: Any):
    _record_some(db, 5)
    events = _events(db)
    with _as_attacker(db) as connection:
        connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": events[1].id})
    report = _verify(db, batch_size=2)
    assert (report.broken_id, report.broken_sequence, report.reason) == (
        events[2].id,
        3,
        MISSING_LINK,
    )


def test_a_deleted_last_event_is_a_missing_link(db: Any):
    _record_some(db, 3)
    with _as_attacker(db) as connection:
        connection.execute(text("DELETE FROM audit_events WHERE sequence = 3"))
    report = _verify(db)
    assert (report.broken_id, report.broken_sequence, report.reason) == (None, 3, MISSING_LINK)


def test_reordered_events_are_named(db: Any):
    _record_some(db, 5)
    events = _events(db)
    with _as_attacker(db) as connection:
        for sequence, new in ((2, -2), (3, 2), (-2, 3)):
            connection.execute(
                text("UPDATE audit_events SET sequence = :new WHERE sequence = :old"),
                {"new": new, "old": sequence},
            )
    report = _verify(db)
    assert (report.broken_id, report.broken_sequence, report.reason) == (
        events[2].id,  # the third event, now second in the chain
        2,
        PREV_HASH_MISMATCH,
    )


def test_concurrent_appends_do_not_fork_the_chain(db: Any):
    threads_count, per_thread = 4, 8
    start = threading.Barrier(threads_count)
    failures: list[BaseException] = []

    def append_many(worker: int) -> None:
        try:
            start.wait()
            for number in range(per_thread):
                with db.transaction() as session:
                    record(
                        session=session,
                        actor="worker",
                        action="test.concurrent",
                        object_type="case",
                        object_id=worker * 100 + number,
                        organisation_id=None,
                    )
        except BaseException as error:  # noqa: BLE001
            failures.append(error)

    threads = [threading.Thread(target=append_many, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    events = _events(db)
    total = threads_count * per_thread
    assert [event.sequence for event in events] == list(range(1, total + 1))
    assert len({event.prev_hash for event in events}) == total  # no two links share a parent
    report = _verify(db)
    assert report.intact and report.checked == total


@pytest.mark.postgresql_only
def test_an_append_waits_for_the_chain_lock(db: Any):
    """A second transaction cannot read the tail while the first holds it (PostgreSQL)."""
    first = db.session()
    record(
        session=first,
        actor="test",
        action="test.first",
        object_type="case",
        object_id=1,
        organisation_id=None,
    )
    done = threading.Event()

    def second() -> None:
        with db.transaction() as session:
            record(
                session=session,
                actor="test",
                action="test.second",
                object_type="case",
                object_id=2,
                organisation_id=None,
            )
        done.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not done.wait(1.0)  # blocked on the advisory lock
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert done.is_set()
    assert [(e.sequence, e.action) for e in _events(db)] == [(1, "test.first"), (2, "test.second")]
    assert _verify(db).intact


def test_the_migration_chains_existing_events_in_id_order(backend: str, tmp_path: Any):
    from alembic import command

    from tracker.db import Database, make_engine
    from tracker.migrations.config import alembic_config

    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'backfill.sqlite3'}"
    else:
        url, drop = _postgres_database()
    database = Database(make_engine(url))
    try:
        with database.engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0008")
        with database.engine.begin() as connection:
            for number, at in ((1, "2025-01-02 03:04:05.123456"), (2, "2025-01-01 00:00:00")):
                connection.execute(
                    text(
                        "INSERT INTO audit_events (actor, action, object_type, object_id, "
                        "details, at) VALUES ('system', 'old.event', 'case', :id, :details, :at)"
                    ),
                    {"id": number, "details": f'{{"n": {number}}}', "at": at},
                )
        with database.engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0009")
        events = _events(database)
        assert [(event.sequence, event.object_id) for event in events] == [(1, 1), (2, 2)]
        assert _verify(database).intact
        _record_some(database, 1)
        assert _verify(database).checked == 3
        with database.engine.begin() as connection:  # down and up again: chained afresh
            command.downgrade(alembic_config(connection), "0008")
        with database.engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0009")
        assert [event.object_id for event in _events(database)] == [1, 2, 1]
        assert _verify(database).checked == 3
    finally:
        database.engine.dispose()
        if drop is not None:
            drop()


def _cli(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tracker.cli", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_verifies_and_names_the_broken_event(tmp_path: Any):
    database_file = tmp_path / "cli.sqlite3"
    environment = {
        **os.environ,
        "TRACKER_DATA_DIR": str(tmp_path),
        "TRACKER_DATABASE_URL": f"sqlite:///{database_file}",
    }
    environment.pop("TRACKER_ENCRYPTION_KEYS", None)
    assert _cli(environment, "db", "upgrade").returncode == 0
    empty = _cli(environment, "audit", "verify")
    assert (empty.returncode, empty.stdout) == (0, "audit chain intact: 0 events\n")
    for name in ("Asha K.", "Bela M."):
        created = _cli(
            environment,
            *("users", "create", "--organisation", "Org", "--name", name, "--role", "caseworker"),
        )
        assert created.returncode == 0, created.stderr
    with sqlite3.connect(database_file) as connection:
        count = connection.execute("SELECT count(*) FROM audit_events").fetchone()[0]
        target_id, target_sequence = connection.execute(
            "SELECT id, sequence FROM audit_events ORDER BY sequence LIMIT 1 OFFSET 1"
        ).fetchone()
    assert count >= 4
    intact = _cli(environment, "audit", "verify")
    assert (intact.returncode, intact.stdout) == (0, f"audit chain intact: {count} events\n")
    with sqlite3.connect(database_file) as connection:
        connection.execute("DROP TRIGGER audit_events_no_update")
        connection.execute(
            'UPDATE audit_events SET details = \'{"role": "admin"}\' WHERE id = ?', (target_id,)
        )
    broken = _cli(environment, "audit", "verify")
    assert broken.returncode == 1
    assert broken.stdout == (
        f"audit chain broken at event {target_id} (sequence {target_sequence}): hash mismatch\n"
    )


def test_admins_list_their_organisations_events(db: Any, client: Any, people: People):
    people.add("outsider_admin", "other", Role.ADMIN)
    case_id = new_case(client, people)
    new_case(client, people, who="outsider", label="Case FAKE-OTHER")
    auth = people.auth
    answer = client.get("/api/v1/audit?limit=200", headers=auth("admin"))
    assert answer.status_code == 200, answer.text
    page = answer.json()
    with db.session() as session:
        helpline = people_organisation(session, people, "admin")
        own = session.exec(
            select(AuditEvent.id).where(AuditEvent.organisation_id == helpline)
        ).all()
    assert sorted(item["id"] for item in page["items"]) == sorted(own)
    assert page["total"] == len(own) and page["limit"] == 200 and page["offset"] == 0
    sequences = [item["sequence"] for item in page["items"]]
    assert sequences == sorted(sequences, reverse=True)  # newest first
    first = page["items"][0]
    assert set(first) == {
        "id",
        "sequence",
        "actor",
        "action",
        "object_type",
        "object_id",
        "details",
        "at",
        "prev_hash",
        "hash",
    }
    created = client.get(
        f"/api/v1/audit?action=case.created&object_type=case&object_id={case_id}",
        headers=auth("admin"),
    ).json()
    assert [(i["action"], i["object_id"]) for i in created["items"]] == [("case.created", case_id)]
    # The other organisation's admin sees its own case's event, not this one.
    other = client.get("/api/v1/audit?action=case.created", headers=auth("outsider_admin")).json()
    assert [item["object_id"] for item in other["items"]] != [case_id]
    assert other["total"] == 1
    paged = client.get("/api/v1/audit?limit=1&offset=1", headers=auth("admin")).json()
    assert [item["id"] for item in paged["items"]] == [page["items"][1]["id"]]
    for who in ("alice", "bob", "supervisor", "dashboard", "outsider"):
        for path in ("/api/v1/audit", "/api/v1/audit/verify"):
            assert client.get(path, headers=auth(who)).status_code == 403, (who, path)
    assert client.get("/api/v1/audit?object_id=0", headers=auth("admin")).status_code == 422


def people_organisation(session: Any, people: People, who: str) -> int:
    from tracker.organisations.models import User

    user = session.get(User, people.ids[who])
    return int(user.organisation_id)


def test_verification_over_the_api_names_only_the_place(db: Any, client: Any, people: People):
    people.add("outsider_admin", "other", Role.ADMIN)
    new_case(client, people, who="outsider", label="Case FAKE-OTHER")
    new_case(client, people)
    with db.session() as session:
        count = len(session.exec(select(AuditEvent.id)).all())
    intact = client.get("/api/v1/audit/verify", headers=people.auth("admin"))
    assert intact.json() == {"intact": True, "checked": count, "broken_at": None, "reason": None}
    with db.session() as session:
        other = people_organisation(session, people, "outsider")
        target = session.exec(
            select(AuditEvent)
            .where(AuditEvent.organisation_id == other)
            .where(AuditEvent.action == "case.created")
        ).one()
    with _as_attacker(db) as connection:
        connection.execute(
            text("UPDATE audit_events SET object_id = 4242 WHERE id = :id"), {"id": target.id}
        )
    broken = client.get("/api/v1/audit/verify", headers=people.auth("admin"))
    assert broken.json() == {
        "intact": False,
        "checked": target.sequence - 1,
        "broken_at": target.sequence,
        "reason": "hash mismatch",
    }


CODE = '<code lang="en">%s</code>'


def test_the_console_page_lists_and_verifies_for_admins(db: Any, client: Any, people: People):
    case_id = new_case(client, people)
    for who in ("alice", "supervisor"):
        page = signed_in(client, people, who).get("/audit")
        assert page.status_code == 403, who
        client.cookies.clear()
    admin = signed_in(client, people, "admin")
    page = admin.get("/audit")
    assert page.status_code == 200, page.text
    assert "<h1>Audit log</h1>" in page.text and 'href="/audit"' in page.text
    assert f'href="/cases/{case_id}"' in page.text and CODE % "case.created" in page.text
    assert "Case FAKE-001" not in page.text
    filtered = admin.get("/audit?action=user.password_set")
    assert CODE % "user.password_set" in filtered.text
    assert CODE % "case.created" not in filtered.text
    refused = admin.get("/audit?object_id=twelve")
    assert refused.status_code == 400 and "The object id must be a whole number." in refused.text
    verified = admin.post("/audit/verify")
    assert verified.status_code == 200
    assert "The chain is intact" in verified.text
    assert admin.client.post("/audit/verify", data={}).status_code in (400, 403)
    target = _events(db)[0]
    with _as_attacker(db) as connection:
        connection.execute(
            text("UPDATE audit_events SET action = 'x' WHERE id = :id"), {"id": target.id}
        )
    broken = admin.post("/audit/verify")
    assert "The chain is broken at event number 1" in broken.text


def test_details_leave_out_keys_that_could_name_someone():
    details = {
        "fields": ["label", "status"],
        "count": 3,
        "contact_email": "x@example.org",
        "label": "Case",
        "nested": {"a": 1},
        "enabled": True,
    }
    assert detail_items(details) == [
        ("count", "3"),
        ("enabled", "True"),
        ("fields", "label, status"),
    ]
