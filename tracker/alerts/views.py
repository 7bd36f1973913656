"""HTTP endpoints for alerts: things that keep failing and need a person."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tracker.alerts.kinds import AlertKind, AlertState
from tracker.alerts.models import Alert
from tracker.alerts.triage import (
    acknowledge_alert,
    count_open,
    list_alerts,
    resolve_alert,
    state_of,
)
from tracker.api.deps import (
    CaseworkerDep,
    IdPath,
    Limit,
    Offset,
    PrincipalDep,
    SessionDep,
    SupervisorDep,
)
from tracker.api.pages import Page, page_of

router = APIRouter(prefix="/alerts", tags=["alerts"])


class AlertPublic(BaseModel):
    id: int
    kind: AlertKind
    subject: str = Field(description='What failed: "adapter:<slug>", "host:<host>", "checker", …')
    message: str = Field(description="Generic per kind; the details stay on the filing or check")
    state: AlertState
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None


class AlertCounts(BaseModel):
    """Open alerts of your organisation by kind: what a dashboard may read."""

    by_kind: dict[AlertKind, int]
    total: int


def alert_public(alert: Alert) -> AlertPublic:
    """The API view of an alert."""
    return AlertPublic.model_validate(
        {**alert.model_dump(), "state": state_of(alert)}, from_attributes=False
    )


@router.get("", response_model=Page[AlertPublic])
def list_(
    session: SessionDep,
    principal: CaseworkerDep,  # the roles with case data; the service checks it too
    kind: Annotated[AlertKind | None, Query(description="Only alerts of this kind")] = None,
    state: Annotated[
        AlertState,
        Query(description="open (acknowledged or not), acknowledged (and open), or resolved"),
    ] = AlertState.OPEN,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AlertPublic]:
    """Alerts of your organisation you may see, newest first (roles with case data only)."""
    rows, total = list_alerts(
        session=session, principal=principal, kind=kind, state=state, limit=limit, offset=offset
    )
    return page_of([alert_public(row) for row in rows], total=total, limit=limit, offset=offset)


@router.get("/counts", response_model=AlertCounts)
def counts(session: SessionDep, principal: PrincipalDep) -> AlertCounts:
    """How many alerts of your organisation are open, by kind (any role, no subjects)."""
    by_kind = count_open(session=session, organisation_id=principal.organisation_id)
    return AlertCounts(
        by_kind={AlertKind(kind): count for kind, count in by_kind.items()},
        total=sum(by_kind.values()),
    )


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic)
def acknowledge(alert_id: IdPath, session: SessionDep, principal: SupervisorDep) -> AlertPublic:
    """Mark an alert as seen (supervisors, admins); it stays open until its cause clears."""
    alert = acknowledge_alert(session=session, principal=principal, alert_id=alert_id)
    session.commit()
    return alert_public(alert)


@router.post("/{alert_id}/resolve", response_model=AlertPublic)
def resolve(alert_id: IdPath, session: SessionDep, principal: SupervisorDep) -> AlertPublic:
    """Close an alert by hand (supervisors, admins); it opens again if its cause persists."""
    alert = resolve_alert(session=session, principal=principal, alert_id=alert_id)
    session.commit()
    return alert_public(alert)
