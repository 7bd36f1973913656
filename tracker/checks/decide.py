"""What one check means for its report: the columns to set, and the state change it proves.

Pure: no session, no clock of its own. ``tracker.checks.service`` applies the decisions of a
whole batch, the common ones (no state change) in one statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from tracker.notifications.models import NotificationKind
from tracker.reports.lifecycle import ReportState
from tracker.settings import Settings

REMOVED = "removed"
LIVE = "live"


class Clocked(Protocol):
    """What scheduling the next check needs to know of a report."""

    @property
    def state(self) -> str: ...

    @property
    def deadline_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The columns of a report a check's decision reads (locked for the batch's transaction)."""

    id: int
    case_id: int
    organisation_id: int
    canonical_url: str
    state: str
    deadline_at: datetime | None
    consecutive_removed: int
    first_removed_at: datetime | None
    watch_step: int
    last_verdict: str | None


@dataclass(frozen=True, slots=True)
class Move:
    """A state change a check proves, with the columns the move sets."""

    to_state: ReportState
    cause: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    """The report's new column values, and what else the check sets off."""

    changes: dict[str, Any]
    move: Move | None = None
    close_open_filings: bool = False
    notification: tuple[NotificationKind, str] | None = None
    file_again: bool = False


def _capped_by_deadline(report: Clocked, when: datetime, now: datetime) -> datetime:
    # A check lands at the deadline, so escalation is decided on a fresh verdict.
    if report.deadline_at is not None and now < report.deadline_at < when:
        return report.deadline_at
    return when


def next_check_for_state(report: Clocked, now: datetime, settings: Settings) -> datetime:
    """When to look again at a report that is not (yet) confirmed removed."""
    if report.state == ReportState.ACKNOWLEDGED:
        interval = settings.check_interval_acknowledged_seconds
    else:
        interval = settings.check_interval_active_seconds
    return _capped_by_deadline(report, now + timedelta(seconds=interval), now)


def decide(
    report: Snapshot,
    *,
    verdict: str,
    reason: str,
    checked_at: datetime,
    now: datetime,
    settings: Settings,
) -> Decision:
    """What a check with this verdict does to the report.

    Removal needs ``removal_confirmations`` consecutive removed checks spaced at least
    ``confirm_interval_seconds`` apart; a removed report is watched on the watch schedule and
    closed at its end; live content after removal is "reappeared" and filed again. Blocked or
    unreachable proves nothing either way.
    """
    watch = settings.watch_schedule_seconds
    changes: dict[str, Any] = {
        "last_verdict": verdict,
        "last_checked_at": checked_at,
        "check_lease_until": None,
        "watch_step": report.watch_step,
    }
    if verdict == REMOVED:
        consecutive = report.consecutive_removed + 1
        first = checked_at if consecutive == 1 else report.first_removed_at
        changes["consecutive_removed"] = consecutive
        changes["first_removed_at"] = first
        spacing = timedelta(seconds=settings.confirm_interval_seconds)
        # Confirmations must be spaced in time: a burst of checks (say, a caseworker asking
        # for one right after another) cannot prove removal on its own.
        spaced = first is None or checked_at - first >= spacing
        if report.state == ReportState.REMOVED:
            step = report.watch_step + 1
            changes["watch_step"] = step
            if step >= len(watch):
                return Decision(
                    changes,
                    Move(
                        ReportState.CLOSED,
                        "still removed at the end of the watch schedule",
                        {"next_check_at": None},
                    ),
                )
            changes["next_check_at"] = now + timedelta(seconds=watch[step])
            return Decision(changes)
        if consecutive >= settings.removal_confirmations and spaced:
            return Decision(
                changes,
                Move(
                    ReportState.REMOVED,
                    f"removal confirmed by {consecutive} consecutive checks ({reason})",
                    {
                        "deadline_at": None,
                        "escalation_lease_until": None,
                        "watch_step": 0,
                        "next_check_at": now + timedelta(seconds=watch[0]) if watch else None,
                    },
                ),
                close_open_filings=True,
                notification=(
                    NotificationKind.REMOVED,
                    f"Report {report.id}: removal confirmed; watching for reappearance",
                ),
            )
        changes["next_check_at"] = max(now, (first or checked_at) + spacing)
        return Decision(changes)

    changes["consecutive_removed"] = 0
    changes["first_removed_at"] = None
    if report.state == ReportState.REMOVED:
        if verdict == LIVE:
            return Decision(
                changes,
                Move(
                    ReportState.REAPPEARED,
                    f"content is live again ({reason})",
                    {
                        "watch_step": 0,
                        "next_check_at": now
                        + timedelta(seconds=settings.check_interval_active_seconds),
                    },
                ),
                notification=(
                    NotificationKind.REAPPEARED,
                    f"Report {report.id}: the content is live again; filed again",
                ),
                file_again=True,
            )
        # Blocked or unreachable proves nothing either way: look again at the same watch step.
        changes["next_check_at"] = now + timedelta(
            seconds=watch[min(report.watch_step, len(watch) - 1)]
        )
        return Decision(changes)
    changes["next_check_at"] = next_check_for_state(report, now, settings)
    return Decision(changes)
