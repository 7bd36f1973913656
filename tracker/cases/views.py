"""HTTP endpoints for cases."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from tracker.api.deps import CaseworkerDep, IdPath, Limit, Offset, SessionDep
from tracker.api.pages import BeforeId, Page
from tracker.cases.models import Case, CaseStatus
from tracker.cases.schemas import CaseCreate, CaseDetail, CasePublic, CaseUpdate
from tracker.cases.service import (
    SEARCH_MAX_LENGTH,
    contact_of,
    create_case,
    list_cases,
    notes_of,
    report_counts,
    require_case,
    update_case,
)
from tracker.filings.opening import open_filings_for_case
from tracker.ids import MAX_ROW_ID
from tracker.reports.lifecycle import ReportState

router = APIRouter(prefix="/cases", tags=["cases"])


def _public(case: Case, counts: dict[int, int]) -> CasePublic:
    assert case.id is not None
    return CasePublic(
        id=case.id,
        label=case.label,
        jurisdictions=case.jurisdictions,
        status=case.status,
        assigned_to=case.assigned_to,
        authority_to_act=case.authority_to_act,
        consent_to_share_identity=case.consent_to_share_identity,
        minor_involved=case.minor_involved,
        exports_allowed=case.exports_allowed,
        created_at=case.created_at,
        updated_at=case.updated_at,
        report_count=counts.get(case.id, 0),
    )


def _detail(session: SessionDep, case: Case) -> CaseDetail:
    assert case.id is not None
    public = _public(case, report_counts(session=session, case_ids=[case.id]))
    return CaseDetail(
        **public.model_dump(),
        contact=contact_of(session=session, case=case),
        notes=notes_of(session=session, case=case),
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CaseDetail)
def create(data: CaseCreate, session: SessionDep, principal: CaseworkerDep) -> CaseDetail:
    """Open a case. Contact details are encrypted at rest and never leave the case."""
    case = create_case(session=session, principal=principal, data=data)
    session.commit()
    return _detail(session, case)


@router.get("", response_model=Page[CasePublic])
def list_(
    session: SessionDep,
    principal: CaseworkerDep,
    status_: Annotated[
        CaseStatus | None, Query(alias="status", description="Only open or only closed cases")
    ] = None,
    assigned_to: Annotated[
        int | None,
        Query(ge=1, le=MAX_ROW_ID, description="Only cases assigned to this user id"),
    ] = None,
    jurisdiction: Annotated[
        str | None, Query(max_length=16, description="Only cases under this jurisdiction code")
    ] = None,
    report_state: Annotated[
        ReportState | None, Query(description="Only cases holding a report in this state")
    ] = None,
    platform: Annotated[
        str | None,
        Query(max_length=64, description="Only cases holding a report of this platform"),
    ] = None,
    overdue: Annotated[
        bool | None,
        Query(
            description="true: only cases with a report past its deadline; "
            "false: only cases without one"
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=SEARCH_MAX_LENGTH,
            description="Search: part of the label (any case), a case id (`12` or `#12`), "
            "or a platform's reference for a filing (exact)",
        ),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    before_id: BeforeId = None,
) -> Page[CasePublic]:
    """Cases you may see: a caseworker's own, or all of the organisation's for a supervisor.

    Newest first. The filters combine; each narrows the list. `total` and `report_count` are
    exact; for deep pages pass `before_id` (the id of the last case you received).
    """
    cases, total = list_cases(
        session=session,
        principal=principal,
        status=status_,
        assigned_to=assigned_to,
        jurisdiction=jurisdiction,
        limit=limit,
        offset=offset,
        report_state=report_state,
        platform=platform,
        overdue=overdue,
        q=q,
        before_id=before_id,
    )
    counts = report_counts(session=session, case_ids=[case.id for case in cases if case.id])
    return Page[CasePublic](
        items=[_public(case, counts) for case in cases], total=total, limit=limit, offset=offset
    )


@router.get("/{case_id}", response_model=CaseDetail)
def read(case_id: IdPath, session: SessionDep, principal: CaseworkerDep) -> CaseDetail:
    """One case with its contact details."""
    return _detail(session, require_case(session=session, principal=principal, case_id=case_id))


@router.patch("/{case_id}", response_model=CaseDetail)
def update(
    case_id: IdPath, data: CaseUpdate, session: SessionDep, principal: CaseworkerDep
) -> CaseDetail:
    """Change a case. Granting authority to act files its waiting reports."""
    case, authority_granted = update_case(
        session=session, principal=principal, case_id=case_id, data=data
    )
    if authority_granted:
        open_filings_for_case(session=session, case=case)
    session.commit()
    return _detail(session, case)
