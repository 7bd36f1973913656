"""HTTP endpoints for the audit log: an organisation's events, and the chain's verification."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tracker.api.deps import AdminDep, IdQuery, Limit, Offset, SessionDep
from tracker.api.pages import Page, page_of
from tracker.audit.chain import verify_chain
from tracker.audit.models import AuditEvent
from tracker.audit.service import list_events

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditEventPublic(BaseModel):
    id: int
    sequence: int = Field(description="The event's place in the chain: 1, 2, 3... without gaps")
    actor: str = Field(description='"user:<id>", "worker", "system", "cli", …')
    action: str = Field(description='What was done, e.g. "case.created", "evidence.viewed"')
    object_type: str
    object_id: int | None
    details: dict[str, Any] = Field(description="Counts, codes and field names; never identity")
    at: datetime
    prev_hash: str = Field(description="The previous event's hash (64 zeros for the first)")
    hash: str = Field(description="SHA-256 over this event's canonical encoding and prev_hash")


class ChainVerification(BaseModel):
    """The whole chain (every organisation's events) recomputed; only the first broken link's
    place is named."""

    intact: bool
    checked: int = Field(ge=0, description="Links checked before the end or the first break")
    broken_at: int | None = Field(description="The sequence number of the first broken link")
    reason: Literal["hash mismatch", "missing link", "prev_hash mismatch"] | None


def event_public(event: AuditEvent) -> AuditEventPublic:
    """The API view of an audit event."""
    return AuditEventPublic.model_validate(event.model_dump())


@router.get("", response_model=Page[AuditEventPublic])
def list_(
    session: SessionDep,
    principal: AdminDep,
    action: Annotated[str | None, Query(max_length=64, description="Only this action")] = None,
    object_type: Annotated[
        str | None, Query(max_length=32, description='Only objects of this type, e.g. "case"')
    ] = None,
    object_id: IdQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AuditEventPublic]:
    """Your organisation's audit events, newest first (admins)."""
    rows, total = list_events(
        session=session,
        organisation_id=principal.organisation_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        limit=limit,
        offset=offset,
    )
    return page_of([event_public(row) for row in rows], total=total, limit=limit, offset=offset)


@router.get("/verify", response_model=ChainVerification)
def verify(session: SessionDep, principal: AdminDep) -> ChainVerification:
    """Recompute the whole audit chain and name its first broken link, if any (admins)."""
    report = verify_chain(session=session)
    return ChainVerification(
        intact=report.intact,
        checked=report.checked,
        broken_at=report.broken_sequence,
        reason=report.reason,  # type: ignore[arg-type]
    )
