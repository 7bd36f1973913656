"""Recording observations: what the domain and the workers call.

Counters count events as observed by this process. The ones tied to a database write (checks,
filing attempts, deliveries) are counted only once the session that wrote them commits, and
dropped if it rolls back, so a counter agrees with the rows; a process killed between the commit
and the next flush loses at most its last second of counts. Histograms of time (job latency,
sweep duration, time to removal) are observed at once.

No function here raises: a metric that cannot be recorded is logged and dropped, and the check,
filing or delivery it belongs to goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from tracker.metrics.recorder import namespace, recorder
from tracker.metrics.series import (
    CHECKS,
    DELIVERIES,
    FILINGS,
    JOB_LATENCY,
    SWEEP_DURATION,
    TIME_TO_REMOVAL,
    Series,
)

logger = logging.getLogger(__name__)

_PENDING_KEY = "tracker.pending_metrics"

Observation = tuple[Series, int | None, Mapping[str, object], int | float]


def observe(
    series: Series, *, organisation_id: int | None, labels: Mapping[str, object], amount: float
) -> None:
    """Record one observation of ``series`` now (label values are bounded to their
    enumerations; nothing is raised)."""
    try:
        key = series.key(namespace(), organisation_id)
        recorder().add(key, series.increments(series.bound(labels), amount))
    except Exception:
        logger.warning("metrics: could not record %s", series.name, exc_info=True)


def observe_after_commit(session: Session, observations: list[Observation]) -> None:
    """Record these observations once ``session`` commits; drop them if it rolls back."""
    session.info.setdefault(_PENDING_KEY, []).extend(observations)


@event.listens_for(Session, "after_commit")
def _record_pending(session: Session) -> None:
    for series, organisation_id, labels, amount in session.info.pop(_PENDING_KEY, []):
        observe(series, organisation_id=organisation_id, labels=labels, amount=amount)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_PENDING_KEY, None)


def count_checks(*, session: Session, counts: Mapping[tuple[int, str], int]) -> None:
    """Count a batch's recorded re-checks, by (organisation id, verdict), once it commits."""
    observe_after_commit(
        session,
        [
            (CHECKS, organisation_id, {"verdict": verdict}, count)
            for (organisation_id, verdict), count in counts.items()
            if count
        ],
    )


def count_filing(*, session: Session, organisation_id: int, adapter: str, outcome: str) -> None:
    """Count one filing attempt's outcome once it commits."""
    observe_after_commit(
        session, [(FILINGS, organisation_id, {"adapter": adapter, "outcome": outcome}, 1)]
    )


def count_delivery(*, session: Session, organisation_id: int, channel: str, outcome: str) -> None:
    """Count one notification delivery attempt's outcome once it commits."""
    observe_after_commit(
        session, [(DELIVERIES, organisation_id, {"channel": channel, "outcome": outcome}, 1)]
    )


def observe_time_to_removal(*, organisation_id: int, platform: str, seconds: float) -> None:
    """Observe how long one report took to be confirmed removed (call it after the commit)."""
    observe(
        TIME_TO_REMOVAL,
        organisation_id=organisation_id,
        labels={"platform": platform},
        amount=max(float(seconds), 0.0),
    )


def observe_job_latency(*, queue: str, seconds: float) -> None:
    """Observe how long a job waited between being sent and a worker starting it."""
    observe(JOB_LATENCY, organisation_id=None, labels={"queue": queue}, amount=max(seconds, 0.0))


def observe_sweep(*, sweep: str, seconds: float) -> None:
    """Observe how long one run of a scheduler sweep took."""
    observe(SWEEP_DURATION, organisation_id=None, labels={"sweep": sweep}, amount=max(seconds, 0.0))
