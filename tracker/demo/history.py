"""Twelve weeks of fictional history for the demo, so the supervisors' dashboard has figures.

Nine closed cases (labels ``DEMO-H01 (fictional, closed)`` …) of made-up URLs on a few
platforms and the sandbox, filed on days in the past under India's IT Rules (two hours at the
platform, then its grievance officer), then removed, rejected, escalated past a deadline or
back online, all through the services a packet, a confirmation, a poll, a check and an
escalation use, with the tracker's clock set to when each happened (``tracker.db.set_clock``).
At the end every report is closed and its open filings superseded, so no worker, check or
sweep ever acts on them: the URLs are never fetched, and nothing is sent anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlmodel import Session, col, select

from platform_adapters.base import PlatformStatus
from platform_adapters.manual import ManualAdapter
from platform_adapters.registry import adapter_class, build_adapter
from tracker.cases.models import CaseStatus
from tracker.cases.schemas import CaseCreate, CaseUpdate
from tracker.cases.service import create_case, update_case
from tracker.checks.service import record_check
from tracker.db import set_clock, utcnow
from tracker.escalation.service import escalate, escalate_if_overdue
from tracker.filings.manual import confirm_manual
from tracker.filings.models import Filing
from tracker.filings.service import (
    LADDER,
    claim_for_submission,
    mark_submitted,
    record_poll,
    record_receipt,
    supersede_open_filings,
)
from tracker.organisations.service import Principal
from tracker.reports.intake import add_urls
from tracker.reports.lifecycle import ReportState
from tracker.reports.models import Report
from tracker.reports.transitions import move
from tracker.settings import get_settings

#: India's IT Rules: a real ladder (24 hours at the platform, then its grievance officer).
HISTORY_JURISDICTION = "IN"
ACTOR = "demo"
#: Made-up addresses on known platforms (the handles say so); ``{n}`` numbers each one.
URLS = {
    "x": "https://x.com/fictional_demo/status/1900000000000000{n:03d}",
    "instagram": "https://www.instagram.com/p/DEMOfake{n:03d}/",
    "facebook": "https://www.facebook.com/fictional.demo/videos/1000000{n:03d}",
    "youtube": "https://www.youtube.com/watch?v=DEMOfake{n:03d}",
    "tiktok": "https://www.tiktok.com/@fictional_demo/video/7000000000000000{n:03d}",
}


@dataclass(frozen=True, slots=True)
class Story:
    """What happened to one report, in hours after its first filing: turned down by the
    platform (``rejected_after``), confirmed removed (``removed_after``; None: never), online
    again (``back_after``). Past each deadline while still up it escalates, as the sweep does."""

    platform: str
    removed_after: float | None
    rejected_after: float | None = None
    back_after: float | None = None


S = Story
#: (days ago, the stories of the case's reports): 26 reports over twelve weeks.
HISTORY = (
    (84, (S("x", 20), S("instagram", 30), S("youtube", 40, rejected_after=1))),
    (75, (S("facebook", 1.5), S("x", 45), S("sandbox", 0.5))),
    (66, (S("tiktok", 12), S("instagram", None), S("x", 1.75))),
    (56, (S("youtube", 40), S("facebook", None, rejected_after=1), S("sandbox", 1))),
    (56, (S("x", 1.5, back_after=120),)),
    (45, (S("instagram", 9), S("x", 1.25), S("tiktok", 55))),
    (33, (S("facebook", 4), S("youtube", 1.75), S("sandbox", 1.5))),
    (21, (S("x", 0.75), S("instagram", 26), S("tiktok", 26, rejected_after=1.5))),
    (10, (S("facebook", 1), S("x", None), S("youtube", 18), S("sandbox", 0.25))),
)
#: How far the history climbs: to the grievance officer, never to a host (no RDAP look-up).
MOST_ESCALATIONS = 1


class _Clock:
    def __init__(self) -> None:
        self.at = utcnow()

    def __call__(self) -> datetime:
        return self.at


def _ladder_filing(session: Session, report_id: int) -> Filing:
    filing = session.exec(
        select(Filing)
        .where(Filing.report_id == report_id, Filing.track == LADDER)
        .order_by(col(Filing.id).desc())
    ).first()
    assert filing is not None
    return filing


def _report(session: Session, report_id: int) -> Report:
    report = session.get(Report, report_id)
    assert report is not None
    session.refresh(report)
    return report


def _file(
    clock: _Clock, session: Session, principal: Principal, report_id: int, wait: timedelta
) -> None:
    """The filing of the report's current rung goes out. A web-form packet is made (on this
    machine: a manual adapter sends nothing) and submitted by the caseworker ``wait`` later;
    any other channel is recorded as received at once (the demo never sends it)."""
    filing = _ladder_filing(session, report_id)
    assert filing.id is not None
    if not issubclass(adapter_class(filing.adapter), ManualAdapter):
        mark_submitted(
            session=session,
            filing=filing,
            report=_report(session, report_id),
            external_ref=f"DEMO-REF-{filing.id}",
            submitted_at=clock.at,
            actor=ACTOR,
            cause=f"filed with {filing.adapter} ({filing.rung_target})",
        )
        session.flush()
        return
    claim = claim_for_submission(session=session, filing_id=filing.id)
    assert claim is not None
    receipt = build_adapter(claim.adapter, get_settings()).file(claim.request)
    record_receipt(session=session, claim=claim, receipt=receipt)
    clock.at += wait
    confirm_manual(
        session=session,
        principal=principal,
        filing_id=filing.id,
        reference_id=f"DEMO-REF-{filing.id}",
        submitted_at=None,
    )
    session.flush()


def _check(session: Session, report_id: int, verdict: str) -> None:
    record_check(
        session=session,
        report_id=report_id,
        checked_at=utcnow(),
        verdict=verdict,
        reason="demo history",
        http_status=None,
        final_url=None,
        fingerprint=None,
        latency_ms=None,
        error=None,
    )


def _live(
    clock: _Clock,
    session: Session,
    principal: Principal,
    report_id: int,
    story: Story,
    wait: timedelta,
) -> None:
    """Drive one report through its story from ``clock.at`` (its packet ready), the clock
    set to each moment."""
    _file(clock, session, principal, report_id, wait)
    filed = clock.at
    removed = None if story.removed_after is None else filed + timedelta(hours=story.removed_after)
    if story.rejected_after is not None:
        clock.at = filed + timedelta(hours=story.rejected_after)
        cause = record_poll(
            session=session,
            filing_id=_ladder_filing(session, report_id).id,  # type: ignore[arg-type]
            status=PlatformStatus.REJECTED,
            detail="This content does not violate our community guidelines",
        )
        assert cause is not None
        escalate(session=session, report=_report(session, report_id), cause=cause, actor=ACTOR)
        clock.at += timedelta(minutes=10)
        _file(clock, session, principal, report_id, wait)
    for _ in range(MOST_ESCALATIONS - (story.rejected_after is not None)):
        deadline = _report(session, report_id).deadline_at
        if deadline is None or (removed is not None and removed <= deadline):
            break
        clock.at = deadline + timedelta(minutes=5)
        _check(session, report_id, "live")
        assert escalate_if_overdue(session=session, report_id=report_id)
        clock.at += timedelta(minutes=10)
        _file(clock, session, principal, report_id, wait)
    if removed is None:
        return
    removed = max(removed, clock.at + timedelta(minutes=30))
    for step in (-10, 0):  # two checks, ten minutes apart, confirm a removal
        clock.at = removed + timedelta(minutes=step)
        _check(session, report_id, "removed")
    if story.back_after is not None:
        clock.at = filed + timedelta(hours=story.back_after)
        _check(session, report_id, "live")


def _close(session: Session, report_id: int) -> None:
    report = _report(session, report_id)
    supersede_open_filings(session=session, report_id=report_id)
    if report.state != ReportState.CLOSED:
        move(
            session=session,
            report=report,
            to_state=ReportState.CLOSED,
            cause="demo history: closed",
            actor=ACTOR,
            next_check_at=None,
            check_lease_until=None,
            escalation_lease_until=None,
            parallel_due_at=None,
            deadline_at=None,
        )


def seed_history(*, session: Session, principal: Principal, sandbox_base_url: str) -> int:
    """Write the demo's past cases and reports; how many reports."""
    clock = _Clock()
    today = clock.at.date()
    count = 0
    set_clock(clock)
    try:
        for number, (days_ago, stories) in enumerate(HISTORY, start=1):
            day = today - timedelta(days=days_ago)
            clock.at = datetime.combine(day, time(9, 30), tzinfo=UTC)
            case = create_case(
                session=session,
                principal=principal,
                data=CaseCreate(
                    label=f"DEMO-H{number:02d} (fictional, closed)",
                    jurisdictions=[HISTORY_JURISDICTION],
                    authority_to_act=True,
                ),
            )
            assert case.id is not None
            urls = [
                f"{sandbox_base_url}/videos/comply-history-{count + index:03d}"
                if story.platform == "sandbox"
                else URLS[story.platform].format(n=count + index)
                for index, story in enumerate(stories)
            ]
            results = add_urls(
                session=session,
                principal=principal,
                case_id=case.id,
                urls=urls,
                allow_partial=False,
            )
            report_ids = [result.report_id for result in results]
            for index, (report_id, story) in enumerate(zip(report_ids, stories, strict=True)):
                assert report_id is not None
                clock.at = datetime.combine(day, time(10 + index), tzinfo=UTC)
                # Packets wait a quarter of an hour to an hour for the caseworker.
                wait = timedelta(minutes=15 + 20 * ((count + index) % 3))
                _live(clock, session, principal, report_id, story, wait)
            clock.at = datetime.combine(day + timedelta(days=8), time(12), tzinfo=UTC)
            for report_id in report_ids:
                assert report_id is not None
                _close(session, report_id)
            update_case(
                session=session,
                principal=principal,
                case_id=case.id,
                data=CaseUpdate(status=CaseStatus.CLOSED),
            )
            count += len(stories)
    finally:
        set_clock(None)
    return count
