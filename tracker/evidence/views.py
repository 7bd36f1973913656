"""HTTP endpoints for evidence: upload, list, read the record, download the content."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile, status
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlmodel import Session

from tracker.api.deps import CaseworkerDep, IdPath, Limit, Offset, SessionDep
from tracker.api.errors import envelope, problem
from tracker.api.pages import Page, slice_page
from tracker.cases.service import require_case
from tracker.evidence.models import Evidence
from tracker.evidence.schemas import EvidencePublic
from tracker.evidence.service import (
    DESCRIPTION_MAX_LENGTH,
    EvidenceTooLarge,
    UnsupportedEvidence,
    commit_stored,
    description_of,
    evidence_bytes,
    file_name_of,
    list_evidence,
    record_custody,
    require_evidence,
    store_upload,
)
from tracker.ids import MAX_ROW_ID
from tracker.organisations.service import Principal
from tracker.settings import Settings

router = APIRouter(tags=["evidence"])

#: Multipart overhead allowed over the file itself (boundaries, headers, the description).
FORM_OVERHEAD_BYTES = 64 * 1024


def upload_limits(settings: Settings) -> dict[str, int]:
    """Body limits of the upload paths (API and console), for BodyLimitMiddleware."""
    limit = settings.evidence_max_bytes + FORM_OVERHEAD_BYTES
    return {"/api/v1/cases/*/evidence": limit, "/cases/*/evidence": limit}


def public(session: Session, evidence: Evidence) -> EvidencePublic:
    """The record of one piece of evidence, its description opened with the case key."""
    assert evidence.id is not None
    return EvidencePublic(
        id=evidence.id,
        case_id=evidence.case_id,
        report_id=evidence.report_id,
        kind=evidence.kind,
        media_type=evidence.media_type,
        size_bytes=evidence.size_bytes,
        sha256=evidence.sha256,
        captured_at=evidence.captured_at,
        captured_by=evidence.captured_by,
        description=description_of(session=session, evidence=evidence),
        purged_at=evidence.purged_at,
    )


def _visible_case(case_id: IdPath, session: SessionDep, principal: CaseworkerDep) -> int:
    """The case of the path, if the caller may see it (checked before the form is read)."""
    require_case(session=session, principal=principal, case_id=case_id)
    return case_id


@router.post(
    "/cases/{case_id}/evidence",
    status_code=status.HTTP_201_CREATED,
    response_model=EvidencePublic,
    responses={413: {"description": "The file is too large"}, 415: {"description": "Refused"}},
)
def upload(
    request: Request,
    session: SessionDep,
    principal: CaseworkerDep,
    case_id: Annotated[int, Depends(_visible_case)],
    file: Annotated[UploadFile, File(description="The evidence file; its type is sniffed")],
    report_id: Annotated[
        int | None, Form(ge=1, le=MAX_ROW_ID, description="The report it shows")
    ] = None,
    description: Annotated[
        str | None, Form(max_length=DESCRIPTION_MAX_LENGTH, description="A note about it")
    ] = None,
) -> EvidencePublic | JSONResponse:
    """Upload evidence (caseworker of the case or supervisor), streamed through SHA-256 and the
    case's key into the store. Images and video are refused for a case involving a minor."""
    try:
        evidence = store_upload(
            session=session,
            principal=principal,
            case_id=case_id,
            source=file.file,
            report_id=report_id,
            description=description,
        )
    except (EvidenceTooLarge, UnsupportedEvidence) as error:
        code = 413 if isinstance(error, EvidenceTooLarge) else 415
        return envelope(code, [problem(list(p.loc), p.msg, p.type) for p in error.problems])
    commit_stored(session=session, evidence=evidence)
    return public(session, evidence)


@router.get("/cases/{case_id}/evidence", response_model=Page[EvidencePublic])
def list_(
    case_id: IdPath,
    session: SessionDep,
    principal: CaseworkerDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[EvidencePublic]:
    """The case's evidence records, oldest first (no content)."""
    rows = list_evidence(session=session, principal=principal, case_id=case_id)
    return slice_page(rows, lambda row: public(session, row), limit=limit, offset=offset)


def _read(session: Session, principal: Principal, evidence_id: int, action: str) -> Evidence:
    evidence = require_evidence(session=session, principal=principal, evidence_id=evidence_id)
    record_custody(session=session, principal=principal, evidence=evidence, action=action)
    return evidence


@router.get("/evidence/{evidence_id}", response_model=EvidencePublic)
def read(evidence_id: IdPath, session: SessionDep, principal: CaseworkerDep) -> EvidencePublic:
    """One evidence record (a custody event: evidence.viewed)."""
    evidence = _read(session, principal, evidence_id, "evidence.viewed")
    answer = public(session, evidence)
    session.commit()
    return answer


def download_response(session: Session, evidence: Evidence) -> StreamingResponse:
    """The decrypted content as an attachment with a neutral name, never cached or sniffed."""
    chunks: Iterator[bytes] = evidence_bytes(session=session, evidence=evidence)
    return StreamingResponse(
        chunks,
        media_type=evidence.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{file_name_of(evidence)}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Length": str(evidence.size_bytes),
        },
    )


@router.get(
    "/evidence/{evidence_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def content(evidence_id: IdPath, session: SessionDep, principal: CaseworkerDep) -> Response:
    """The evidence file, decrypted as it streams (a custody event: evidence.downloaded)."""
    evidence = _read(session, principal, evidence_id, "evidence.downloaded")
    response = download_response(session, evidence)
    session.commit()
    return response
