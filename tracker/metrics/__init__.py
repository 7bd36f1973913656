"""Counters and histograms of the tracker's work, shared by every process (issue 12).

Series (labels from fixed enumerations only: see ``labels``):

- ``tracker_checks_total{verdict}``: re-checks recorded (per batch, after commit).
- ``tracker_filings_total{adapter,outcome}``: filing attempts (``AttemptOutcome``).
- ``tracker_deliveries_total{channel,outcome}``: notification delivery attempts.
- ``tracker_time_to_removal_seconds{platform}``: histogram, hours to weeks.
- ``tracker_job_latency_seconds{queue}``: histogram, from a job sent to a worker starting it.
- ``tracker_sweep_duration_seconds{sweep}``: histogram, each scheduler sweep's run.
- ``tracker_queue_depth{queue}``: gauge, read from the dispatcher at scrape time.

The first four count one organisation's work and are kept per organisation: ``/metrics`` shows
the caller's organisation's only. The others name no organisation and are global. How counts
travel from the workers and the scheduler to the API is ``recorder``; what ``/metrics`` yields
is ``collector``. A counter counts events as observed; the ones tied to a database write count
only once it commits (``record``).
"""

from tracker.metrics.collector import SeriesCollector
from tracker.metrics.labels import DeliveryOutcome
from tracker.metrics.record import (
    count_checks,
    count_delivery,
    count_filing,
    observe_job_latency,
    observe_sweep,
    observe_time_to_removal,
)
from tracker.metrics.recorder import close as close_metrics
from tracker.metrics.recorder import flush as flush_metrics

__all__ = [
    "DeliveryOutcome",
    "SeriesCollector",
    "close_metrics",
    "count_checks",
    "count_delivery",
    "count_filing",
    "flush_metrics",
    "observe_job_latency",
    "observe_sweep",
    "observe_time_to_removal",
]
