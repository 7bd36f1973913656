"""How jobs leave this process: to Celery on Redis, or to in-process thread pools; and how many
of a kind wait to be taken, which the re-check sweep reads to claim what workers can absorb."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tracker.jobs import QUEUES, Dispatcher, JobKind, QueueDepth
from tracker.metrics import observe_job_latency

logger = logging.getLogger(__name__)

#: kombu's Redis transport keeps a queue's messages of priority p > 0 in "<queue>\x06\x16<p>".
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)


#: The message header carrying when a job was sent (wall-clock seconds: the worker that takes
#: it runs elsewhere), for ``tracker_job_latency_seconds``.
SENT_AT_HEADER = "tracker_sent_at"


def celery_dispatcher() -> Dispatcher:
    """Send jobs to their Celery queues."""
    from workers.celery_app import app

    def send(kind: JobKind, args: tuple[Any, ...]) -> None:
        app.send_task(
            f"tracker.{kind.value}",
            args=list(args),
            queue=QUEUES[kind],
            headers={SENT_AT_HEADER: time.time()},
        )

    return send


def celery_queue_depth(redis_url: str) -> QueueDepth:
    """How many messages wait in a kind's Celery queue on Redis (taken ones not counted)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)

    def depth(kind: JobKind) -> int:
        queue = QUEUES[kind]
        names = [queue, *(f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS)]
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.llen(name)
            return sum(int(count) for count in pipe.execute())

    return depth


class InProcessRunner:
    """Runs jobs on thread pools in this process (the embedded default, no Redis).

    Re-checks have a pool of their own, so a large re-check sweep never delays a filing or a
    notification (the traffic classes of the Celery queues). The pools count what waits, by
    queue as Celery's would: a kind's depth is that of its queue.
    """

    def __init__(self, workers: int = 2, recheck_workers: int = 2) -> None:
        self._pools = {
            "rechecks": ThreadPoolExecutor(
                max_workers=recheck_workers, thread_name_prefix="tracker-recheck"
            ),
            "other": ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tracker-job"),
        }
        self._waiting: dict[str, int] = {}
        self._lock = threading.Lock()

    def dispatch(self, kind: JobKind, args: tuple[Any, ...]) -> None:
        """Queue one job on its pool."""
        with self._lock:
            self._waiting[QUEUES[kind]] = self._waiting.get(QUEUES[kind], 0) + 1
        pool = self._pools["rechecks" if kind is JobKind.RECHECK else "other"]
        pool.submit(self._run, kind, args, time.monotonic())

    def depth(self, kind: JobKind) -> int:
        """Jobs queued in this kind's queue and not yet started."""
        with self._lock:
            return self._waiting.get(QUEUES[kind], 0)

    def _run(self, kind: JobKind, args: tuple[Any, ...], sent_at: float) -> None:
        from tracker.logs import job_context
        from workers.jobs import JOBS

        with self._lock:
            self._waiting[QUEUES[kind]] -= 1
        observe_job_latency(queue=QUEUES[kind], seconds=time.monotonic() - sent_at)
        try:
            with job_context(None):
                JOBS[kind.value](*args)
        except Exception:
            # The row's lease expires and the sweep retries it: log and carry on.
            logger.exception("in-process job %s failed", kind.value)

    def shutdown(self) -> None:
        """Finish running jobs and stop."""
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
