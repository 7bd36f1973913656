"""The bundle for police, NCRP and court on the case page: what is inside, the download (a POST,
so a prefetch never records a custody event), and the supervisors' switch for exports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from sqlmodel import Session

from tracker.api.deps import IdPath, SessionDep
from tracker.cases.models import Case
from tracker.cases.schemas import CaseUpdate
from tracker.cases.service import require_case, update_case
from tracker.console.app import redirect
from tracker.console.context import Console, ConsoleDep, SupervisorConsoleDep, check_csrf
from tracker.console.pages.case_sections import case_section
from tracker.console.render import render
from tracker.exports.views import zip_response

router = APIRouter()
CsrfChecked = Depends(check_csrf)


@case_section("exports/_case_section.html")
def exports_section(session: Session, console: Console, case: Case) -> dict[str, Any] | None:
    """The export section: the button (when allowed) and, for supervisors, the switch."""
    return {"allowed": case.exports_allowed, "can_switch": console.is_supervisor}


@router.post("/cases/{case_id:int}/export", dependencies=[CsrfChecked])
def export(request: Request, session: SessionDep, console: ConsoleDep, case_id: IdPath) -> Response:
    """Answer the case's bundle as a ZIP download; the export is recorded as a custody event."""
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    if not case.exports_allowed:
        return render(
            request,
            "exports/refused.html",
            {"case": case, "reason": "off"},
            console=console,
            status_code=403,
        )
    return zip_response(session=session, principal=console.principal, case_id=case_id)


@router.post("/cases/{case_id:int}/exports-allowed", dependencies=[CsrfChecked])
def switch_exports(
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    case_id: IdPath,
    allowed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Turn the case's exports on or off (supervisors and admins)."""
    if allowed not in ("yes", "no"):
        case = require_case(session=session, principal=console.principal, case_id=case_id)
        return render(
            request,
            "exports/refused.html",
            {"case": case, "reason": "choice"},
            console=console,
            status_code=400,
        )
    update_case(
        session=session,
        principal=console.principal,
        case_id=case_id,
        data=CaseUpdate(exports_allowed=allowed == "yes"),
    )
    session.commit()
    return redirect(f"/cases/{case_id}#exports", request)
