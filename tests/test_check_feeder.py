"""The re-check sweep claims what the workers absorb: it keeps the queue a few seconds deep at
the rate batches are taken, instead of a fixed number per sweep."""

from __future__ import annotations

import threading

from conftest import new_case, reset_settings
from sqlalchemy import update
from sqlmodel import col, select

from tracker.db import utcnow
from tracker.jobs import JobKind, install_dispatcher
from tracker.reports.models import Report
from workers import jobs
from workers.dispatch import InProcessRunner
from workers.scheduler import SWEEP_LIMIT, CheckFeeder


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _due_reports(client, people, db, count: int) -> None:  # type: ignore[no-untyped-def]
    case_id = new_case(client, people)
    answer = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": [f"https://x.com/fakeuser/status/{n}" for n in range(count)]},
        headers=people.auth("alice"),
    )
    assert answer.status_code == 200, answer.text
    with db.transaction() as session:
        session.execute(update(Report).values(next_check_at=utcnow(), check_lease_until=None))


def _leased(db) -> int:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return len(
            session.exec(select(Report.id).where(col(Report.check_lease_until).is_not(None))).all()
        )


def test_the_queue_is_topped_up_at_the_rate_batches_are_taken(client, people, db):
    _due_reports(client, people, db, 200)
    reset_settings(
        TRACKER_RECHECK_BATCH_SIZE="5",
        TRACKER_RECHECK_QUEUE_MIN_BATCHES="2",
        TRACKER_RECHECK_QUEUE_SECONDS="2",
    )
    queue: list[list[int]] = []
    install_dispatcher(
        lambda kind, args: queue.append(args[0]) if kind is JobKind.RECHECK else None,
        lambda kind: len(queue) if kind is JobKind.RECHECK else 0,
    )
    clock = FakeClock()
    feeder = CheckFeeder(clock=clock)
    try:
        from tracker.settings import get_settings

        settings = get_settings()
        # Nothing known of the workers yet: the minimum, two batches of five.
        assert feeder.sweep(db, settings) == 10
        assert [len(batch) for batch in queue] == [5, 5]
        # A second later both were taken and the queue ran dry: 2 batches/s seen, doubled
        # because the workers could have taken more, 2 s of work at 4/s = 8 batches.
        clock.now += 1
        queue.clear()
        assert feeder.sweep(db, settings) == 40
        assert len(queue) == 8
        # Another second and nothing was taken: the rate halves to 2/s, 4 batches are enough,
        # and 8 wait already: nothing more is claimed.
        clock.now += 1
        assert feeder.sweep(db, settings) == 0
        # Half of them taken within the next second: 4 batches/s seen, (2 + 4) / 2 = 3/s
        # smoothed, 6 batches wanted, 4 wait: two more.
        clock.now += 1
        del queue[:4]
        assert feeder.sweep(db, settings) == 10
        assert _leased(db) == 60
        every = [report_id for batch in queue for report_id in batch]
        assert len(every) == len(set(every))
    finally:
        install_dispatcher(None)
        reset_settings(
            TRACKER_RECHECK_BATCH_SIZE="200",
            TRACKER_RECHECK_QUEUE_MIN_BATCHES="2",
            TRACKER_RECHECK_QUEUE_SECONDS="2",
        )


def test_without_a_queue_depth_the_sweep_claims_its_fixed_share(client, people, db):
    _due_reports(client, people, db, 30)
    sent: list[list[int]] = []
    install_dispatcher(lambda kind, args: sent.append(args[0]) if kind is JobKind.RECHECK else None)
    try:
        from tracker.settings import get_settings

        assert CheckFeeder().sweep(db, get_settings()) == 30
        assert sum(len(batch) for batch in sent) == 30 <= SWEEP_LIMIT
    finally:
        install_dispatcher(None)


def test_the_in_process_runner_counts_the_rechecks_waiting(monkeypatch):
    release = threading.Event()
    started = threading.Event()

    def blocked(report_ids: list[int]) -> int:
        started.set()
        release.wait(5)
        return 0

    monkeypatch.setitem(jobs.JOBS, "recheck_batch", blocked)
    runner = InProcessRunner(workers=1, recheck_workers=1)
    try:
        for batch in ([1], [2], [3]):
            runner.dispatch(JobKind.RECHECK, (batch,))
        started.wait(5)
        # One runs, two wait; other kinds have a pool of their own and wait for nothing.
        assert runner.depth(JobKind.RECHECK) == 2
        assert runner.depth(JobKind.FILE) == 0
    finally:
        release.set()
        runner.shutdown()
