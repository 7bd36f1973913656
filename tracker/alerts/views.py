"""HTTP endpoint for open alerts: things that keep failing and need a person."""

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from tracker.alerts.service import open_alerts
from tracker.api.deps import PrincipalDep, SessionDep

router = APIRouter(prefix="/alerts", tags=["alerts"])


class AlertPublic(BaseModel):
    id: int
    kind: str
    subject: str
    message: str
    raised_at: datetime


@router.get("", response_model=list[AlertPublic])
def list_(session: SessionDep, principal: PrincipalDep) -> list[AlertPublic]:
    """Open alerts of your organisation and of the system."""
    return [
        AlertPublic.model_validate(alert, from_attributes=True)
        for alert in open_alerts(session=session, organisation_id=principal.organisation_id)
    ]
