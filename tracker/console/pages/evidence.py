"""Evidence on the case page: the list (no previews: a download link only), the upload form,
its own page at /cases/{id}/evidence, and downloads that are custody events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from sqlmodel import Session, col, select

from tracker.api.deps import SessionDep
from tracker.cases.keys import is_case_key_destroyed
from tracker.cases.models import Case, CaseStatus
from tracker.cases.service import require_case
from tracker.console.app import redirect
from tracker.console.context import Console, ConsoleDep, check_csrf
from tracker.console.i18n import N_
from tracker.console.pages.case_sections import case_section
from tracker.console.render import render
from tracker.errors import DomainError, Invalid
from tracker.evidence.models import Evidence
from tracker.evidence.service import (
    DESCRIPTION_MAX_LENGTH,
    commit_stored,
    list_evidence,
    record_custody,
    require_evidence,
    store_upload,
)
from tracker.evidence.views import download_response
from tracker.ids import MAX_ROW_ID
from tracker.organisations.service import get_user
from tracker.reports.models import Report

router = APIRouter()

KINDS = {"upload": N_("Uploaded"), "capture": N_("Automatic capture")}
#: What a refused upload says, by the service's error type.
ERRORS = {
    "evidence.empty": N_("Choose a file to upload; this one is empty."),
    "evidence.too_large": N_("This file is larger than the upload limit."),
    "evidence.unsupported_type": N_(
        "This kind of file is not accepted. Images (PNG, JPEG, GIF, WebP), PDF, plain text, "
        "saved pages (HTML, MHTML), e-mails and video (MP4, WebM, QuickTime) are."
    ),
    "evidence.minor_media_refused": N_(
        "This case involves a minor: images and video are never stored. "
        "Add hashes or a text note instead."
    ),
    "evidence.bad_description": N_("The description must be text of at most 2000 characters."),
    "evidence.unknown_report": N_("Choose one of this case's reports, or none."),
    "case.key_destroyed": N_("This case's data was erased; nothing more can be stored."),
}
#: ``?done=`` codes the evidence page turns into a notice.
NOTICES = frozenset({"uploaded"})


def _who(session: Session, console: Console, actor: str) -> str:
    """A person's name for ``user:<id>`` actors; the automatic checker otherwise."""
    if actor.startswith("user:") and actor[5:].isdigit():
        user = get_user(
            session=session,
            organisation_id=console.principal.organisation_id,
            user_id=int(actor[5:]),
        )
        if user is not None:
            return user.display_name
    return ""


def _context(
    session: Session, console: Console, case: Case, *, error: str | None = None
) -> dict[str, Any]:
    assert case.id is not None
    rows = list_evidence(session=session, principal=console.principal, case_id=case.id)
    # The case is one the person may see: its report ids are all the select needs.
    report_ids = session.exec(
        select(Report.id)
        .where(Report.case_id == case.id)
        .order_by(col(Report.id).desc())
        .limit(500)
    ).all()
    return {
        "rows": [
            (row, KINDS.get(row.kind, row.kind), _who(session, console, row.captured_by))
            for row in rows
        ],
        "report_ids": list(report_ids),
        "is_minor": case.minor_involved,
        "is_erased": is_case_key_destroyed(session=session, case_id=case.id),
        "is_open": case.status == CaseStatus.OPEN,
        "error": ERRORS.get(error or "", None) if error else None,
        "error_field": "description"
        if error == "evidence.bad_description"
        else ("report_id" if error == "evidence.unknown_report" else "file"),
        "description_max": DESCRIPTION_MAX_LENGTH,
    }


@case_section("evidence/_case_section.html")
def evidence_section(session: Session, console: Console, case: Case) -> dict[str, Any] | None:
    """The evidence section of the case page."""
    return _context(session, console, case)


def _page(
    request: Request,
    session: Session,
    console: Console,
    case: Case,
    *,
    error: str | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "evidence/page.html",
        {"case": case, "section": _context(session, console, case, error=error), "done": done},
        console=console,
        status_code=status_code,
    )


@router.get("/cases/{case_id:int}/evidence")
def evidence_page(
    request: Request, session: SessionDep, console: ConsoleDep, case_id: int, done: str = ""
) -> Response:
    """The case's evidence and the upload form on a page of their own."""
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    return _page(request, session, console, case, done=done if done in NOTICES else None)


@router.post("/cases/{case_id:int}/evidence", dependencies=[Depends(check_csrf)])
def upload(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    case_id: int,
    file: Annotated[UploadFile | None, File()] = None,
    description: Annotated[str, Form(max_length=DESCRIPTION_MAX_LENGTH * 2)] = "",
    report_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Store an uploaded file as evidence; a refusal re-renders the form with the reason."""
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    try:
        report = int(report_id) if report_id.strip() else None
        if report is not None and not 1 <= report <= MAX_ROW_ID:
            raise ValueError
    except ValueError:
        return _page(
            request, session, console, case, error="evidence.unknown_report", status_code=400
        )
    try:
        if file is None:
            raise Invalid.one(("body", "file"), "no file", "evidence.empty")
        evidence = store_upload(
            session=session,
            principal=console.principal,
            case_id=case_id,
            source=file.file,
            report_id=report,
            description=description or None,
        )
    except DomainError as error:
        session.rollback()
        case = require_case(session=session, principal=console.principal, case_id=case_id)
        return _page(request, session, console, case, error=error.problems[0].type, status_code=400)
    commit_stored(session=session, evidence=evidence)
    return redirect(f"/cases/{case_id}/evidence?done=uploaded", request)


@router.get("/evidence/{evidence_id:int}/download")
def download(session: SessionDep, console: ConsoleDep, evidence_id: int) -> Response:
    """The evidence file as an attachment (a custody event: evidence.downloaded)."""
    evidence: Evidence = require_evidence(
        session=session, principal=console.principal, evidence_id=evidence_id
    )
    record_custody(
        session=session,
        principal=console.principal,
        evidence=evidence,
        action="evidence.downloaded",
    )
    response = download_response(session, evidence)
    session.commit()
    return response
