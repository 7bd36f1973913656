"""The hash bank's forms: hash a file, paste or import hashes, remove one. A refusal re-renders
the bank's page with the reason, in the person's words, under the field it concerns."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from sqlmodel import Session

from tracker.api.deps import IdPath, SessionDep
from tracker.cases.service import require_case
from tracker.console.app import redirect
from tracker.console.context import Console, ConsoleDep
from tracker.console.i18n import translations
from tracker.console.pages.evidence import ERRORS as EVIDENCE_ERRORS
from tracker.console.pages.hash_bank import (
    ERRORS,
    IMPORT_MAX_CHARACTERS,
    LINE_NUMBER,
    SHAPES,
    CsrfChecked,
    FormError,
    bank_page,
)
from tracker.errors import Invalid, Problem
from tracker.evidence.service import commit_stored
from tracker.matching.bank import (
    IMPORTED,
    LABEL_MAX_LENGTH,
    MAX_SIGNALS_AT_ONCE,
    NewSignal,
    add_signals,
    add_upload,
    remove_entry,
)
from tracker.matching.exchange import BankFormat, parse_bank
from tracker.matching.signals import SignalType

router = APIRouter()


# --- refusals ---------------------------------------------------------------------------------


def _message(console: Console, code: str, **values: Any) -> str:
    text = translations(console.language).gettext(ERRORS[code])
    return text % values if values else text


def _number(problem: Problem) -> int:
    """The 1-based position of the hash a problem names (``("body", field, index, ...)``)."""
    index = problem.loc[2] if len(problem.loc) > 2 else 0
    return int(index) + 1 if isinstance(index, int) else 1


def _refusal(
    console: Console,
    form: str,
    problem: Problem,
    lines: list[int] | None = None,
    bank_format: BankFormat | None = None,
) -> FormError:
    """A service's refusal in the person's words, on the field it concerns (``lines``: the
    pasted line of each hash; ``bank_format``: the imported list's)."""
    kind = problem.type
    gettext = translations(console.language).gettext
    if kind in ("bank.label_too_long", "bank.label_invalid") and form != "import":
        values = {"max": LABEL_MAX_LENGTH} if kind == "bank.label_too_long" else {}
        return FormError(form, "label", _message(console, kind, **values))
    if kind == "bank.too_many":
        field = "value" if form == "paste" else "content"
        return FormError(form, field, _message(console, kind, max=MAX_SIGNALS_AT_ONCE))
    if form == "paste":
        if kind == "bank.signal_type":
            return FormError(form, "signal_type", _message(console, kind))
        if kind == "bank.signal":
            number = _number(problem)
            line = lines[number - 1] if lines and number <= len(lines) else number
            return FormError(form, "value", _message(console, kind, line=line), gettext(SHAPES))
        return FormError(form, "value", _message(console, "bank.empty"))
    if form == "import":
        if kind == "bank.import_line":
            found = LINE_NUMBER.match(problem.msg)
            code = "import.line_csv" if bank_format is BankFormat.CSV else "import.line_te"
            line = int(found.group(1)) if found else 1
            return FormError(form, "content", _message(console, code, line=line))
        number = _number(problem)
        if kind in ("bank.signal_type", "bank.signal"):
            code = "import." + kind.split(".")[1]
            hint = gettext(SHAPES) if kind == "bank.signal" else None
            return FormError(form, "content", _message(console, code, number=number), hint)
        return FormError(form, "content", _message(console, "import.empty"))
    # The upload form: the file, whatever else went wrong with it (as evidence too).
    if kind in ERRORS:
        return FormError(form, "file", _message(console, kind))
    if kind in EVIDENCE_ERRORS:
        return FormError(form, "file", gettext(EVIDENCE_ERRORS[kind]))
    return FormError(form, "file", problem.msg)


def _refused(
    request: Request,
    session: Session,
    console: Console,
    case_id: int,
    error: FormError,
    form: dict[str, str],
) -> Response:
    """The bank's page again with the reason on the field, nothing added (400)."""
    session.rollback()
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    return bank_page(request, session, console, case, error=error, form=form, status_code=400)


def _added(request: Request, case_id: int, done: str, added: int) -> Response:
    return redirect(f"/cases/{case_id}/hash-bank?done={done}&added={added}", request)


# --- the forms --------------------------------------------------------------------------------


@router.post("/cases/{case_id:int}/hash-bank/files", dependencies=[CsrfChecked])
def upload(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    case_id: IdPath,
    file: Annotated[UploadFile | None, File()] = None,
    label: Annotated[str, Form(max_length=LABEL_MAX_LENGTH * 4)] = "",
    keep_as_evidence: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Hash an image or a video in memory and bank its hashes; the file is dropped unless kept
    as evidence. A refusal re-renders the bank's page with the reason under the file."""
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    keep = keep_as_evidence == "yes"
    form = {"label": label, "keep_as_evidence": "yes" if keep else ""}
    if not case.minor_involved and (file is None or not file.filename):
        error = FormError("upload", "file", _message(console, "bank.no_file"))
        return _refused(request, session, console, case_id, error, form)
    try:
        added = add_upload(
            session=session,
            principal=console.principal,
            case_id=case_id,
            source=file.file if file is not None else io.BytesIO(),
            # A minor's case is refused for the file whatever else the form holds.
            label=None if case.minor_involved else label or None,
            keep_as_evidence=keep,
        )
    except Invalid as error:
        refusal = _refusal(console, "upload", error.problems[0])
        return _refused(request, session, console, case_id, refusal, form)
    commit_stored(session=session, evidence=added.evidence)
    return _added(request, case_id, "kept" if keep else "uploaded", len(added.entries))


@router.post("/cases/{case_id:int}/hash-bank/paste", dependencies=[CsrfChecked])
def paste(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    case_id: IdPath,
    signal_type: Annotated[str, Form(max_length=32)] = "",
    value: Annotated[str, Form(max_length=IMPORT_MAX_CHARACTERS)] = "",
    label: Annotated[str, Form(max_length=LABEL_MAX_LENGTH * 4)] = "",
) -> Response:
    """Add hashes made elsewhere: one a line (a vPDQ is the whole text), one type, one label."""
    require_case(session=session, principal=console.principal, case_id=case_id)
    form = {"signal_type": signal_type, "value": value, "label": label}
    if signal_type == SignalType.VPDQ:
        lines = [1] if value.strip() else []
        texts = [value] if value.strip() else []
    else:
        numbered = [(n, text) for n, text in enumerate(value.splitlines(), start=1) if text.strip()]
        lines, texts = [n for n, _ in numbered], [text for _, text in numbered]
    signals = [NewSignal(signal_type, text, label or None) for text in texts]
    try:
        added = add_signals(
            session=session,
            principal=console.principal,
            case_id=case_id,
            signals=signals,
            field="value",
        )
    except Invalid as error:
        refusal = _refusal(console, "paste", error.problems[0], lines)
        return _refused(request, session, console, case_id, refusal, form)
    session.commit()
    return _added(request, case_id, "pasted", len(added))


@router.post("/cases/{case_id:int}/hash-bank/import", dependencies=[CsrfChecked])
def import_(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    case_id: IdPath,
    format: Annotated[str, Form(max_length=16)] = "",  # noqa: A002
    content: Annotated[str, Form(max_length=IMPORT_MAX_CHARACTERS)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Add the hashes of a ThreatExchange signal file or a CSV, pasted or as a file."""
    require_case(session=session, principal=console.principal, case_id=case_id)
    form = {"format": format, "content": content}

    def refuse(field: str, code: str) -> Response:
        error = FormError("import", field, _message(console, code))
        return _refused(request, session, console, case_id, error, form)

    try:
        chosen = BankFormat(format)
    except ValueError:
        return refuse("format", "import.format")
    text = content
    if file is not None and file.filename:
        data = file.file.read(IMPORT_MAX_CHARACTERS + 1)
        if len(data) > IMPORT_MAX_CHARACTERS:
            return refuse("file", "import.too_large")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return refuse("file", "import.not_text")
        if "\x00" in text:
            return refuse("file", "import.not_text")
    if not text.strip():
        return refuse("content", "import.empty")
    try:
        signals = parse_bank(text, chosen)
        added = add_signals(
            session=session,
            principal=console.principal,
            case_id=case_id,
            signals=signals,
            source=IMPORTED,
            field="content",
        )
    except Invalid as error:
        refusal = _refusal(console, "import", error.problems[0], bank_format=chosen)
        return _refused(request, session, console, case_id, refusal, form)
    session.commit()
    return _added(request, case_id, "imported", len(added))


@router.post("/cases/{case_id:int}/hash-bank/{entry_id:int}/remove", dependencies=[CsrfChecked])
def remove(
    request: Request, session: SessionDep, console: ConsoleDep, case_id: IdPath, entry_id: IdPath
) -> Response:
    """Delete one hash from the bank (and the matches it made); audited."""
    remove_entry(session=session, principal=console.principal, case_id=case_id, entry_id=entry_id)
    session.commit()
    return redirect(f"/cases/{case_id}/hash-bank?done=removed", request)
