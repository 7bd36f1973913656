"""Failures a test queues on a simulator through ``POST /_sim/fail-next``.

Body: ``{"status": 503 | 429 | 500 | 401 | ..., "retry_after": seconds | null, "count": n}``.
The next ``count`` platform API requests (never ``/_sim/`` ones) answer ``status`` in the
platform's own error shape, with a ``Retry-After`` header when ``retry_after`` is given.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field


class FailNext(BaseModel):
    """The body of ``POST /_sim/fail-next``."""

    model_config = ConfigDict(extra="forbid")

    status: int = Field(ge=400, le=599)
    retry_after: float | None = Field(default=None, ge=0)
    count: int = Field(default=1, ge=1, le=1000)


@dataclass(frozen=True, slots=True)
class InjectedFailure:
    """One queued failure."""

    status: int
    retry_after: float | None

    def retry_after_header(self) -> dict[str, str]:
        """The ``Retry-After`` header for this failure, if it has one."""
        if self.retry_after is None:
            return {}
        seconds = self.retry_after
        return {"Retry-After": str(int(seconds)) if seconds == int(seconds) else str(seconds)}


class FailureQueue:
    """Queued failures, consumed one per API request; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[InjectedFailure] = []
        self.served = 0

    def add(self, failure: InjectedFailure, count: int) -> None:
        """Queue ``count`` copies of ``failure``."""
        with self._lock:
            self._queue.extend([failure] * count)

    def take(self) -> InjectedFailure | None:
        """The next queued failure, if any, removed from the queue."""
        with self._lock:
            if not self._queue:
                return None
            self.served += 1
            return self._queue.pop(0)


def add_fail_next_route(app: FastAPI, queue: FailureQueue) -> None:
    """Register ``POST /_sim/fail-next`` on ``app``, feeding ``queue``."""

    @app.post("/_sim/fail-next")
    def fail_next(body: FailNext) -> dict[str, int]:
        queue.add(InjectedFailure(status=body.status, retry_after=body.retry_after), body.count)
        return {"queued": body.count}
