"""Withdrawing consent from the case page: a section that explains, a confirmation, the erasure."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from sqlmodel import Session

from tracker.api.deps import SessionDep
from tracker.cases.models import Case
from tracker.cases.service import require_case
from tracker.cases.withdrawal import withdraw_case
from tracker.console.app import redirect
from tracker.console.context import Console, ConsoleDep, check_csrf
from tracker.console.pages.case_sections import case_section
from tracker.console.render import render

router = APIRouter()


@case_section("withdrawal/_case_section.html")
def withdrawal_section(session: Session, console: Console, case: Case) -> dict[str, Any] | None:
    """The withdrawal section: the button, or when it happened."""
    return {"withdrawn_at": case.withdrawn_at, "error": None}


@router.post("/cases/{case_id:int}/withdraw", dependencies=[Depends(check_csrf)])
def withdraw(
    case_id: int,
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Withdraw once the box is ticked; the case page then says what was erased."""
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    if confirm != "yes":
        return render(
            request,
            "withdrawal/confirm.html",
            {"case": case, "error": "confirm"},
            console=console,
            status_code=400,
        )
    withdraw_case(session=session, principal=console.principal, case_id=case_id)
    session.commit()
    return redirect(f"/cases/{case_id}?done=withdrawn", request)
