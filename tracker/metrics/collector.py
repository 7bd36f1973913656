"""What ``/metrics`` exposes of the counters and histograms: one organisation's and the system's.

The collector reads, at scrape time, the hashes of the caller's organisation (checks, filings,
deliveries, time to removal) and of the system (job latency, sweep duration) from every process
(see ``tracker.metrics.recorder``), and the depth of each job queue from the dispatcher, and
yields real counter, histogram and gauge families. Every label value it exposes is within its
enumeration: a field it does not recognise is counted under "other" (or, for an unknown bucket,
left out).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from tracker.jobs import QUEUES, JobKind, queue_depth
from tracker.metrics.recorder import Number, namespace, recorder
from tracker.metrics.series import INFINITY, SEPARATOR, SERIES, SUM, Series

QUEUE_DEPTH = "tracker_queue_depth"


class SeriesCollector(Collector):
    """The tracker's counters and histograms for one organisation, and the queue depths."""

    def __init__(self, *, organisation_id: int) -> None:
        self.organisation_id = organisation_id

    def describe(self) -> list[Metric]:
        """Nothing up front: the families are read at scrape time."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Every series' family, then the queue depths."""
        prefix = namespace()
        keys = {series: series.key(prefix, self.organisation_id) for series in SERIES}
        hashes = recorder().read(keys.values())
        for series in SERIES:
            fields = hashes.get(keys[series], {})
            if series.kind == "counter":
                yield counter_family(series, fields)
            else:
                yield histogram_family(series, fields)
        yield queue_depth_family()


def _initial(series: Series) -> list[tuple[str, ...]]:
    return list(itertools.product(*(label.initial() for label in series.labels)))


def _labels(series: Series, text: str) -> tuple[str, ...] | None:
    values = text.split(SEPARATOR)
    if len(values) != len(series.labels):
        return None
    return tuple(label.bound(value) for label, value in zip(series.labels, values, strict=True))


def counter_family(series: Series, fields: Mapping[str, Number]) -> CounterMetricFamily:
    """A counter's family from its hash's fields (the enumerated label sets at 0 first)."""
    totals: dict[tuple[str, ...], Number] = dict.fromkeys(_initial(series), 0)
    for field, amount in fields.items():
        labels = _labels(series, field)
        if labels is not None:
            totals[labels] = totals.get(labels, 0) + amount
    family = CounterMetricFamily(
        series.name, series.documentation, labels=[label.name for label in series.labels]
    )
    for labels, total in sorted(totals.items()):
        family.add_metric(list(labels), total)
    return family


def histogram_family(series: Series, fields: Mapping[str, Number]) -> HistogramMetricFamily:
    """A histogram's family from its hash's fields: bucket counts made cumulative, the sum."""
    names = series.bucket_names()
    counts: dict[tuple[str, ...], dict[str, Number]] = {labels: {} for labels in _initial(series)}
    for field, amount in fields.items():
        label_text, _, part = field.rpartition(SEPARATOR)
        labels = _labels(series, label_text)
        if labels is None or (part not in names and part != SUM):
            continue  # a bucket of another layout cannot be placed: left out
        parts = counts.setdefault(labels, {})
        parts[part] = parts.get(part, 0) + amount
    family = HistogramMetricFamily(
        series.name, series.documentation, labels=[label.name for label in series.labels]
    )
    for labels, parts in sorted(counts.items(), key=lambda item: item[0]):
        cumulative: list[tuple[str, float]] = []
        running: Number = 0
        for name in names:
            running += parts.get(name, 0)
            cumulative.append((name, running))
        assert cumulative[-1][0] == INFINITY
        family.add_metric(list(labels), cumulative, sum_value=parts.get(SUM, 0.0))
    return family


def queue_depth_family() -> GaugeMetricFamily:
    """Jobs waiting in each queue, as the dispatcher tells (a queue it cannot tell is left
    out): Redis's lists in distributed mode, the in-process pools' waiting jobs in embedded."""
    family = GaugeMetricFamily(
        QUEUE_DEPTH, "Jobs waiting to be taken, by queue (all organisations)", labels=["queue"]
    )
    first_kind_of: dict[str, JobKind] = {}
    for kind, queue in QUEUES.items():
        first_kind_of.setdefault(queue, kind)
    for queue, kind in first_kind_of.items():
        depth = queue_depth(kind)
        if depth is not None:
            family.add_metric([queue], depth)
    return family
