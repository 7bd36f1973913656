"""HTTP endpoint of the bundle for police, NCRP and court."""

from __future__ import annotations

import tempfile
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from tracker.api.deps import CaseworkerDep, IdPath, SessionDep
from tracker.exports.bundle import file_chunks
from tracker.exports.service import export_case
from tracker.organisations.service import Principal

router = APIRouter(prefix="/cases", tags=["cases"])

ZIP_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The bundle: report.pdf, the evidence files, certificate-bsa-63.txt, "
        "ncrp.txt, manifest.json and SHA256SUMS",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def zip_response(*, session: Session, principal: Principal, case_id: int) -> StreamingResponse:
    """Build the case's bundle in a temporary file, commit its custody event, stream it."""
    target = tempfile.TemporaryFile()  # closed by file_chunks once sent, or below on error
    try:
        result = export_case(session=session, principal=principal, case_id=case_id, target=target)
        session.commit()
    except BaseException:
        target.close()
        raise
    return StreamingResponse(
        file_chunks(target),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{result.filename}"',
            "Content-Length": str(result.size_bytes),
            "Cache-Control": "no-store",
        },
    )


@router.get("/{case_id}/export", response_class=StreamingResponse, responses=ZIP_RESPONSE)
def export(case_id: IdPath, session: SessionDep, principal: CaseworkerDep) -> StreamingResponse:
    """The case's bundle for police, NCRP or court, as one reproducible ZIP.

    For a supervisor or admin of the organisation, or the case's own caseworker; refused (403)
    when the case's `exports_allowed` is false. Each export is recorded as a custody event
    (`case.exported`, with the bundle's SHA-256). The same records give the same bytes.
    """
    return zip_response(session=session, principal=principal, case_id=case_id)
