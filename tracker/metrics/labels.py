"""The values a metric label may take: fixed enumerations of the code, and "other" for the rest.

A label never carries an id, a host, a URL or free text: each value a caller passes is looked up
in its label's enumeration (the ``Verdict`` enum, the adapter registry, the channel directory's
platforms, ``AttemptOutcome``, the delivery outcomes, the job queues, the scheduler's sweeps) and
anything else is recorded as ``other``. Cardinality is therefore bounded by the code, and no
victim detail can reach a metric through a label.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from platform_adapters.base import Verdict
from platform_adapters.directory import UNKNOWN_PLATFORM, load_directory
from platform_adapters.registry import ADAPTERS, is_enabled
from tracker.filings.models import AttemptOutcome
from tracker.jobs import QUEUES
from tracker.settings import get_settings

OTHER = "other"


class DeliveryOutcome(enum.StrEnum):
    """What one notification delivery attempt came to."""

    DELIVERED = "delivered"
    RETRYING = "retrying"  # it failed and is tried again later
    FAILED = "failed"  # it failed for good (a 4xx, or the attempts ran out)


#: Notification channels (``NotificationDelivery.channel``).
CHANNELS = ("email", "webhook")

#: The scheduler's sweeps: the names of ``workers.scheduler.SWEEPS`` (the domain never imports
#: the workers; ``tests/test_metrics_series.py`` holds the two lists equal).
SWEEPS = (
    "sweep_filings",
    "sweep_polls",
    "sweep_checks",
    "sweep_escalations",
    "sweep_warnings",
    "sweep_reminders",
    "sweep_parallel",
    "sweep_deliveries",
    "sweep_withdrawals",
    "sweep_retention",
    "fold_report_counts",
    "fold_scorecard_cells",
    "watchdog",
)


def verdicts() -> tuple[str, ...]:
    """Every ``Verdict``."""
    return tuple(str(verdict) for verdict in Verdict)


def adapters() -> tuple[str, ...]:
    """Every registered adapter slug (built in or a plugin's)."""
    return tuple(ADAPTERS)


def enabled_adapters() -> tuple[str, ...]:
    """The adapters usable under the settings (the sandbox only where it is enabled)."""
    settings = get_settings()
    return tuple(slug for slug in ADAPTERS if is_enabled(slug, settings))


def filing_outcomes() -> tuple[str, ...]:
    """Every ``AttemptOutcome``."""
    return tuple(str(outcome) for outcome in AttemptOutcome)


def delivery_outcomes() -> tuple[str, ...]:
    """Every ``DeliveryOutcome``."""
    return tuple(str(outcome) for outcome in DeliveryOutcome)


def channels() -> tuple[str, ...]:
    """The notification channels."""
    return CHANNELS


@lru_cache(maxsize=1)
def platforms() -> tuple[str, ...]:
    """Every platform of the channel directory (the sandbox included), and ``web``."""
    return (*load_directory(sandbox_enabled=True).platforms, UNKNOWN_PLATFORM)


def enabled_platforms() -> tuple[str, ...]:
    """The platforms a report can have under the settings, and ``web``."""
    enabled = get_settings().sandbox_enabled
    return (*load_directory(sandbox_enabled=enabled).platforms, UNKNOWN_PLATFORM)


def queues() -> tuple[str, ...]:
    """The job queues (traffic classes)."""
    return tuple(dict.fromkeys(QUEUES.values()))


def sweeps() -> tuple[str, ...]:
    """The scheduler's sweeps."""
    return SWEEPS


@dataclass(frozen=True)
class Label:
    """A label name and the enumeration its values come from.

    ``shown`` are the values exposed at 0 before anything was observed, so a rate is right from
    the first event; "other" and disabled adapters or platforms appear only once observed.
    """

    name: str
    values: Callable[[], tuple[str, ...]]
    shown: Callable[[], tuple[str, ...]] | None = None

    def bound(self, value: object) -> str:
        """``value`` if it is one of the enumeration, else "other"."""
        text = str(value)
        return text if text in self.values() else OTHER

    def allowed(self) -> tuple[str, ...]:
        """Every value the label may take, "other" included."""
        return (*self.values(), OTHER)

    def initial(self) -> tuple[str, ...]:
        """The values exposed before anything was observed."""
        return (self.shown or self.values)()


VERDICT = Label("verdict", verdicts)
ADAPTER = Label("adapter", adapters, enabled_adapters)
FILING_OUTCOME = Label("outcome", filing_outcomes)
CHANNEL = Label("channel", channels)
DELIVERY_OUTCOME = Label("outcome", delivery_outcomes)
PLATFORM = Label("platform", platforms, enabled_platforms)
QUEUE = Label("queue", queues)
SWEEP = Label("sweep", sweeps)
