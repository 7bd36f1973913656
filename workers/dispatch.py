"""How jobs leave this process: to Celery on Redis, or to an in-process thread pool."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tracker.jobs import Dispatcher, JobKind

logger = logging.getLogger(__name__)


def celery_dispatcher() -> Dispatcher:
    """Send jobs to their Celery queues."""
    from workers.celery_app import QUEUES, app

    def send(kind: JobKind, args: tuple[Any, ...]) -> None:
        app.send_task(f"tracker.{kind.value}", args=list(args), queue=QUEUES[kind])

    return send


class InProcessRunner:
    """Runs jobs on a small thread pool in this process (the embedded default, no Redis)."""

    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tracker-job")

    def dispatch(self, kind: JobKind, args: tuple[Any, ...]) -> None:
        """Queue one job on the pool."""
        self._pool.submit(self._run, kind, args)

    @staticmethod
    def _run(kind: JobKind, args: tuple[Any, ...]) -> None:
        from tracker.logs import job_context
        from workers.jobs import JOBS

        try:
            with job_context(None):
                JOBS[kind.value](*args)
        except Exception:
            # The row's lease expires and the sweep retries it: log and carry on.
            logger.exception("in-process job %s failed", kind.value)

    def shutdown(self) -> None:
        """Finish running jobs and stop."""
        self._pool.shutdown(wait=True, cancel_futures=True)
