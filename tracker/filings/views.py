"""HTTP endpoints for filings that wait for a caseworker to submit them by hand."""

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from platform_adapters.base import ChannelKind
from tracker.api.deps import CaseworkerDep, IdPath, Limit, Offset, SessionDep
from tracker.api.pages import Page
from tracker.filings.manual import confirm_manual, list_awaiting_manual
from tracker.filings.models import Filing, FilingAttempt, FilingTrack
from tracker.filings.service import attempts_of
from tracker.reports.schemas import FilingAttemptPublic, FilingPublic, WebformPacket

router = APIRouter(prefix="/filings", tags=["filings"])


class FilingConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference_id: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e ]+$",
        description="The reference the platform gave on submission.",
    )
    submitted_at: AwareDatetime | None = Field(
        default=None, description="When it was submitted, if not just now (UTC offset required)."
    )


def filing_public(filing: Filing, attempts: list[FilingAttempt]) -> FilingPublic:
    """The API view of a filing."""
    assert filing.id is not None
    return FilingPublic(
        id=filing.id,
        report_id=filing.report_id,
        rung_index=filing.rung_index,
        rung_target=filing.rung_target,
        track=FilingTrack(filing.track),
        adapter=filing.adapter,
        channel_kind=ChannelKind(filing.channel_kind),
        status=filing.status,
        platform_status=filing.platform_status,
        external_ref=filing.external_ref,
        deadline_at=filing.deadline_at,
        submitted_at=filing.submitted_at,
        confirmed_at=filing.confirmed_at,
        attempt_count=filing.attempt_count,
        last_error=filing.last_error,
        channel_params=filing.channel_params,
        packet=WebformPacket.model_validate(filing.packet) if filing.packet else None,
        created_at=filing.created_at,
        attempts=[
            FilingAttemptPublic.model_validate(item, from_attributes=True) for item in attempts
        ],
    )


@router.get("", response_model=Page[FilingPublic])
def list_(
    session: SessionDep,
    principal: CaseworkerDep,
    status: Literal["awaiting_manual"] = "awaiting_manual",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[FilingPublic]:
    """Filings awaiting manual submission, each with its ready-to-paste packet."""
    filings, total = list_awaiting_manual(
        session=session, principal=principal, limit=limit, offset=offset
    )
    attempts = attempts_of(session=session, filing_ids=[f.id for f in filings if f.id])
    return Page[FilingPublic](
        items=[filing_public(filing, attempts.get(filing.id or 0, [])) for filing in filings],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("/{filing_id}/confirm", response_model=FilingPublic)
def confirm(
    filing_id: IdPath, data: FilingConfirm, session: SessionDep, principal: CaseworkerDep
) -> FilingPublic:
    """Record that the packet was submitted, with the platform's reference; the deadline
    starts from this confirmation."""
    submitted: datetime | None = data.submitted_at
    filing = confirm_manual(
        session=session,
        principal=principal,
        filing_id=filing_id,
        reference_id=data.reference_id,
        submitted_at=submitted,
    )
    session.commit()
    return filing_public(filing, attempts_of(session=session, filing_ids=[filing_id])[filing_id])
