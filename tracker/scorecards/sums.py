"""Adding up scorecard cells: their counters, their histograms of times to removal and their
escalations by rung, and the figures a set of them makes."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tracker.scorecards.buckets import percentile
from tracker.scorecards.models import COUNTERS, RejectionReason
from tracker.scorecards.rollup import unpack


@dataclass
class Sums:
    """The counters, the histogram of times to removal and the escalations by rung of a set
    of cells, added up."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    buckets: Any = field(default_factory=unpack)
    escalated_to: dict[str, int] = field(default_factory=dict)

    def merge(self, other: "Sums") -> None:
        for name, value in other.counts.items():
            self.counts[name] += value
        self.buckets = self.buckets + other.buckets
        for rung, count in other.escalated_to.items():
            self.escalated_to[rung] = self.escalated_to.get(rung, 0) + count

    def histogram(self) -> dict[int, int]:
        """The times to removal: how many in each bucket (empty buckets left out)."""
        return {bucket: int(n) for bucket, n in enumerate(self.buckets.tolist()) if n}

    def figures(self) -> dict[str, Any]:
        counts = self.counts
        filed, removed = counts["filed"], counts["removed"]
        histogram = self.histogram()
        by_reason = {reason: counts[f"rejected_{reason}"] for reason in RejectionReason}
        rejected = sum(by_reason.values())
        waiting = counts["waiting_manual_seconds"] + counts["paused_seconds"]
        return {
            "filed": filed,
            "removed": removed,
            "removal_rate": _rate(removed, filed),
            "median_seconds_to_removal": percentile(histogram, 0.5),
            "p90_seconds_to_removal": percentile(histogram, 0.9),
            "removed_within_deadline": counts["removed_in_time"],
            "within_deadline_rate": _rate(counts["removed_in_time"], filed),
            "rejected": rejected,
            "rejection_rate": _rate(rejected, filed),
            "rejections_by_reason": {reason: n for reason, n in by_reason.items() if n},
            "escalated": counts["escalated"],
            "escalation_rate": _rate(counts["escalated"], filed),
            "escalated_to": {rung: n for rung, n in sorted(self.escalated_to.items()) if n},
            "reappeared": counts["reappeared"],
            "reappearance_rate": _rate(counts["reappeared"], removed),
            "waiting_manual_seconds": counts["waiting_manual_seconds"],
            "paused_seconds": counts["paused_seconds"],
            "mean_seconds_waiting_on_people": round(waiting / filed, 1) if filed else None,
        }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class Gathered:
    """What the rows of one group hold, gathered to be added up at once (column sums in C,
    histograms as one array sum) rather than row by row."""

    __slots__ = ("escalated_to", "loose", "packed", "values")

    def __init__(self) -> None:
        self.values: list[Sequence[int]] = []
        self.packed: list[bytes] = []
        self.loose: dict[int, int] = {}  # the deltas' times to removal
        self.escalated_to: dict[str, int] = {}

    def sums(self) -> Sums:
        totals = [int(sum(column)) for column in zip(*self.values, strict=True)]
        found = Sums(counts=dict(zip(COUNTERS, totals or [0] * len(COUNTERS), strict=True)))
        found.buckets = unpack(*self.packed)
        for bucket, count in self.loose.items():
            found.buckets[bucket] += count
        found.escalated_to = {rung: n for rung, n in self.escalated_to.items() if n}
        return found
