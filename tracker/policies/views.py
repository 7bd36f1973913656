"""HTTP endpoints for the policies in force: ladders and deadlines, with their sources."""

from typing import Any

from fastapi import APIRouter

from tracker.api.deps import PrincipalDep, SessionDep
from tracker.policies.service import list_policies

router = APIRouter(prefix="/policies", tags=["policies"])


@router.get("")
def list_(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Every recorded policy version with its rungs, deadlines and source."""
    return [{**row.document, "recorded_id": row.id} for row in list_policies(session=session)]
