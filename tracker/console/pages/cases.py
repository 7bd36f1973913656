"""The case list (filters, search, pages) and opening a case; the case page is in case_detail."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import ValidationError
from sqlmodel import Session

from tracker.api.deps import SessionDep
from tracker.cases.models import CaseStatus
from tracker.cases.schemas import CaseCreate
from tracker.cases.service import (
    SEARCH_MAX_LENGTH,
    create_case,
    list_cases,
    overdue_counts,
    report_counts,
)
from tracker.console.app import redirect
from tracker.console.context import Console, ConsoleDep, check_csrf
from tracker.console.i18n import N_
from tracker.console.pages.case_detail import router as case_detail_router
from tracker.console.pages.case_words import (
    Phrases,
    assignees_for,
    gettext_for,
    platform_choices,
)
from tracker.console.render import render
from tracker.console.words import STATES
from tracker.errors import DomainError
from tracker.ids import MAX_OFFSET
from tracker.organisations.service import list_users
from tracker.policies.service import CHILD_JURISDICTION, list_policies
from tracker.reports.lifecycle import ReportState
from tracker.text import forbidden_character

router = APIRouter()
CsrfChecked = Depends(check_csrf)
PAGE_SIZE = 50

FILTER_MESSAGES = {
    "status": N_("Choose open or closed from the list."),
    "report_state": N_("Choose a report state from the list."),
    "platform": N_("Choose a platform from the list."),
    "overdue": N_("Choose yes or no from the list."),
    "assigned_to": N_("Choose a person from the list."),
    "q": N_(
        "Search for at most 120 characters on one line: part of a label, a case number "
        "or a platform's reference."
    ),
}
FORM_MESSAGES = {
    "label": N_(
        "Give the case a label on one line, at most 120 characters. Never the person's name."
    ),
    "jurisdictions": N_("Choose one to five jurisdictions from the list."),
    "unknown_jurisdiction": N_(
        "No policy is in force for a chosen jurisdiction: choose from the list."
    ),
    "assigned_to": N_("Choose someone active in your organisation."),
    "contact_name": N_("The contact name must be one line, at most 200 characters."),
    "contact_email": N_("This e-mail address does not look right."),
    "contact_phone": N_(
        "A phone number has 3 to 40 characters: digits, spaces and + ( ) . - only."
    ),
    "notes": N_("Notes hold at most 5,000 characters, without control characters."),
}


@dataclass(frozen=True, slots=True)
class CaseFilters:
    """The case list's filters as the page's GET form sends them (blank: no filter)."""

    status: str = ""
    report_state: str = ""
    platform: str = ""
    overdue: str = ""
    assigned_to: str = ""
    q: str = ""

    def link(self, offset: int) -> str:
        """The list's URL with these filters, at ``offset``."""
        values = {name: value for name, value in self.values() if value}
        if offset:
            values["offset"] = str(offset)
        return "/cases" + (f"?{urlencode(values)}" if values else "")

    def values(self) -> list[tuple[str, str]]:
        """(name, value) of every filter, in the form's order."""
        return [(field.name, getattr(self, field.name)) for field in fields(self)]

    def problems(self) -> dict[str, str]:
        """The fields whose value the list cannot use, each with its message code."""
        found = [
            name
            for name, value in self.values()
            if forbidden_character(value, multiline=False) is not None
        ]
        if self.status and self.status not in {status.value for status in CaseStatus}:
            found.append("status")
        if self.report_state and self.report_state not in {state.value for state in ReportState}:
            found.append("report_state")
        if len(self.platform) > 64:
            found.append("platform")
        if self.overdue not in ("", "true", "false"):
            found.append("overdue")
        if self.assigned_to and not (self.assigned_to.isdigit() and len(self.assigned_to) <= 10):
            found.append("assigned_to")
        if len(self.q.strip()) > SEARCH_MAX_LENGTH:
            found.append("q")
        return {name: name for name in found}


def _filter_query(session: Session, console: Console, filters: CaseFilters, offset: int) -> Any:
    """Run the list with valid filters: the cases of the page and the total."""
    return list_cases(
        session=session,
        principal=console.principal,
        status=CaseStatus(filters.status) if filters.status else None,
        assigned_to=int(filters.assigned_to) if filters.assigned_to else None,
        jurisdiction=None,
        limit=PAGE_SIZE,
        offset=offset,
        report_state=ReportState(filters.report_state) if filters.report_state else None,
        platform=filters.platform or None,
        overdue={"true": True, "false": False}.get(filters.overdue),
        q=filters.q or None,
    )


@router.get("/cases")
def case_list(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    status: str = "",
    report_state: str = "",
    platform: str = "",
    overdue: str = "",
    assigned_to: str = "",
    q: str = "",
    offset: str = "0",
) -> Response:
    """Cases the person may see, newest first, filtered by a GET form; 50 a page."""
    start = int(offset) if offset.isdigit() and int(offset) <= MAX_OFFSET else 0
    # A caseworker sees their own cases only: the "assigned to" filter is a supervisor's.
    assigned_to = assigned_to if console.is_supervisor else ""
    filters = CaseFilters(status, report_state, platform, overdue, assigned_to, q)
    problems = filters.problems()
    cases, total = ([], 0) if problems else _filter_query(session, console, filters, start)
    case_ids = [case.id for case in cases if case.id is not None]
    translate = gettext_for(console.language)
    people = list_users(session=session, organisation_id=console.principal.organisation_id)
    return render(
        request,
        "cases/list.html",
        {
            "filters": filters,
            "errors": {name: translate(FILTER_MESSAGES[code]) for name, code in problems.items()},
            "cases": cases,
            "total": total,
            "offset": start,
            "page_size": PAGE_SIZE,
            "report_counts": report_counts(session=session, case_ids=case_ids),
            "overdue_counts": overdue_counts(session=session, case_ids=case_ids),
            "names": {user.id: user.display_name for user in people},
            "assignees": assignees_for(session, console),
            "states": list(STATES),
            "platforms": platform_choices(),
            "phrases": Phrases(console.language),
        },
        console=console,
        status_code=400 if problems else 200,
    )


def jurisdictions_in_force(session: Session) -> list[tuple[str, str]]:
    """(code, title) of each jurisdiction with a policy in force today, by code."""
    today = date.today()
    chosen: dict[str, str] = {}
    for row in list_policies(session=session):  # newest first per jurisdiction
        # CHILD is not chosen: a case flagged as involving a minor takes it by itself.
        if row.jurisdiction == CHILD_JURISDICTION:
            continue
        if row.effective_from <= today and row.jurisdiction not in chosen:
            chosen[row.jurisdiction] = row.title
    return sorted(chosen.items())


def _new_case_page(
    request: Request,
    session: Session,
    console: Console,
    *,
    form: dict[str, Any],
    errors: dict[str, str],
) -> Response:
    translate = gettext_for(console.language)
    return render(
        request,
        "cases/new.html",
        {
            "form": form,
            "errors": {field: translate(FORM_MESSAGES[code]) for field, code in errors.items()},
            "jurisdictions": jurisdictions_in_force(session),
            "assignees": assignees_for(session, console),
        },
        console=console,
        status_code=400 if errors else 200,
    )


@router.get("/cases/new")
def new_case_form(request: Request, session: SessionDep, console: ConsoleDep) -> Response:
    """The form to open a case."""
    form = {"jurisdictions": [], "assigned_to": str(console.user.id)}
    return _new_case_page(request, session, console, form=form, errors={})


def _field_of(loc: tuple[Any, ...]) -> str:
    """The form field a validation error's location names."""
    if loc and loc[0] == "body":
        loc = loc[1:]
    if not loc:
        return "label"
    if loc[0] == "contact" and len(loc) > 1:
        return f"contact_{loc[1]}"
    return str(loc[0])


def _case_create(
    form: dict[str, Any], console: Console
) -> tuple[CaseCreate | None, dict[str, str]]:
    """The form as a ``CaseCreate``, or the fields it refuses (each with its message code)."""
    errors: dict[str, str] = {}
    assigned_to: int | None = None
    if console.is_supervisor and form["assigned_to"]:
        if form["assigned_to"].isdigit() and len(form["assigned_to"]) <= 10:
            assigned_to = int(form["assigned_to"])
        else:
            errors["assigned_to"] = "assigned_to"
    if forbidden_character(form["notes"], multiline=True) is not None:
        errors["notes"] = "notes"
    contact = {key: form[f"contact_{key}"] or None for key in ("name", "email", "phone")}
    try:
        data = CaseCreate.model_validate(
            {
                "label": form["label"],
                "jurisdictions": form["jurisdictions"],
                "authority_to_act": form["authority_to_act"],
                "consent_to_share_identity": form["consent_to_share_identity"],
                "minor_involved": form["minor_involved"],
                "assigned_to": assigned_to,
                "contact": contact if any(contact.values()) else None,
                "notes": form["notes"] or None,
            }
        )
    except ValidationError as error:
        for problem in error.errors():
            field = _field_of(tuple(problem["loc"]))
            errors.setdefault(field, field if field in FORM_MESSAGES else "label")
        return None, errors
    return (None, errors) if errors else (data, {})


@router.post("/cases/new", dependencies=[CsrfChecked])
def open_case(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    label: Annotated[str, Form()] = "",
    jurisdictions: Annotated[list[str] | None, Form()] = None,
    authority_to_act: Annotated[str, Form()] = "",
    consent_to_share_identity: Annotated[str, Form()] = "",
    minor_involved: Annotated[str, Form()] = "",
    assigned_to: Annotated[str, Form()] = "",
    contact_name: Annotated[str, Form()] = "",
    contact_email: Annotated[str, Form()] = "",
    contact_phone: Annotated[str, Form()] = "",
    notes: Annotated[str, Form()] = "",
) -> Response:
    """Open a case from the form; a refused field re-renders the form (400) naming it."""
    form: dict[str, Any] = {
        "label": label,
        "jurisdictions": [code for code in (jurisdictions or []) if code][:20],
        "authority_to_act": bool(authority_to_act),
        "consent_to_share_identity": bool(consent_to_share_identity),
        "minor_involved": bool(minor_involved),
        "assigned_to": assigned_to,
        "contact_name": contact_name,
        "contact_email": contact_email,
        "contact_phone": contact_phone,
        "notes": notes,
    }
    data, errors = _case_create(form, console)
    if data is None:
        return _new_case_page(request, session, console, form=form, errors=errors)
    try:
        case = create_case(session=session, principal=console.principal, data=data)
    except DomainError as error:
        refused = {}
        for problem in error.problems:
            field = _field_of(problem.loc)
            if field == "jurisdictions":
                refused[field] = "unknown_jurisdiction"
            elif field == "assigned_to":
                refused[field] = "assigned_to"
            else:
                raise
        session.rollback()
        return _new_case_page(request, session, console, form=form, errors=refused)
    session.commit()
    return redirect(f"/cases/{case.id}?done=created", request)


# The case page and its actions (``/cases/{case_id:int}/...``), kept in their own module.
router.include_router(case_detail_router)
