"""HTTP endpoint for withdrawing consent on a case."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from tracker.api.deps import CaseworkerDep, IdPath, SessionDep
from tracker.cases.withdrawal import withdraw_case
from tracker.errors import Invalid

router = APIRouter(prefix="/cases", tags=["cases"])


class WithdrawRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm: bool = Field(
        description="Must be true: the case's contact details, notes, evidence and reported "
        "URLs are erased for good."
    )


class WithdrawAnswer(BaseModel):
    case_id: int
    reports_closed: int
    filings_withdrawn: int
    notices_due: int = Field(description="Channels that will be told the report is withdrawn")
    evidence_purged: int


@router.post("/{case_id}/withdraw", response_model=WithdrawAnswer)
def withdraw(
    case_id: IdPath, data: WithdrawRequest, session: SessionDep, principal: CaseworkerDep
) -> WithdrawAnswer:
    """The person withdrew consent: stop every re-check and filing, tell the channels that can
    be told, destroy the case's key (contact details, notes and evidence become unreadable) and
    erase its URLs. Counts and the audit event of the erasure remain."""
    if not data.confirm:
        raise Invalid.one(
            ("body", "confirm"), "confirm must be true to withdraw", "case.withdraw_unconfirmed"
        )
    outcome = withdraw_case(session=session, principal=principal, case_id=case_id)
    session.commit()
    return WithdrawAnswer(
        case_id=case_id,
        reports_closed=outcome.reports_closed,
        filings_withdrawn=outcome.filings_withdrawn,
        notices_due=outcome.notices_due,
        evidence_purged=outcome.evidence_purged,
    )
