"""HTTP endpoints for the policies in force: ladders and deadlines, with their sources."""

from fastapi import APIRouter

from tracker.api.deps import Limit, Offset, PrincipalDep, SessionDep
from tracker.api.pages import Page, slice_page
from tracker.policies.schema import Policy
from tracker.policies.service import list_policies

router = APIRouter(prefix="/policies", tags=["policies"])


class PolicyRecorded(Policy):
    """A policy version as recorded when the tracker first read it."""

    recorded_id: int


@router.get("", response_model=Page[PolicyRecorded])
def list_(
    session: SessionDep, principal: PrincipalDep, limit: Limit = 50, offset: Offset = 0
) -> Page[PolicyRecorded]:
    """Every recorded policy version with its rungs, deadlines and source."""
    return slice_page(
        list_policies(session=session),
        lambda row: PolicyRecorded.model_validate({**row.document, "recorded_id": row.id}),
        limit=limit,
        offset=offset,
    )
