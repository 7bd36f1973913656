"""HTTP endpoints for hash banks, matches and re-upload alerts."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from tracker.api.deps import CaseworkerDep, IdPath, SessionDep, SupervisorDep
from tracker.api.errors import envelope, problem
from tracker.audit.service import record
from tracker.cases.models import Case
from tracker.cases.service import require_case
from tracker.errors import Conflict
from tracker.evidence.service import EvidenceTooLarge, UnsupportedEvidence, commit_stored
from tracker.matching.alerts import acknowledge, open_reuploads, report_matches
from tracker.matching.bank import (
    IMPORTED,
    LABEL_MAX_LENGTH,
    NewSignal,
    add_signals,
    add_upload,
    label_of,
    list_bank,
    remove_entry,
)
from tracker.matching.exchange import MEDIA_TYPES, BankFormat, export_bank, parse_bank
from tracker.matching.media import media_of
from tracker.matching.models import BankEntry, ContentMatch
from tracker.matching.signals import SignalType
from tracker.organisations.service import Principal
from tracker.reports.service import require_report
from tracker.settings import Settings

router = APIRouter(tags=["matching"])

#: Multipart overhead allowed over the file itself (boundaries, headers, the label).
FORM_OVERHEAD_BYTES = 64 * 1024


def upload_limits(settings: Settings) -> dict[str, int]:
    """Body limits of the bank upload paths (API and console), for BodyLimitMiddleware."""
    limit = settings.matching_max_media_bytes + FORM_OVERHEAD_BYTES
    return {"/api/v1/cases/*/hash-bank/files": limit, "/cases/*/hash-bank/files": limit}


class BankEntryPublic(BaseModel):
    id: int
    case_id: int
    signal_type: SignalType
    signal: str = Field(description="PDQ hex, MD5/SHA-256 hex, or a vPDQ JSON list of frames")
    quality: int | None = Field(description="PDQ quality 0-100, where known")
    frame_count: int | None = Field(description="vPDQ frames")
    label: str | None
    source: str = Field(description="upload, pasted or imported")
    created_at: datetime


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal_type: str = Field(max_length=16, description="pdq, vpdq, video_md5, photo_md5, sha256")
    # No schema length: a hash's length is its type's (checked by the bank; the request body
    # limit bounds a vPDQ).
    value: str = Field(description="The hash in its canonical text form")
    label: str | None = Field(default=None, max_length=LABEL_MAX_LENGTH)


class SignalsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[SignalIn] = Field(min_length=1, max_length=5000)


class BankImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: BankFormat = Field(description="te (ThreatExchange signal file) or csv")
    # No schema length: the request body limit bounds it, the bank counts its hashes.
    content: str = Field(description="The file's text")


class MatchPublic(BaseModel):
    id: int
    report_id: int
    case_id: int
    bank_entry_id: int
    bank_case_id: int
    cross_case: bool = Field(description="A re-upload: the report's content is another case's")
    signal_type: str
    media_item_id: int | None
    distance: int | None = Field(description="PDQ bits apart (0 for an exact hash)")
    share: float | None = Field(description="vPDQ: share of frames matched")
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None


def entry_public(session: Session, entry: BankEntry) -> BankEntryPublic:
    assert entry.id is not None
    return BankEntryPublic(
        id=entry.id,
        case_id=entry.case_id,
        signal_type=SignalType(entry.signal_type),
        signal=entry.value,
        quality=entry.quality,
        frame_count=entry.frame_count,
        label=label_of(session=session, entry=entry),
        source=entry.source,
        created_at=entry.created_at,
    )


def match_public(match: ContentMatch) -> MatchPublic:
    return MatchPublic.model_validate(match, from_attributes=True)


def _visible_case(case_id: IdPath, session: SessionDep, principal: CaseworkerDep) -> int:
    """The case of the path, if the caller may see it (checked before the form is read)."""
    require_case(session=session, principal=principal, case_id=case_id)
    return case_id


@router.get("/cases/{case_id}/hash-bank", response_model=list[BankEntryPublic])
def bank(case_id: IdPath, session: SessionDep, principal: CaseworkerDep) -> list[BankEntryPublic]:
    """The case's hash bank: hashes and labels, never media."""
    entries = list_bank(session=session, principal=principal, case_id=case_id)
    return [entry_public(session, entry) for entry in entries]


@router.post(
    "/cases/{case_id}/hash-bank",
    status_code=status.HTTP_201_CREATED,
    response_model=list[BankEntryPublic],
)
def paste(
    case_id: IdPath, data: SignalsIn, session: SessionDep, principal: CaseworkerDep
) -> list[BankEntryPublic]:
    """Add hashes made elsewhere (e.g. on the victim's own device); a hash the bank already
    holds is not added twice. Answers the entries added."""
    signals = [NewSignal(item.signal_type, item.value, item.label) for item in data.entries]
    added = add_signals(session=session, principal=principal, case_id=case_id, signals=signals)
    answer = [entry_public(session, entry) for entry in added]
    session.commit()
    return answer


@router.post(
    "/cases/{case_id}/hash-bank/files",
    status_code=status.HTTP_201_CREATED,
    response_model=list[BankEntryPublic],
    responses={413: {"description": "The file is too large"}, 415: {"description": "Refused"}},
)
def upload(
    session: SessionDep,
    principal: CaseworkerDep,
    case_id: Annotated[int, Depends(_visible_case)],
    file: Annotated[UploadFile, File(description="An image or video, hashed in memory")],
    label: Annotated[str | None, Form(max_length=LABEL_MAX_LENGTH)] = None,
    keep_as_evidence: Annotated[
        bool, Form(description="Also store the file as evidence (sealed with the case key)")
    ] = False,
) -> list[BankEntryPublic] | JSONResponse:
    """Hash an image (PDQ, MD5, SHA-256) or a video (vPDQ, MD5, SHA-256) in memory and bank the
    hashes; the file is dropped unless kept as evidence. Refused for a case involving a minor:
    such a case takes pasted hashes only."""
    try:
        added = add_upload(
            session=session,
            principal=principal,
            case_id=case_id,
            source=file.file,
            label=label,
            keep_as_evidence=keep_as_evidence,
        )
    except (EvidenceTooLarge, UnsupportedEvidence) as error:
        code = 413 if isinstance(error, EvidenceTooLarge) else 415
        return envelope(code, [problem(list(p.loc), p.msg, p.type) for p in error.problems])
    answer = [entry_public(session, entry) for entry in added.entries]
    commit_stored(session=session, evidence=added.evidence)
    return answer


@router.delete("/cases/{case_id}/hash-bank/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove(
    case_id: IdPath, entry_id: IdPath, session: SessionDep, principal: CaseworkerDep
) -> Response:
    """Delete one hash from the bank (and the matches it made)."""
    remove_entry(session=session, principal=principal, case_id=case_id, entry_id=entry_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/cases/{case_id}/hash-bank/import",
    status_code=status.HTTP_201_CREATED,
    response_model=list[BankEntryPublic],
)
def import_(
    case_id: IdPath, data: BankImport, session: SessionDep, principal: CaseworkerDep
) -> list[BankEntryPublic]:
    """Add the hashes of a ThreatExchange signal file or a CSV (hashes only, never media)."""
    signals = parse_bank(data.content, data.format)
    added = add_signals(
        session=session,
        principal=principal,
        case_id=case_id,
        signals=signals,
        source=IMPORTED,
        field="content",
    )
    answer = [entry_public(session, entry) for entry in added]
    session.commit()
    return answer


def exported(
    session: Session,
    principal: Principal,
    entries: list[BankEntry],
    form: BankFormat,
    scope: str,
    object_id: int | None,
) -> Response:
    """The bank file as a download (hashes and types only); audited."""
    record(
        session=session,
        actor=principal.actor,
        action="bank.exported",
        object_type=scope,
        object_id=object_id,
        organisation_id=principal.organisation_id,
        details={"format": form.value, "hashes": len(entries)},
    )
    session.commit()
    name = f"hash-bank-{scope}-{object_id}.{'txt' if form is BankFormat.TE else 'csv'}"
    return Response(
        export_bank(entries, form),
        media_type=MEDIA_TYPES[form],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


FormatQuery = Annotated[BankFormat, Query(description="te (ThreatExchange signal file) or csv")]


@router.get(
    "/cases/{case_id}/hash-bank/export",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}, "text/csv": {}}}},
)
def export_case(
    case_id: IdPath,
    session: SessionDep,
    principal: CaseworkerDep,
    format: FormatQuery = BankFormat.TE,
) -> Response:
    """The case's bank as a hash list for platforms and hash programmes (no labels)."""
    case = require_case(session=session, principal=principal, case_id=case_id)
    if not case.exports_allowed:
        raise Conflict.one(
            ("path", "case_id"), "exports are turned off for this case", "case.exports_off"
        )
    entries = list_bank(session=session, principal=principal, case_id=case_id)
    return exported(session, principal, entries, format, "case", case_id)


@router.get(
    "/hash-bank/export",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}, "text/csv": {}}}},
)
def export_organisation(
    session: SessionDep, principal: SupervisorDep, format: FormatQuery = BankFormat.TE
) -> Response:
    """Every bank of the organisation's cases whose exports are on, as one hash list
    (supervisors and admins; no labels, no case numbers)."""
    entries = list(
        session.exec(
            select(BankEntry)
            .join(Case, col(Case.id) == BankEntry.case_id)
            .where(BankEntry.organisation_id == principal.organisation_id)
            .where(col(Case.exports_allowed))
            .order_by(col(BankEntry.id))
        ).all()
    )
    return exported(session, principal, entries, format, "organisation", principal.organisation_id)


class MediaItemPublic(BaseModel):
    id: int
    report_id: int
    url: str = Field(description="The image or video: the report's own URL, or one its page links")
    role: str = Field(description="page (the reported URL serves it) or linked")
    kind: str | None = Field(description="image or video, once seen")
    discovered_at: datetime
    last_checked_at: datetime | None
    last_verdict: str | None
    hashed_at: datetime | None
    md5: str | None
    sha256: str | None
    pdq: str | None
    pdq_quality: int | None
    has_vpdq: bool
    truncated: bool = Field(
        description="The hashes are of the first part only (size or time limit)"
    )


@router.get("/reports/{report_id}/media", response_model=list[MediaItemPublic])
def media(
    report_id: IdPath, session: SessionDep, principal: CaseworkerDep
) -> list[MediaItemPublic]:
    """The images and videos the report serves or its page links, with their latest state and
    hashes (never the media)."""
    require_report(session=session, principal=principal, report_id=report_id)
    return [
        MediaItemPublic(
            **item.model_dump(exclude={"vpdq", "validator", "pdq_mirror", "role", "url"}),
            role=item.role,
            url=item.url,
            has_vpdq=item.vpdq is not None,
        )
        for item in media_of(session=session, report_ids=[report_id])
    ]


@router.get("/reports/{report_id}/matches", response_model=list[MatchPublic])
def matches(report_id: IdPath, session: SessionDep, principal: CaseworkerDep) -> list[MatchPublic]:
    """Bank hashes the report's content matched: its own case's, or another's (a re-upload)."""
    found = report_matches(session=session, principal=principal, report_id=report_id)
    return [match_public(match) for match in found]


@router.get("/reupload-alerts", response_model=list[MatchPublic])
def reupload_alerts(session: SessionDep, principal: CaseworkerDep) -> list[MatchPublic]:
    """Re-uploads found and not yet acknowledged, for cases the caller may see, newest first."""
    return [match_public(match) for match in open_reuploads(session=session, principal=principal)]


@router.post("/reupload-alerts/{match_id}/acknowledge", response_model=MatchPublic)
def acknowledge_alert(
    match_id: IdPath, session: SessionDep, principal: CaseworkerDep
) -> MatchPublic:
    """A person has seen the re-upload; it leaves the queue (the match and the link stay)."""
    match = acknowledge(session=session, principal=principal, match_id=match_id)
    answer = match_public(match)
    session.commit()
    return answer
