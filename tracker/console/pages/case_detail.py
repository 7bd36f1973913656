"""One case: its facts, its reports (a table htmx re-reads every 5 s), the contact details on
request (audited), and the case's actions: close, reopen, authority to act, assign."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from sqlmodel import Session

from tracker.api.deps import IdPath, SessionDep
from tracker.audit.service import record
from tracker.cases.models import Case, CaseStatus
from tracker.cases.schemas import CaseUpdate
from tracker.cases.service import contact_of, notes_of, require_case, update_case
from tracker.console.app import redirect
from tracker.console.context import Console, ConsoleDep, SupervisorConsoleDep, check_csrf
from tracker.console.pages.case_sections import section_contexts
from tracker.console.pages.case_words import Phrases, assignees_for, report_rows
from tracker.console.render import render
from tracker.console.words import PAUSE_REASONS
from tracker.db import utcnow
from tracker.errors import Invalid
from tracker.filings.opening import open_filings_for_case
from tracker.ids import MAX_ROW_ID
from tracker.organisations.service import get_user
from tracker.reports.service import list_reports

router = APIRouter()
CsrfChecked = Depends(check_csrf)


#: Reports listed on the case page (newest first); a larger case says how many more it holds.
REPORTS_SHOWN = 500
#: ``?done=`` codes the case page turns into a notice.
NOTICES = frozenset(
    {
        "created",
        "withdrawn",
        "closed",
        "reopened",
        "authority",
        "assigned",
        "urls-added",
        # The report actions of the table (pages/reports.py) come back here with these.
        "rechecked",
        "paused",
        "resumed",
    }
)


def _count(value: str) -> int | None:
    """A small count from the query string (``created=3``), or None."""
    return int(value) if value.isdigit() and len(value) <= 6 else None


def reports_context(session: Session, console: Console, case: Case) -> dict[str, Any]:
    """What the reports table of a case needs (the case page and its fragment)."""
    reports, total = list_reports(
        session=session,
        principal=console.principal,
        case_id=case.id,
        state=None,
        platform=None,
        overdue=None,
        limit=REPORTS_SHOWN,
        offset=0,
    )
    return {
        "case": case,
        "rows": report_rows(session, reports, utcnow()),
        "reports_total": total,
        "is_open": case.status == CaseStatus.OPEN,
        "pause_reasons": list(PAUSE_REASONS),
        "phrases": Phrases(console.language),
    }


def _case_page(
    request: Request,
    session: Session,
    console: Console,
    case: Case,
    *,
    notices: dict[str, Any],
    status_code: int = 200,
) -> Response:
    assignee = (
        get_user(
            session=session,
            organisation_id=console.principal.organisation_id,
            user_id=case.assigned_to,
        )
        if case.assigned_to is not None
        else None
    )
    return render(
        request,
        "cases/detail.html",
        {
            **reports_context(session, console, case),
            "assignee": assignee,
            "assignees": assignees_for(session, console),
            "done": None,
            "created": None,
            "filed": None,
            "assign_error": None,
            "sections": section_contexts(session, console, case),
            **notices,
        },
        console=console,
        status_code=status_code,
    )


@router.get("/cases/{case_id:int}")
def case_page(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    case_id: IdPath,
    done: str = "",
    created: str = "",
    filed: str = "",
) -> Response:
    """The case: its facts, every report with its state, deadline and last check, actions."""
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    notices = {
        "done": done if done in NOTICES else None,
        "created": _count(created),
        "filed": _count(filed),
    }
    return _case_page(request, session, console, case, notices=notices)


@router.get("/cases/{case_id:int}/reports")
def case_reports(
    request: Request, session: SessionDep, console: ConsoleDep, case_id: IdPath
) -> Response:
    """The case's reports table alone (htmx re-reads it every 5 seconds while the case is open)."""
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    return render(
        request, "cases/_reports.html", reports_context(session, console, case), console=console
    )


@router.get("/cases/{case_id:int}/contact")
def contact_link(
    request: Request, session: SessionDep, console: ConsoleDep, case_id: IdPath
) -> Response:
    """Contact details are shown only in answer to the button (a POST); a link leads back."""
    require_case(session=session, principal=console.principal, case_id=case_id)
    return redirect(f"/cases/{case_id}", request)


@router.post("/cases/{case_id:int}/contact", dependencies=[CsrfChecked])
def reveal_contact(
    request: Request, session: SessionDep, console: ConsoleDep, case_id: IdPath
) -> Response:
    """Show the victim's contact details and the notes; who looked is recorded in the audit log."""
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    record(
        session=session,
        actor=console.principal.actor,
        action="case.contact_viewed",
        object_type="case",
        object_id=case.id,
        organisation_id=case.organisation_id,
    )
    session.commit()
    return render(
        request,
        "cases/contact.html",
        {
            "case": case,
            "contact": contact_of(session=session, case=case),
            "notes": notes_of(session=session, case=case),
        },
        console=console,
    )


def _set_status(
    request: Request, session: Session, console: Console, case_id: int, status: CaseStatus
) -> Response:
    update_case(
        session=session,
        principal=console.principal,
        case_id=case_id,
        data=CaseUpdate(status=status),
    )
    session.commit()
    done = "closed" if status == CaseStatus.CLOSED else "reopened"
    return redirect(f"/cases/{case_id}?done={done}", request)


@router.post("/cases/{case_id:int}/close", dependencies=[CsrfChecked])
def close_case(
    request: Request, session: SessionDep, console: ConsoleDep, case_id: IdPath
) -> Response:
    """Close the case."""
    return _set_status(request, session, console, case_id, CaseStatus.CLOSED)


@router.post("/cases/{case_id:int}/reopen", dependencies=[CsrfChecked])
def reopen_case(
    request: Request, session: SessionDep, console: ConsoleDep, case_id: IdPath
) -> Response:
    """Open a closed case again."""
    return _set_status(request, session, console, case_id, CaseStatus.OPEN)


@router.post("/cases/{case_id:int}/authority", dependencies=[CsrfChecked])
def grant_authority(
    request: Request, session: SessionDep, console: ConsoleDep, case_id: IdPath
) -> Response:
    """Record the authority to act; the reports waiting for it are filed now."""
    case, granted = update_case(
        session=session,
        principal=console.principal,
        case_id=case_id,
        data=CaseUpdate(authority_to_act=True),
    )
    opened = open_filings_for_case(session=session, case=case) if granted else []
    session.commit()
    return redirect(f"/cases/{case_id}?done=authority&filed={len(opened)}", request)


@router.post("/cases/{case_id:int}/assign", dependencies=[CsrfChecked])
def assign_case(
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    case_id: IdPath,
    assigned_to: Annotated[str, Form()] = "",
) -> Response:
    """Give the case to another active person of the organisation (supervisors, admins)."""
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    user_id = int(assigned_to) if assigned_to.isdigit() and len(assigned_to) <= 10 else 0
    try:
        if not 1 <= user_id <= MAX_ROW_ID:
            raise Invalid.one(("body", "assigned_to"), "no such person", "case.unknown_assignee")
        update_case(
            session=session,
            principal=console.principal,
            case_id=case_id,
            data=CaseUpdate(assigned_to=user_id),
        )
    except Invalid:
        session.rollback()
        return _case_page(
            request, session, console, case, notices={"assign_error": True}, status_code=400
        )
    session.commit()
    return redirect(f"/cases/{case_id}?done=assigned", request)
