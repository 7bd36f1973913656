"""The web-form packet: everything to paste into a platform's form, then record its reference.

This is the page caseworkers use most, so it is built for speed: the form link first, every
field in the form's order with a one-click copy button, and the confirmation form at the end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import ValidationError
from sqlmodel import Session

from tracker.api.deps import IdPath, SessionDep
from tracker.console.app import redirect
from tracker.console.context import Console, ConsoleDep, check_csrf
from tracker.console.render import render
from tracker.errors import Conflict, Invalid
from tracker.filings.manual import confirm_manual, require_filing
from tracker.filings.models import FilingStatus
from tracker.filings.opening import step_of
from tracker.filings.views import FilingConfirm
from tracker.reports.schemas import WebformPacket

router = APIRouter()
CsrfChecked = Depends(check_csrf)

#: The confirmation form's fields, as the API names them.
REFERENCE = "reference_id"
SUBMITTED_AT = "submitted_at"


def _packet_page(
    request: Request,
    session: Session,
    console: Console,
    filing_id: int,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    filing, report = require_filing(
        session=session, principal=console.principal, filing_id=filing_id
    )
    packet = WebformPacket.model_validate(filing.packet) if filing.packet else None
    step = step_of(session=session, report=report, track=filing.track, index=filing.rung_index)
    return render(
        request,
        "packets/packet.html",
        {
            "filing": filing,
            "report": report,
            "packet": packet,
            "awaiting": filing.status == FilingStatus.AWAITING_MANUAL and packet is not None,
            "to_fill": set(packet.to_fill or []) if packet else set(),
            "step_deadline": step.deadline if step is not None else None,
            "errors": errors or {},
            "typed": typed or {},
        },
        console=console,
        status_code=status_code,
    )


@router.get("/filings/{filing_id}/packet")
def packet_view(
    request: Request, filing_id: IdPath, session: SessionDep, console: ConsoleDep
) -> Response:
    """The packet of a web-form filing: form link, fields to copy, the confirmation form."""
    return _packet_page(request, session, console, filing_id)


def _submitted_at(text: str) -> datetime | None:
    """A ``datetime-local`` value read as UTC (an explicit offset is kept); else ValueError."""
    if not text.strip():
        return None
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@router.post("/filings/{filing_id}/confirm", dependencies=[CsrfChecked])
def confirm(
    request: Request,
    filing_id: IdPath,
    session: SessionDep,
    console: ConsoleDep,
    reference_id: Annotated[str, Form()] = "",
    submitted_at: Annotated[str, Form()] = "",
) -> Response:
    """Record the platform's reference: the filing is submitted and its deadline starts."""
    require_filing(session=session, principal=console.principal, filing_id=filing_id)
    typed = {REFERENCE: reference_id, SUBMITTED_AT: submitted_at}

    def refuse(errors: dict[str, str], status_code: int = 400) -> Response:
        session.rollback()
        return _packet_page(
            request,
            session,
            console,
            filing_id,
            errors=errors,
            typed=typed,
            status_code=status_code,
        )

    errors: dict[str, str] = {}
    try:
        moment = _submitted_at(submitted_at)
    except ValueError:
        moment = None
        errors[SUBMITTED_AT] = "invalid"
    try:
        FilingConfirm(reference_id=reference_id.strip(), submitted_at=moment)
    except ValidationError as error:
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else REFERENCE
            errors.setdefault(name, "invalid")
    if errors:
        return refuse(errors)
    try:
        filing = confirm_manual(
            session=session,
            principal=console.principal,
            filing_id=filing_id,
            reference_id=reference_id.strip(),
            submitted_at=moment,
        )
    except Invalid as error:
        return refuse({SUBMITTED_AT: error.problems[0].type if error.problems else "invalid"})
    except Conflict as error:
        if error.problems and error.problems[0].loc[-1] == REFERENCE:
            return refuse({REFERENCE: "duplicate"}, status_code=409)
        raise
    session.commit()
    return redirect(f"/reports/{filing.report_id}?done=confirmed", request)
