"""Background jobs the domain asks for, sent only after the transaction commits.

The domain names a job and its ids; whoever runs the process (the Celery producer or the
embedded in-process runner) installs the ``Dispatcher`` that sends it. The database stays the
source of truth: a job that is never sent (Redis down, a crash right after commit) is found
again by the scheduler's sweeps once its lease expires.
"""

from __future__ import annotations

import enum
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)


class JobKind(enum.StrEnum):
    FILE = "file_filing"
    POLL = "poll_filing"
    RECHECK = "recheck_batch"
    ESCALATE = "escalate_report"
    DELIVER = "deliver_notification"
    WITHDRAW = "send_withdrawal"


#: The queue (traffic class) of each kind, so a large re-check sweep never starves new filings.
#: Celery routes by it; the in-process runner counts what waits by it; metrics label by it.
QUEUES: dict[JobKind, str] = {
    JobKind.FILE: "filing",
    JobKind.POLL: "polling",
    JobKind.RECHECK: "rechecks",
    JobKind.ESCALATE: "escalation",
    JobKind.DELIVER: "notifications",
    JobKind.WITHDRAW: "filing",
}

Dispatcher = Callable[[JobKind, tuple[Any, ...]], None]
#: How many jobs wait to be taken in the queue of a kind (None: the dispatcher cannot tell).
QueueDepth = Callable[[JobKind], int | None]

_PENDING_KEY = "tracker.pending_jobs"


class _DispatcherHolder:
    dispatcher: Dispatcher | None = None
    depth: QueueDepth | None = None


def install_dispatcher(dispatcher: Dispatcher | None, depth: QueueDepth | None = None) -> None:
    """Set how this process sends jobs (None: jobs are left to the sweeps), and how it tells
    how many wait (the re-check sweep claims in proportion to how fast they are taken)."""
    _DispatcherHolder.dispatcher = dispatcher
    _DispatcherHolder.depth = depth


def queue_depth(kind: JobKind) -> int | None:
    """How many jobs wait to be taken in this kind's queue; None if unknown (or unreachable)."""
    depth = _DispatcherHolder.depth
    if depth is None:
        return None
    try:
        return depth(kind)
    except Exception:
        logger.warning("could not read the %s queue's depth", kind, exc_info=True)
        return None


def enqueue_after_commit(session: Session, kind: JobKind, *args: Any) -> None:
    """Ask for a job to be sent once ``session`` commits; dropped if it rolls back."""
    session.info.setdefault(_PENDING_KEY, []).append((kind, args))


def send_now(kind: JobKind, *args: Any) -> bool:
    """Send a job immediately (for sweeps, which have already committed their claim)."""
    dispatcher = _DispatcherHolder.dispatcher
    if dispatcher is None:
        return False
    try:
        dispatcher(kind, args)
    except Exception:
        # The claim's lease expires and the next sweep sends it again: log, don't fail the caller.
        logger.warning("could not send job %s; the sweep will retry", kind, exc_info=True)
        return False
    return True


#: A commit that asks for more jobs than this hands them to the background sender.
SEND_IN_BACKGROUND_FROM = 100


class _BackgroundSender:
    """Sends a large commit's jobs from a thread of its own, so the request or job that
    committed them does not wait for thousands of publishes (an intake of 10,000 URLs asks for
    10,000 filings: about 3 s of Celery publishing). Jobs stay in order. Nothing is lost if the
    process dies first: every job's row is leased, and the sweep sends it when the lease ends.
    """

    def __init__(self) -> None:
        self.waiting: queue.SimpleQueue[list[tuple[JobKind, tuple[Any, ...]]]] = queue.SimpleQueue()
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self._run, name="tracker-job-sender", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            for kind, args in self.waiting.get():
                send_now(kind, *args)


class _SenderHolder:
    sender: _BackgroundSender | None = None
    lock = threading.Lock()


def _background_sender() -> _BackgroundSender:
    with _SenderHolder.lock:
        sender = _SenderHolder.sender
        if sender is None or sender.pid != os.getpid():  # a forked child starts its own
            sender = _SenderHolder.sender = _BackgroundSender()
        return sender


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    jobs = session.info.pop(_PENDING_KEY, [])
    if len(jobs) > SEND_IN_BACKGROUND_FROM and _DispatcherHolder.dispatcher is not None:
        _background_sender().waiting.put(jobs)
        return
    for kind, args in jobs:
        send_now(kind, *args)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_PENDING_KEY, None)
