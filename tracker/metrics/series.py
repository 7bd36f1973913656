"""The counters and histograms the tracker keeps, and how one observation is stored.

Every observation becomes increments of fields of one hash (Redis ``HINCRBY`` and
``HINCRBYFLOAT`` in distributed mode, a dict in memory otherwise): one hash per series and
organisation (or one for the system, for the series that name no organisation's work). A
counter's field is its label values; a histogram has one field per bucket (its upper bound) and
one for the sum. Adding increments is commutative, so any number of processes can add to the
same hashes and the sum is exact.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from prometheus_client.utils import floatToGoString

from tracker.metrics.labels import (
    ADAPTER,
    CHANNEL,
    DELIVERY_OUTCOME,
    FILING_OUTCOME,
    PLATFORM,
    QUEUE,
    SWEEP,
    VERDICT,
    Label,
)

HOUR = 3600.0
DAY = 24 * HOUR
#: Removal takes hours to weeks: 1 h, 2 h, 4 h, 8 h, 12 h, 1 d, 36 h, 2 d, 3 d, 7 d, 14 d, 30 d.
REMOVAL_BUCKETS = (
    *(HOUR * hours for hours in (1, 2, 4, 8, 12, 24, 36, 48, 72)),
    *(DAY * days for days in (7, 14, 30)),
)
#: From a job sent to a worker starting it: milliseconds when idle, minutes when backed up.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
#: A sweep claims and sends: milliseconds, a minute at worst.
SWEEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

SUM = "sum"
SEPARATOR = "|"
INFINITY = "+Inf"


class Scope(enum.Enum):
    """Whose the counts are: one organisation's work, or the system's (naming no one's)."""

    ORGANISATION = "org"
    SYSTEM = "system"


Fields = Mapping[str, int | float]


@dataclass(frozen=True)
class Series:
    """A counter or histogram: its name, help, labels, scope and (histograms) buckets."""

    name: str  # a counter's name without "_total" (the exposition adds it)
    kind: Literal["counter", "histogram"]
    documentation: str
    labels: tuple[Label, ...]
    scope: Scope
    buckets: tuple[float, ...] = ()

    def key(self, namespace: str, organisation_id: int | None) -> str:
        """The hash holding this series for an organisation (or for the system)."""
        if self.scope is Scope.SYSTEM:
            return f"{namespace}:{self.name}:system"
        if organisation_id is None:
            raise ValueError(f"{self.name} counts an organisation's work: name the organisation")
        return f"{namespace}:{self.name}:org:{int(organisation_id)}"

    def bound(self, values: Mapping[str, object]) -> tuple[str, ...]:
        """The label values, each within its enumeration ("other" otherwise)."""
        return tuple(label.bound(values[label.name]) for label in self.labels)

    def increments(self, labels: tuple[str, ...], amount: int | float) -> dict[str, int | float]:
        """The fields one observation adds to (a counter: ``amount`` events; a histogram: one
        observation of value ``amount``)."""
        prefix = SEPARATOR.join(labels)
        if self.kind == "counter":
            return {prefix: amount}
        bucket = next(
            (floatToGoString(bound) for bound in self.buckets if amount <= bound), INFINITY
        )
        return {f"{prefix}{SEPARATOR}{bucket}": 1, f"{prefix}{SEPARATOR}{SUM}": float(amount)}

    def bucket_names(self) -> tuple[str, ...]:
        """Each bucket's upper bound as exposed ("+Inf" last)."""
        return (*(floatToGoString(bound) for bound in self.buckets), INFINITY)


CHECKS = Series(
    "tracker_checks",
    "counter",
    "Re-checks recorded, by verdict",
    (VERDICT,),
    Scope.ORGANISATION,
)
FILINGS = Series(
    "tracker_filings",
    "counter",
    "Filing attempts, by adapter and outcome",
    (ADAPTER, FILING_OUTCOME),
    Scope.ORGANISATION,
)
DELIVERIES = Series(
    "tracker_deliveries",
    "counter",
    "Notification delivery attempts, by channel and outcome",
    (CHANNEL, DELIVERY_OUTCOME),
    Scope.ORGANISATION,
)
TIME_TO_REMOVAL = Series(
    "tracker_time_to_removal_seconds",
    "histogram",
    "Time from filing to a report's confirmed removal, by platform",
    (PLATFORM,),
    Scope.ORGANISATION,
    REMOVAL_BUCKETS,
)
JOB_LATENCY = Series(
    "tracker_job_latency_seconds",
    "histogram",
    "From a job being sent to a worker starting it, by queue (all organisations)",
    (QUEUE,),
    Scope.SYSTEM,
    LATENCY_BUCKETS,
)
SWEEP_DURATION = Series(
    "tracker_sweep_duration_seconds",
    "histogram",
    "How long each scheduler sweep ran (all organisations)",
    (SWEEP,),
    Scope.SYSTEM,
    SWEEP_BUCKETS,
)

SERIES: tuple[Series, ...] = (
    CHECKS,
    FILINGS,
    DELIVERIES,
    TIME_TO_REMOVAL,
    JOB_LATENCY,
    SWEEP_DURATION,
)
