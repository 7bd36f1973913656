"""The hash bank on the case page and on its own page at /cases/{id}/hash-bank: counts per signal
type, the entries by label (never a whole hash, never media), forms to hash a file, paste or
import hashes, hash-list downloads for platforms, the cases it links; and the queue's
acknowledgement of a re-upload alert.

Everything goes through the matching services the API uses (``tracker.matching``); the queries
here only read, for one page of a case the person may see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Form, Request, Response
from sqlalchemy import func
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from tracker.api.deps import IdPath, Offset, SessionDep
from tracker.cases.keys import is_case_key_destroyed
from tracker.cases.models import Case
from tracker.cases.service import get_case, require_case
from tracker.console.app import redirect
from tracker.console.context import Console, ConsoleDep, check_csrf
from tracker.console.i18n import N_
from tracker.console.pages.case_sections import case_section
from tracker.console.render import render
from tracker.matching.alerts import acknowledge, linked_cases
from tracker.matching.bank import (
    LABEL_MAX_LENGTH,
    MAX_SIGNALS_AT_ONCE,
    label_of,
    list_bank,
)
from tracker.matching.exchange import BankFormat
from tracker.matching.models import BankEntry, ContentMatch
from tracker.matching.signals import SignalType
from tracker.matching.views import exported

router = APIRouter()
CsrfChecked = Depends(check_csrf)

#: Entries listed in the case page's section (newest first); the bank's page lists them all.
SECTION_ROWS = 10
PAGE_SIZE = 50
#: The largest hash list the import form reads (as the API's ``content``; the console's body
#: limit applies first).
IMPORT_MAX_CHARACTERS = 900_000
#: Characters of a hash shown to tell entries apart (never the whole hash).
SHORT_HASH = 8

SIGNAL_TYPES = {
    SignalType.PDQ: N_("PDQ (image)"),
    SignalType.VPDQ: N_("vPDQ (video)"),
    SignalType.VIDEO_MD5: N_("MD5 (video)"),
    SignalType.PHOTO_MD5: N_("MD5 (image)"),
    SignalType.SHA256: N_("SHA-256 (file)"),
}
SOURCES = {"upload": N_("Hashed from a file"), "pasted": N_("Pasted"), "imported": N_("Imported")}
FORMATS = {
    BankFormat.TE: N_("ThreatExchange signal file (one “type hash” per line)"),
    BankFormat.CSV: N_("CSV (signal_type,signal)"),
}
#: ``?done=`` codes the bank's page turns into a notice.
NOTICES = frozenset({"uploaded", "kept", "pasted", "imported", "removed"})
#: The words of each form field, as the error names it.
FIELDS = {
    "file": N_("File"),
    "label": N_("Label"),
    "signal_type": N_("Signal type"),
    "value": N_("Hashes"),
    "format": N_("Format"),
    "content": N_("Hash list"),
}
#: What a refused form says, by the service's error type (some take a line or a number).
ERRORS = {
    "bank.minor_media_refused": N_(
        "This case involves a minor: images and video are never hashed or stored here. "
        "Paste hashes made elsewhere instead."
    ),
    "bank.not_media": N_("This file is not an image or a video that can be hashed."),
    "bank.too_large": N_("This file is larger than the upload limit."),
    "bank.no_file": N_("Choose an image or a video to hash."),
    "bank.label_too_long": N_("A label is at most %(max)d characters."),
    "bank.label_invalid": N_("A label is one line of text, without control characters."),
    "bank.signal_type": N_("Choose a signal type from the list."),
    "bank.signal": N_("Line %(line)d is not a hash of the type chosen."),
    "bank.empty": N_("Paste at least one hash."),
    "bank.too_many": N_("At most %(max)d hashes can be added at once: split the list."),
    "import.empty": N_("Paste a hash list or choose its file."),
    "import.format": N_("Choose a format from the list."),
    "import.not_text": N_("The file must be a text file (UTF-8), such as a .txt or .csv list."),
    "import.too_large": N_("This list is too long to import at once: split it."),
    "import.line_te": N_("Line %(line)d is not a signal type, a space and a hash."),
    "import.line_csv": N_("Line %(line)d does not have two columns, signal type and hash."),
    "import.signal_type": N_(
        "Hash %(number)d of the list has a signal type this tracker does not know "
        "(it knows pdq, vpdq, video_md5, photo_md5 and sha256)."
    ),
    "import.signal": N_("Hash %(number)d of the list is not a valid hash of its type."),
}
#: What each signal type's hash looks like (shown under a refused paste).
SHAPES = N_(
    "A PDQ or SHA-256 hash is 64 hexadecimal digits, an MD5 32; a vPDQ is a JSON list of "
    "“pdq,quality,seconds” frames."
)
LINE_NUMBER = re.compile(r"line (\d+)")


@dataclass(frozen=True, slots=True)
class FormError:
    """A refused form: which form, which field, and the message in the person's language."""

    form: str  # upload | paste | import
    field: str
    message: str
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One bank entry as listed: never its whole hash."""

    entry: BankEntry
    label: str | None
    short: str


# --- read-only queries ------------------------------------------------------------------------


def signal_counts(session: Session, case_id: int) -> list[tuple[str, int]]:
    """How many hashes of each signal type the case's bank holds, in the signal types' order."""
    found = dict(
        session.exec(
            select(BankEntry.signal_type, func.count())
            .where(BankEntry.case_id == case_id)
            .group_by(col(BankEntry.signal_type))
        ).all()
    )
    return [(kind.value, int(found[kind.value])) for kind in SignalType if found.get(kind.value)]


def bank_rows(session: Session, case_id: int, *, offset: int, limit: int) -> list[Row]:
    """A page of the case's bank, newest first, with labels and the start of each hash only
    (a vPDQ can be hundreds of kilobytes: its text is not read)."""
    head = func.substr(col(BankEntry.value), 1, SHORT_HASH + 2)
    rows = session.exec(
        select(BankEntry, head)
        .options(defer(cast(Any, BankEntry.value)))  # SQLModel types it as str
        .where(BankEntry.case_id == case_id)
        .order_by(col(BankEntry.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [
        Row(entry, label_of(session=session, entry=entry), str(start).lstrip('["')[:SHORT_HASH])
        for entry, start in rows
    ]


def visible_case(session: Session, console: Console, case_id: int) -> bool:
    """Whether the signed-in person may open a case (no more is said of one they may not)."""
    return get_case(session=session, principal=console.principal, case_id=case_id) is not None


def linked(session: Session, console: Console, case_id: int) -> dict[str, Any]:
    """Cases sharing content with this one: those the person may open, and how many others."""
    others = linked_cases(session=session, case_id=case_id)
    shown = [other for other in others if visible_case(session, console, other)]
    return {"shown": shown, "hidden": len(others) - len(shown)}


# --- the section and the page -----------------------------------------------------------------


def _context(
    session: Session,
    console: Console,
    case: Case,
    *,
    full: bool,
    offset: int = 0,
    error: FormError | None = None,
    form: dict[str, str] | None = None,
) -> dict[str, Any]:
    assert case.id is not None
    counts = signal_counts(session, case.id)
    total = sum(count for _, count in counts)
    limit = PAGE_SIZE if full else SECTION_ROWS
    return {
        "counts": counts,
        "total": total,
        "rows": bank_rows(session, case.id, offset=offset if full else 0, limit=limit),
        "offset": offset if full else 0,
        "limit": limit,
        "full": full,
        "level": 2 if full else 3,
        "linked": linked(session, console, case.id),
        "is_minor": case.minor_involved,
        "is_erased": is_case_key_destroyed(session=session, case_id=case.id),
        "exports_allowed": case.exports_allowed,
        "signal_types": SIGNAL_TYPES,
        "sources": SOURCES,
        "formats": FORMATS,
        "fields": FIELDS,
        "label_max": LABEL_MAX_LENGTH,
        "max_at_once": MAX_SIGNALS_AT_ONCE,
        "error": error,
        "form": form or {},
    }


@case_section("hash_bank/_case_section.html")
def hash_bank_section(session: Session, console: Console, case: Case) -> dict[str, Any] | None:
    """The hash bank section of the case page: counts, the newest entries, the forms."""
    return _context(session, console, case, full=False)


def bank_page(
    request: Request,
    session: Session,
    console: Console,
    case: Case,
    *,
    offset: int = 0,
    error: FormError | None = None,
    form: dict[str, str] | None = None,
    done: str | None = None,
    added: int | None = None,
    refused_export: bool = False,
    status_code: int = 200,
) -> Response:
    section = _context(session, console, case, full=True, offset=offset, error=error, form=form)
    return render(
        request,
        "hash_bank/page.html",
        {
            "case": case,
            "section": section,
            "done": done,
            "added": added,
            "refused_export": refused_export,
        },
        console=console,
        status_code=status_code,
    )


def _count(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 6 else None


@router.get("/cases/{case_id:int}/hash-bank")
def hash_bank_page(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    case_id: IdPath,
    offset: Offset = 0,
    done: str = "",
    added: str = "",
) -> Response:
    """The case's whole hash bank, page by page, with the forms."""
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    return bank_page(
        request,
        session,
        console,
        case,
        offset=offset,
        done=done if done in NOTICES else None,
        added=_count(added),
    )


@router.post("/cases/{case_id:int}/hash-bank/export", dependencies=[CsrfChecked])
def export(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    case_id: IdPath,
    format: Annotated[str, Form(max_length=16)] = BankFormat.TE,  # noqa: A002
) -> Response:
    """The bank as a hash list for platforms and hash programmes (hashes and types only, never
    labels); each download is audited (bank.exported), so it is a POST a browser never
    prefetches. Refused while the case's exports are off."""
    case = require_case(session=session, principal=console.principal, case_id=case_id)
    if not case.exports_allowed:
        return bank_page(request, session, console, case, refused_export=True, status_code=409)
    try:
        chosen = BankFormat(format)
    except ValueError:
        return bank_page(request, session, console, case, status_code=400)
    entries = list_bank(session=session, principal=console.principal, case_id=case_id)
    return exported(session, console.principal, entries, chosen, "case", case_id)


# --- re-upload alerts (the queue) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reupload:
    """A re-upload alert as the queue lists it: links only to what the person may open."""

    match: ContentMatch
    report_visible: bool
    bank_case_visible: bool
    first_seen_at: datetime


def reupload_rows(
    session: Session, console: Console, matches: list[ContentMatch]
) -> list[Reupload]:
    seen: dict[int, bool] = {}

    def visible(case_id: int) -> bool:
        if case_id not in seen:
            seen[case_id] = visible_case(session, console, case_id)
        return seen[case_id]

    return [
        Reupload(match, visible(match.case_id), visible(match.bank_case_id), match.first_seen_at)
        for match in matches
    ]


@router.post("/reupload-alerts/{match_id}/acknowledge", dependencies=[CsrfChecked])
def acknowledge_reupload(
    request: Request, session: SessionDep, console: ConsoleDep, match_id: IdPath
) -> Response:
    """A person has seen the re-upload: it leaves the queue (the match and the link stay)."""
    acknowledge(session=session, principal=console.principal, match_id=match_id)
    session.commit()
    return redirect("/?done=acknowledged#queue-reuploads", request)
