"""HTTP endpoints for reports: bulk intake, listing, the full timeline, re-check requests."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from platform_adapters.base import ChannelKind, Verdict
from tracker.api.deps import (
    CaseworkerDep,
    IdPath,
    IdQuery,
    Limit,
    Offset,
    PrincipalDep,
    SessionDep,
)
from tracker.api.pages import BeforeId, Page
from tracker.channels import directory
from tracker.filings.models import Filing
from tracker.filings.service import attempts_of
from tracker.filings.views import filing_public
from tracker.policies.models import PolicyVersion
from tracker.policies.schema import Policy
from tracker.policies.service import as_policy
from tracker.reports.clock import PauseReason, pause, resume
from tracker.reports.intake import add_urls
from tracker.reports.lifecycle import ReportState
from tracker.reports.models import Report
from tracker.reports.schemas import (
    CheckPublic,
    IntakeAnswer,
    LadderStep,
    RecheckAnswer,
    ReportDetail,
    ReportPublic,
    ReportsAdd,
    Summary,
    TransitionPublic,
)
from tracker.reports.service import (
    RungTargets,
    is_overdue,
    list_reports,
    request_recheck,
    require_report,
    summary,
    timeline,
)

router = APIRouter(tags=["reports"])


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """The filters of a report listing, as the query string gives them (the listing and the
    export take the same ones, validated the same way)."""

    case_id: int | None
    state: ReportState | None
    platform: str | None
    overdue: bool | None


def report_query(
    case_id: IdQuery = None,
    state: ReportState | None = None,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    overdue: bool | None = None,
) -> ReportQuery:
    """The listing filters of the request."""
    return ReportQuery(case_id=case_id, state=state, platform=platform, overdue=overdue)


ReportQueryDep = Annotated[ReportQuery, Depends(report_query)]


def report_public(report: Report, rung_target: str | None) -> ReportPublic:
    """The API view of a report."""
    assert report.id is not None
    return ReportPublic(
        id=report.id,
        case_id=report.case_id,
        original_url=report.original_url,
        canonical_url=report.canonical_url,
        platform=report.platform,
        state=ReportState(report.state),
        rung_index=report.rung_index,
        rung_target=rung_target,
        deadline_at=report.deadline_at,
        is_overdue=is_overdue(report),
        next_check_at=report.next_check_at,
        last_verdict=Verdict(report.last_verdict) if report.last_verdict else None,
        last_checked_at=report.last_checked_at,
        consecutive_removed=report.consecutive_removed,
        pause_reason=report.pause_reason,
        paused_remaining_seconds=report.paused_remaining_seconds,
        hold_reason=report.hold_reason,  # type: ignore[arg-type]  # a HoldReason value
        created_at=report.created_at,
        updated_at=report.updated_at,
    )


@router.post(
    "/cases/{case_id}/reports", response_model=IntakeAnswer, status_code=status.HTTP_200_OK
)
def add(
    case_id: IdPath, data: ReportsAdd, session: SessionDep, principal: CaseworkerDep
) -> IntakeAnswer:
    """Log URLs into a case. Each URL is canonicalised, its platform detected, and it is
    deduplicated in the case. The answer says per URL: created, duplicate or rejected.
    With dry_run, the same answer is given and nothing is written."""
    results = add_urls(
        session=session,
        principal=principal,
        case_id=case_id,
        urls=data.urls,
        allow_partial=data.allow_partial,
        preview=data.dry_run,
    )
    if not data.dry_run:
        session.commit()
    return IntakeAnswer(
        results=results,
        dry_run=data.dry_run,
        created=sum(1 for result in results if result.outcome == "created"),
        duplicates=sum(1 for result in results if result.outcome == "duplicate"),
        rejected=sum(1 for result in results if result.outcome == "rejected"),
    )


@router.get("/reports", response_model=Page[ReportPublic])
def list_(
    session: SessionDep,
    principal: CaseworkerDep,
    filters: ReportQueryDep,
    limit: Limit = 50,
    offset: Offset = 0,
    before_id: BeforeId = None,
) -> Page[ReportPublic]:
    """Reports you may see, newest first, filtered by case, state, platform or overdue.

    `total` is exact (counted by the database as reports are written). For deep pages pass
    `before_id` (the id of the last item you received) instead of a growing `offset`.
    """
    reports, total = list_reports(
        session=session,
        principal=principal,
        case_id=filters.case_id,
        state=filters.state,
        platform=filters.platform,
        overdue=filters.overdue,
        limit=limit,
        offset=offset,
        before_id=before_id,
    )
    targets = RungTargets(session)
    return Page[ReportPublic](
        items=[report_public(report, targets(report)) for report in reports],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/reports/{report_id}", response_model=ReportDetail)
def read(report_id: IdPath, session: SessionDep, principal: CaseworkerDep) -> ReportDetail:
    """One report with its full timeline: filings and their attempts, checks, transitions."""
    report = require_report(session=session, principal=principal, report_id=report_id)
    parts = timeline(session=session, report=report)
    filings: list[Filing] = parts["filings"]
    attempts = attempts_of(
        session=session, filing_ids=[filing.id for filing in filings if filing.id]
    )
    policy_row = session.get(PolicyVersion, report.policy_version_id)
    assert policy_row is not None
    base = report_public(report, RungTargets(session)(report))
    policy = as_policy(policy_row)
    return ReportDetail(
        **base.model_dump(),
        policy=policy,
        ladder=ladder(report, policy),
        filings=[filing_public(filing, attempts.get(filing.id or 0, [])) for filing in filings],
        checks=[
            CheckPublic.model_validate(check, from_attributes=True) for check in parts["checks"]
        ],
        transitions=[
            TransitionPublic.model_validate(item, from_attributes=True)
            for item in parts["transitions"]
        ],
    )


def ladder(report: Report, policy: Policy) -> list[LadderStep]:
    """Every rung of the report's policy with the channel the directory routes it to."""
    steps = []
    for index, rung in enumerate(policy.rungs):
        route = directory().route(report.platform, rung.target)
        steps.append(
            LadderStep(
                rung_index=index,
                target=rung.target,
                deadline=TypeAdapter(timedelta).dump_python(rung.deadline, mode="json"),
                legal_basis=rung.legal_basis,
                is_current=index == report.rung_index,
                adapter=route.adapter,
                channel_kind=ChannelKind(route.kind),
                via=route.via,
                channel=dict(route.params),
            )
        )
    return steps


@router.post(
    "/reports/{report_id}/recheck",
    response_model=RecheckAnswer,
    status_code=status.HTTP_202_ACCEPTED,
)
def recheck(report_id: IdPath, session: SessionDep, principal: CaseworkerDep) -> RecheckAnswer:
    """Ask for an immediate re-check; the next sweep takes it."""
    report = request_recheck(session=session, principal=principal, report_id=report_id)
    session.commit()
    assert report.id is not None and report.next_check_at is not None
    return RecheckAnswer(report_id=report.id, next_check_at=report.next_check_at)


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: PauseReason = Field(description="Why the clock stops")


@router.post("/reports/{report_id}/pause", response_model=ReportPublic)
def pause_(
    report_id: IdPath, data: PauseRequest, session: SessionDep, principal: CaseworkerDep
) -> ReportPublic:
    """Stop the report's deadline clock (waiting for the victim, or the platform asked for
    more information). Re-checks go on; the time left is given back on resume."""
    report = pause(session=session, principal=principal, report_id=report_id, reason=data.reason)
    session.commit()
    return report_public(report, RungTargets(session)(report))


@router.post("/reports/{report_id}/resume", response_model=ReportPublic)
def resume_(report_id: IdPath, session: SessionDep, principal: CaseworkerDep) -> ReportPublic:
    """Restart the clock: the deadline moves on by the time it was paused."""
    report = resume(session=session, principal=principal, report_id=report_id)
    session.commit()
    return report_public(report, RungTargets(session)(report))


@router.get("/summary", tags=["dashboards"], response_model=Summary)
def summary_(session: SessionDep, principal: PrincipalDep) -> Summary:
    """Counts by state and platform, overdue and due soon: aggregates only, for dashboards."""
    return Summary.model_validate(
        summary(session=session, organisation_id=principal.organisation_id)
    )
