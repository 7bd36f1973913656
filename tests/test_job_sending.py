"""Jobs leave after commit: a few from the committing thread, a large commit's from a sender
thread of its own, in order; none after a rollback."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from tracker.jobs import SEND_IN_BACKGROUND_FROM, JobKind, enqueue_after_commit, install_dispatcher


def _collect() -> tuple[list[tuple[int, str]], threading.Event]:
    sent: list[tuple[int, str]] = []
    enough = threading.Event()

    def dispatch(kind: JobKind, args: tuple[object, ...]) -> None:
        sent.append((int(args[0]), threading.current_thread().name))  # type: ignore[call-overload]
        if len(sent) > SEND_IN_BACKGROUND_FROM:
            enough.set()

    install_dispatcher(dispatch)
    return sent, enough


def _commit_jobs(db, count: int) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        session.execute(text("SELECT 1"))
        for number in range(count):
            enqueue_after_commit(session, JobKind.FILE, number)


def test_a_few_jobs_leave_from_the_committing_thread(db):
    sent, _ = _collect()
    try:
        _commit_jobs(db, 3)
        here = threading.current_thread().name
        assert sent == [(0, here), (1, here), (2, here)]
    finally:
        install_dispatcher(None)


def test_a_large_commits_jobs_leave_in_order_from_the_sender_thread(db):
    sent, enough = _collect()
    count = SEND_IN_BACKGROUND_FROM + 50
    try:
        _commit_jobs(db, count)
        assert enough.wait(10)
        deadline = time.monotonic() + 10
        while len(sent) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [number for number, _ in sent] == list(range(count))
        assert {thread for _, thread in sent} == {"tracker-job-sender"}
    finally:
        install_dispatcher(None)


def test_no_job_leaves_after_a_rollback(db):
    sent, _ = _collect()
    try:
        with pytest.raises(RuntimeError):
            with db.transaction() as session:
                session.execute(text("SELECT 1"))
                for number in range(SEND_IN_BACKGROUND_FROM + 5):
                    enqueue_after_commit(session, JobKind.FILE, number)
                raise RuntimeError("the write failed")
        time.sleep(0.2)
        assert sent == []
    finally:
        install_dispatcher(None)
