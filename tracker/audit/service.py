"""Recording audit events."""

from typing import Any

from sqlmodel import Session

from tracker.audit.models import AuditEvent


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
    """Append one audit event in the caller's transaction. ``details`` must hold no identity."""
    session.add(
        AuditEvent(
            organisation_id=organisation_id,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details or {},
        )
    )
