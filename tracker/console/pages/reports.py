"""The report page: one leaked URL, its whole history newest first, the ladder ahead, actions.

Actions (re-check, pause, resume) call the same services as the API's views; their forms carry
an optional ``next`` (the case page sends its own path) and come back with ``?done=<code>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from sqlmodel import Session

from tracker.api.deps import IdPath, SessionDep
from tracker.console.app import redirect
from tracker.console.context import Console, ConsoleDep, check_csrf, safe_next
from tracker.console.i18n import N_
from tracker.console.pages.hash_bank import SIGNAL_TYPES, visible_case
from tracker.console.render import render
from tracker.db import utcnow
from tracker.errors import Conflict
from tracker.filings.models import Filing
from tracker.matching.alerts import report_matches
from tracker.matching.bank import label_of
from tracker.matching.media import LINKED, media_of
from tracker.matching.models import BankEntry, ContentMatch, MediaItem
from tracker.policies.service import as_policy
from tracker.reports.clock import PauseReason, pause, resume
from tracker.reports.lifecycle import PAUSABLE, ReportState
from tracker.reports.models import Report
from tracker.reports.service import is_overdue, policy_of, request_recheck, require_report, timeline
from tracker.reports.views import ladder

router = APIRouter()
CsrfChecked = Depends(check_csrf)

#: Where a rung's filing goes, in words.
RUNG_TARGETS = {
    "platform": N_("The platform"),
    "grievance_officer": N_("The platform's grievance officer"),
    "host": N_("The hosting provider"),
    "cdn": N_("The content delivery network"),
    "registrar": N_("The domain registrar"),
    "search": N_("Search engines (delisting)"),
    "regulator": N_("The regulator"),
}
ATTEMPT_OUTCOMES = {
    "succeeded": N_("Succeeded"),
    "transient_error": N_("Failed for now; tried again later"),
    "permanent_error": N_("Refused"),
    "credentials_error": N_("Our credentials for this channel do not work"),
}
NOTIFICATION_KINDS = {
    "deadline_warning": N_("Deadline soon"),
    "reminder": N_("Reminder"),
    "escalated": N_("Escalated"),
    "removed": N_("Removed"),
    "reappeared": N_("Back online"),
    "exhausted": N_("Every step tried"),
    "reupload_found": N_("Re-upload found"),
}
DELIVERY_STATUSES = {
    "pending": N_("waiting to be sent"),
    "sending": N_("being sent"),
    "delivered": N_("delivered"),
    "failed": N_("could not be delivered"),
}
#: ``?done=`` codes and the notice each one shows.
DONE = {
    "rechecked": N_("A check is due now; the result appears here within minutes."),
    "paused": N_("The clock is paused. Re-checks go on; the time left comes back on resume."),
    "resumed": N_("The clock runs again."),
}
#: Deadlines within this are shown as "due soon".
DUE_SOON = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the timeline: when, what kind, the row, and rows that belong to it."""

    at: datetime
    kind: str  # transition | filing | check | match | notification
    item: Any
    children: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MatchRow:
    """A bank hash the report's content matched: of its own case, or of another (a re-upload,
    whose case is named only to those who may open it)."""

    match: ContentMatch
    own_case: bool
    bank_case_visible: bool
    label: str | None
    media: MediaItem | None


def events_of(parts: dict[str, list[Any]]) -> list[Event]:
    """The timeline's rows merged in time order, newest first."""
    attempts: dict[int, list[Any]] = {}
    for attempt in parts["attempts"]:
        attempts.setdefault(attempt.filing_id, []).append(attempt)
    deliveries: dict[int, list[Any]] = {}
    for delivery in parts["deliveries"]:
        deliveries.setdefault(delivery.notification_id, []).append(delivery)
    events = [Event(row.at, "transition", row) for row in parts["transitions"]]
    events += [
        Event(row.created_at, "filing", row, attempts.get(row.id, [])) for row in parts["filings"]
    ]
    events += [Event(row.checked_at, "check", row) for row in parts["checks"]]
    events += [Event(row.match.first_seen_at, "match", row) for row in parts.get("matches", [])]
    events += [
        Event(row.created_at, "notification", row, deliveries.get(row.id, []))
        for row in parts["notifications"]
    ]
    order = {"transition": 0, "filing": 1, "check": 2, "match": 3, "notification": 4}
    # Same instant: the transition that caused a filing reads below it (newest first).
    return sorted(events, key=lambda event: (event.at, order[event.kind]), reverse=True)


def deadline_class(report: Report) -> str:
    """The CSS class of the report's deadline: overdue, due-soon, or none."""
    if report.deadline_at is None:
        return ""
    if is_overdue(report):
        return "overdue"
    return "due-soon" if report.deadline_at - utcnow() <= DUE_SOON else ""


def match_rows(
    session: Session,
    console: Console,
    report: Report,
    matches: list[ContentMatch],
    media: dict[int, MediaItem],
) -> list[MatchRow]:
    """The report's matches for the timeline; a bank's labels only where its case is visible."""
    rows = []
    for match in matches:
        own = match.bank_case_id == report.case_id
        visible = own or visible_case(session, console, match.bank_case_id)
        entry = session.get(BankEntry, match.bank_entry_id) if visible else None
        label = label_of(session=session, entry=entry) if entry is not None else None
        item = media.get(match.media_item_id) if match.media_item_id is not None else None
        rows.append(MatchRow(match, own, visible, label, item))
    return rows


def report_page(
    request: Request,
    session: Session,
    console: Console,
    report_id: int,
    *,
    done: str | None = None,
    error: str | None = None,
    reason_error: bool = False,
    status_code: int = 200,
) -> Response:
    """The report page (also re-rendered with a notice when an action is refused)."""
    report = require_report(session=session, principal=console.principal, report_id=report_id)
    policy = as_policy(policy_of(session=session, report=report))
    steps = ladder(report, policy)
    parts = timeline(session=session, report=report)
    filings: list[Filing] = parts["filings"]
    media = media_of(session=session, report_ids=[report_id])
    media_by_id = {item.id: item for item in media if item.id is not None}
    matches = report_matches(session=session, principal=console.principal, report_id=report_id)
    parts["matches"] = match_rows(session, console, report, matches, media_by_id)
    return render(
        request,
        "reports/report.html",
        {
            "report": report,
            "policy": policy,
            "steps": list(zip(steps, policy.rungs, strict=True)),
            "current_rung": policy.rungs[report.rung_index]
            if report.rung_index < len(policy.rungs)
            else None,
            "events": events_of(parts),
            "manual_filings": [row for row in filings if row.status == "awaiting_manual"],
            "deadline_class": deadline_class(report),
            "paused_left": timedelta(seconds=report.paused_remaining_seconds)
            if report.paused_remaining_seconds is not None
            else None,
            "can_pause": report.state in PAUSABLE,
            "can_resume": report.state == ReportState.PAUSED,
            "can_recheck": report.state != ReportState.CLOSED,
            "pause_reasons": [reason.value for reason in PauseReason],
            "done": done if done in DONE or done == "confirmed" else None,
            "done_messages": DONE,
            "error": error,
            "reason_error": reason_error,
            "rung_targets": RUNG_TARGETS,
            "attempt_outcomes": ATTEMPT_OUTCOMES,
            "notification_kinds": NOTIFICATION_KINDS,
            "delivery_statuses": DELIVERY_STATUSES,
            "media": media,
            "media_by_id": media_by_id,
            "linked_role": LINKED,
            "signal_types": SIGNAL_TYPES,
        },
        console=console,
        status_code=status_code,
    )


@router.get("/reports/{report_id}")
def report_view(
    request: Request,
    report_id: IdPath,
    session: SessionDep,
    console: ConsoleDep,
    done: str | None = None,
) -> Response:
    """One report: its address, where it stands, everything that happened, the ladder ahead."""
    return report_page(request, session, console, report_id, done=done)


def _back(report_id: int, next_path: str | None, done: str) -> str:
    """Where an action returns: ``next`` (a console path) or the report, with the notice code."""
    target = safe_next(next_path) if next_path else f"/reports/{report_id}"
    return f"{target}{'&' if '?' in target else '?'}done={done}"


def _act(
    request: Request,
    session: Session,
    console: Console,
    report_id: int,
    action: Callable[[], object],
    *,
    next_path: str | None,
    done: str,
) -> Response:
    """Run one report action: committed and back with a notice, or refused on the report page."""
    try:
        action()
    except Conflict as error:
        session.rollback()
        message = error.problems[0].msg if error.problems else None
        return report_page(request, session, console, report_id, error=message, status_code=409)
    session.commit()
    return redirect(_back(report_id, next_path, done), request)


@router.post("/reports/{report_id}/recheck", dependencies=[CsrfChecked])
def recheck(
    request: Request,
    report_id: IdPath,
    session: SessionDep,
    console: ConsoleDep,
    next: Annotated[str | None, Form()] = None,  # noqa: A002
) -> Response:
    """Make the report due for a check now."""
    return _act(
        request,
        session,
        console,
        report_id,
        lambda: request_recheck(session=session, principal=console.principal, report_id=report_id),
        next_path=next,
        done="rechecked",
    )


@router.post("/reports/{report_id}/pause", dependencies=[CsrfChecked])
def pause_clock(
    request: Request,
    report_id: IdPath,
    session: SessionDep,
    console: ConsoleDep,
    reason: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,  # noqa: A002
) -> Response:
    """Stop the report's deadline clock for a reason."""
    try:
        chosen = PauseReason(reason or "")
    except ValueError:
        require_report(session=session, principal=console.principal, report_id=report_id)
        return report_page(request, session, console, report_id, reason_error=True, status_code=400)
    return _act(
        request,
        session,
        console,
        report_id,
        lambda: pause(
            session=session, principal=console.principal, report_id=report_id, reason=chosen
        ),
        next_path=next,
        done="paused",
    )


@router.post("/reports/{report_id}/resume", dependencies=[CsrfChecked])
def resume_clock(
    request: Request,
    report_id: IdPath,
    session: SessionDep,
    console: ConsoleDep,
    next: Annotated[str | None, Form()] = None,  # noqa: A002
) -> Response:
    """Restart the clock where it stopped."""
    return _act(
        request,
        session,
        console,
        report_id,
        lambda: resume(session=session, principal=console.principal, report_id=report_id),
        next_path=next,
        done="resumed",
    )
