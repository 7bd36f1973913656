"""Adding URLs to a case: paste a block or upload a CSV, see what would happen, then confirm.

The preview runs the real intake (``add_urls(..., preview=True)``): the same canonicalisation,
checks and duplicate search, writing nothing. The confirmation carries the caseworker's input
back (hidden fields) and runs the same parse and the real intake, so what is added is what
was shown.

Up to ``MAX_ENTRIES`` lines (10,000) are taken at once. A list of up to ``FULL_TABLE_LINES``
lines is shown line by line; a longer one stays a light page: the counts, the addresses to be
added counted by platform, and only the lines that will not be added (duplicates and rejected
lines, the first ``PROBLEM_LINES_SHOWN`` of them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from sqlmodel import Session

from tracker.api.deps import IdPath, SessionDep
from tracker.cases.models import CaseStatus
from tracker.cases.service import require_case
from tracker.console.app import redirect
from tracker.console.context import Console, ConsoleDep, check_csrf
from tracker.console.i18n import N_, translations
from tracker.console.render import render
from tracker.errors import Conflict, Invalid
from tracker.reports.intake import add_urls
from tracker.reports.paste import (
    MAX_ENTRIES,
    Entry,
    Unreadable,
    decode_upload,
    entries_from_csv,
    entries_from_text,
)
from tracker.reports.schemas import IntakeResult

router = APIRouter()
CsrfChecked = Depends(check_csrf)
#: A list this long or shorter is shown line by line in the preview.
FULL_TABLE_LINES = 500
#: Of a longer list, at most this many lines that will not be added are listed.
PROBLEM_LINES_SHOWN = 1000
#: A form field may be this large: the intake body limit (tracker/api/input_guard.py, at most
#: 64 MiB) is what bounds the request, before any field is read.
FORM_PART_BYTES = 64 * 1024 * 1024

#: Why a line is refused, in words; intake's own sentence is the fallback for a new code.
REASONS = {
    "no_address": N_("No address on this line"),
    "url.empty": N_("The address is empty"),
    "url.too_long": N_("The address is too long"),
    "url.not_a_url": N_("This does not look like a web address"),
    "url.credentials_not_allowed": N_(
        "The address contains a user name or password: remove them and add it again"
    ),
    "url.scheme_not_allowed": N_("Only web addresses (http or https) can be followed"),
    "url.host_invalid": N_("The site name in this address is not valid"),
    "url.not_public": N_(
        "This address is not on the public internet: it can never be checked or reported"
    ),
}


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the preview table: what was given and what intake makes of it."""

    entry: Entry
    outcome: str  # created | duplicate | rejected
    reason: str | None = None
    canonical_url: str | None = None
    platform: str | None = None
    duplicate_of_line: int | None = None
    duplicate_of_source: str | None = None
    report_id: int | None = None
    hold_reason: str | None = None


class InputProblem(Exception):
    """The input cannot be previewed at all; ``code`` names the problem for the form."""

    def __init__(self, code: str, count: int = 0) -> None:
        super().__init__(code)
        self.code = code
        self.count = count


def _open_case(session: Session, console: Console, case_id: int) -> None:
    """The case, if the person works on it (else 404) and it is open (else 409)."""
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    if case.status == CaseStatus.CLOSED:
        raise Conflict.one(("path", "case_id"), "the case is closed", "case.closed")


def _entries(text: str, csv_text: str) -> list[Entry]:
    """Every entry of the pasted text, then of the CSV file; InputProblem if none or too many."""
    try:
        entries = entries_from_text(text) + entries_from_csv(csv_text)
    except Unreadable as error:
        raise InputProblem("unreadable") from error
    if not entries:
        raise InputProblem("empty")
    if len(entries) > MAX_ENTRIES:
        raise InputProblem("too_many", len(entries))
    return entries


def _rows(entries: list[Entry], results: list[IntakeResult], console: Console) -> list[Row]:
    """The entries joined with intake's answer for each address, in order."""
    gettext = translations(console.language).gettext
    with_url = [entry for entry in entries if entry.url is not None]
    by_index = dict(enumerate(with_url))
    answers = iter(results)
    rows = []
    for entry in entries:
        if entry.url is None:
            rows.append(Row(entry=entry, outcome="rejected", reason=gettext(REASONS["no_address"])))
            continue
        result = next(answers)
        reason = None
        if result.outcome == "rejected":
            code = result.reason_type or ""
            reason = gettext(REASONS[code]) if code in REASONS else result.reason
        first = by_index.get(result.duplicate_of) if result.duplicate_of is not None else None
        rows.append(
            Row(
                entry=entry,
                outcome=result.outcome,
                reason=reason,
                canonical_url=result.canonical_url,
                platform=result.platform,
                duplicate_of_line=first.line if first else None,
                duplicate_of_source=first.source if first else None,
                report_id=result.report_id,
                hold_reason=result.hold_reason.value if result.hold_reason else None,
            )
        )
    return rows


def _form_page(
    request: Request,
    console: Console,
    case_id: int,
    *,
    text: str = "",
    csv_text: str = "",
    allow_partial: bool = True,
    problem: InputProblem | None = None,
) -> Response:
    return render(
        request,
        "intake/add.html",
        {
            "case_id": case_id,
            "text": text,
            "csv_text": csv_text,
            "allow_partial": allow_partial,
            "problem": problem,
            "limit": MAX_ENTRIES,
        },
        console=console,
        status_code=400 if problem else 200,
    )


def _preview_page(
    request: Request,
    session: Session,
    console: Console,
    case_id: int,
    *,
    entries: list[Entry],
    text: str,
    csv_text: str,
    allow_partial: bool,
    refused: str | None = None,
) -> Response:
    """The per-line table from a no-write intake run, and what confirming would do."""
    urls = [entry.url for entry in entries if entry.url is not None]
    results = (
        add_urls(
            session=session,
            principal=console.principal,
            case_id=case_id,
            urls=urls,
            allow_partial=True,  # the whole table, whichever choice; the choice is applied below
            preview=True,
        )
        if urls
        else []
    )
    rows = _rows(entries, results, console)
    counts = Counter(row.outcome for row in rows)
    held = sorted({row.hold_reason for row in rows if row.outcome == "created" and row.hold_reason})
    blocked = counts["rejected"] > 0 and not allow_partial
    summarised = len(rows) > FULL_TABLE_LINES
    shown = rows
    if summarised:
        shown = [row for row in rows if row.outcome != "created"][:PROBLEM_LINES_SHOWN]
    by_platform = Counter(row.platform or "web" for row in rows if row.outcome == "created")
    return render(
        request,
        "intake/preview.html",
        {
            "case_id": case_id,
            "rows": shown,
            "summarised": summarised,
            "lines": len(rows),
            "unlisted": counts["duplicate"] + counts["rejected"] - len(shown) if summarised else 0,
            "platforms": sorted(by_platform.items(), key=lambda item: (-item[1], item[0])),
            "counts": counts,
            "held": held,
            "blocked": blocked,
            "can_confirm": counts["created"] > 0 and not blocked,
            "text": text,
            "csv_text": csv_text,
            "allow_partial": allow_partial,
            "refused": refused,
            "problem": None,
            "limit": MAX_ENTRIES,
        },
        console=console,
        status_code=400 if refused else 200,
    )


@router.get("/cases/{case_id}/urls")
def add_form(
    request: Request, case_id: IdPath, session: SessionDep, console: ConsoleDep
) -> Response:
    """The form: paste a block of text or choose a CSV file, and what to do with bad lines."""
    _open_case(session, console, case_id)
    return _form_page(request, console, case_id)


@router.post(
    "/cases/{case_id}/urls/preview",
    dependencies=[CsrfChecked],
    form_limits={"max_part_size": FORM_PART_BYTES},
)
def preview(
    request: Request,
    case_id: IdPath,
    session: SessionDep,
    console: ConsoleDep,
    text: Annotated[str, Form()] = "",
    csv_text: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
    allow_partial: Annotated[str, Form()] = "true",
) -> Response:
    """What adding these lines would do, line by line; nothing is written."""
    _open_case(session, console, case_id)
    partial = allow_partial != "false"
    try:
        if file is not None and file.filename:
            csv_text = decode_upload(file.file.read())
        entries = _entries(text, csv_text)
    except (InputProblem, Unreadable) as error:
        problem = error if isinstance(error, InputProblem) else InputProblem("unreadable")
        return _form_page(
            request, console, case_id, text=text, allow_partial=partial, problem=problem
        )
    return _preview_page(
        request,
        session,
        console,
        case_id,
        entries=entries,
        text=text,
        csv_text=csv_text,
        allow_partial=partial,
    )


@router.post(
    "/cases/{case_id}/urls",
    dependencies=[CsrfChecked],
    form_limits={"max_part_size": FORM_PART_BYTES},
)
def add(
    request: Request,
    case_id: IdPath,
    session: SessionDep,
    console: ConsoleDep,
    text: Annotated[str, Form()] = "",
    csv_text: Annotated[str, Form()] = "",
    allow_partial: Annotated[str, Form()] = "false",
) -> Response:
    """Add what the preview showed: the same lines, the real intake, then back to the case."""
    _open_case(session, console, case_id)
    partial = allow_partial == "true"
    try:
        entries = _entries(text, csv_text)
    except InputProblem as problem:
        return _form_page(
            request, console, case_id, text=text, allow_partial=partial, problem=problem
        )

    def refuse(reason: str) -> Response:
        session.rollback()
        return _preview_page(
            request,
            session,
            console,
            case_id,
            entries=entries,
            text=text,
            csv_text=csv_text,
            allow_partial=partial,
            refused=reason,
        )

    urls = [entry.url for entry in entries if entry.url is not None]
    if len(urls) < len(entries) and not partial:
        return refuse("rejected")
    if not urls:
        return refuse("nothing")
    try:
        results = add_urls(
            session=session,
            principal=console.principal,
            case_id=case_id,
            urls=urls,
            allow_partial=partial,
        )
    except Invalid:
        return refuse("rejected")
    session.commit()
    created = sum(1 for result in results if result.outcome == "created")
    return redirect(f"/cases/{case_id}?done=urls-added&created={created}", request)
