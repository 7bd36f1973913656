"""Background jobs the domain asks for, sent only after the transaction commits.

The domain names a job and its ids; whoever runs the process (the Celery producer or the
embedded in-process runner) installs the ``Dispatcher`` that sends it. The database stays the
source of truth: a job that is never sent (Redis down, a crash right after commit) is found
again by the scheduler's sweeps once its lease expires.
"""

from __future__ import annotations

import enum
import logging
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


Dispatcher = Callable[[JobKind, tuple[Any, ...]], None]
#: How many jobs of a kind wait to be taken (None: the dispatcher cannot tell).
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
    """How many jobs of this kind wait to be taken; None if unknown (or unreachable)."""
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


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for kind, args in session.info.pop(_PENDING_KEY, []):
        send_now(kind, *args)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_PENDING_KEY, None)
