"""Times to removal as histogram buckets, and percentiles read from them.

A scorecard's median and p90 come from counts per bucket (kept as removals happen), never from
a scan of the reports. The edges are round figures a caseworker reads at a glance: every
15 minutes to 2 hours, every hour to 48 hours, every 6 hours to 7 days, every day to 30 days,
then every week to a year. A percentile is reported as the upper edge of the bucket it falls
in ("90 % were removed within 26 hours"): exact for a time on an edge, rounded up to the next
edge otherwise. Times beyond a year are counted in a last bucket reported as a year.
"""

import math
from bisect import bisect_left
from collections.abc import Mapping

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR

#: The upper edge of each bucket, in seconds, ascending (bucket ``i`` holds times in
#: ``(EDGES[i - 1], EDGES[i]]``; bucket 0 starts at 0).
EDGES: tuple[int, ...] = (
    tuple(quarter * 15 * MINUTE for quarter in range(1, 9))  # 15 min .. 2 h
    + tuple(hours * HOUR for hours in range(3, 49))  # 3 h .. 48 h
    + tuple(hours * HOUR for hours in range(54, 169, 6))  # 54 h .. 7 days
    + tuple(days * DAY for days in range(8, 31))  # 8 .. 30 days
    + tuple(days * DAY for days in range(37, 366, 7))  # 37 .. 365 days
)
#: The bucket of times past the last edge.
OVERFLOW = len(EDGES)
#: The bucket recorded for a report not removed.
NOT_REMOVED = -1


def bucket_of(seconds: float) -> int:
    """The bucket a time to removal falls in (negative times, a clock set back, count as 0)."""
    return bisect_left(EDGES, max(math.ceil(seconds), 0))


def upper_edge(bucket: int) -> int:
    """What a percentile falling in ``bucket`` is reported as, in seconds."""
    return EDGES[min(bucket, OVERFLOW - 1)]


def percentile(counts: Mapping[int, int], share: float) -> int | None:
    """The nearest-rank percentile (``share`` in (0, 1]) of the times counted per bucket, as
    the upper edge of its bucket; None when nothing was removed."""
    total = sum(count for bucket, count in counts.items() if bucket >= 0)
    if total <= 0:
        return None
    rank = max(math.ceil(share * total), 1)
    seen = 0
    for bucket in sorted(b for b in counts if b >= 0):
        seen += counts[bucket]
        if seen >= rank:
            return upper_edge(bucket)
    return upper_edge(OVERFLOW)
