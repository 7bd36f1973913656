"""The Celery application: Redis broker, one queue per traffic class, late acknowledgement."""

import gc
import time
from typing import Any

from celery import Celery
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
)

from tracker.jobs import QUEUES, JobKind
from tracker.logs import job_id_var
from tracker.settings import get_settings

__all__ = ["QUEUES", "app", "make_celery"]

#: Each task's job kind, by Celery task name.
TASK_KINDS = {f"tracker.{kind.value}": kind for kind in JobKind}


def make_celery() -> Celery:
    """A Celery app configured from settings."""
    settings = get_settings()
    app = Celery("tracker", broker=settings.redis_url, include=["workers.tasks"])
    app.conf.update(
        task_ignore_result=True,
        # A task is acknowledged after it ran, so a killed worker's task is delivered again;
        # the database's compare-and-set makes the second delivery harmless.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="rechecks",
        task_routes={f"tracker.{kind.value}": {"queue": queue} for kind, queue in QUEUES.items()},
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        # Publishing must not hang an API request while Redis is away: fail fast, the
        # scheduler's sweep sends the job again once its lease expires.
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
        broker_transport_options={"visibility_timeout": 3600},
        worker_hijack_root_logger=False,
        enable_utc=True,
    )
    return app


app = make_celery()


@task_prerun.connect
def _tag_logs_with_job(task_id: str | None = None, **_: Any) -> None:
    """Every log line a task writes carries its Celery task id."""
    job_id_var.set(task_id)


@task_prerun.connect
def _observe_job_latency(task: Any = None, **_: Any) -> None:
    """How long the job waited, from the time the dispatcher wrote in its header."""
    from tracker.metrics import observe_job_latency
    from workers.dispatch import SENT_AT_HEADER

    request = getattr(task, "request", None)
    if request is None:
        return
    # A custom header is an attribute of the request in a worker, and in request.headers when
    # the task is applied locally.
    sent_at = getattr(request, SENT_AT_HEADER, None) or (request.headers or {}).get(SENT_AT_HEADER)
    if not isinstance(sent_at, int | float):
        return  # sent by something other than our dispatcher
    kind = TASK_KINDS.get(getattr(task, "name", ""))
    queue = QUEUES[kind] if kind is not None else "other"
    observe_job_latency(queue=queue, seconds=time.time() - sent_at)


@task_postrun.connect
def _untag_logs(**_: Any) -> None:
    job_id_var.set(None)


@worker_process_init.connect
def _freeze_start_up_objects(**_: Any) -> None:
    """What a pool process holds from start-up (modules, the app, the tasks) lives as long as it
    does: moved out of the collector's way, full collections stop walking it. Measured in the
    pipeline benchmark: about a fifth of a worker's CPU per check."""
    gc.freeze()


@worker_process_shutdown.connect
def _close_check_runtime(**_: Any) -> None:
    """A pool process that stops hands back the host slots it holds (the shared gate's last
    writes) instead of leaving them to expire with their leases."""
    from workers.recheck.runtime import close_check_runtime

    close_check_runtime()


@worker_process_shutdown.connect
def _send_metrics(**_: Any) -> None:
    """A pool process that stops sends the counts it has not sent yet (``atexit`` does not
    run in a pool process)."""
    from tracker.metrics import close_metrics

    close_metrics()
