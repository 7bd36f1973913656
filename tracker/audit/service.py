"""Recording audit events, and listing an organisation's. There is no update and no delete."""

from typing import Any

from sqlmodel import Session, col, select

from tracker.audit.chain import NewEvent, append, append_many
from tracker.audit.models import AuditEvent
from tracker.db import utcnow
from tracker.pagination import paginate


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    object_type: str,
    object_id: int | None,
    organisation_id: int | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit event to the chain in the caller's transaction. ``details`` must hold
    no identity."""
    append(
        session=session,
        organisation_id=organisation_id,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
        at=utcnow(),
    )


def record_many(*, session: Session, events: list[NewEvent]) -> None:
    """Append several audit events, in order, in the caller's transaction (one lock, one
    statement). Their ``details`` must hold no identity."""
    append_many(session=session, events=events)


def list_events(
    *,
    session: Session,
    organisation_id: int,
    action: str | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    """One organisation's audit events, newest first, and how many match the filters."""
    query = select(AuditEvent).where(AuditEvent.organisation_id == organisation_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == object_id)
    return paginate(
        session=session,
        query=query,
        order_by=col(AuditEvent.sequence).desc(),
        limit=limit,
        offset=offset,
    )
