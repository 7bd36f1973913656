"""Exporting a case: who may, the bundle's files, and the custody event of every export."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import IO

from sqlmodel import Session

from tracker.audit.service import record
from tracker.cases.models import Case
from tracker.cases.service import contact_of, require_case
from tracker.errors import Forbidden
from tracker.evidence.service import evidence_bytes
from tracker.exports import bundle, texts
from tracker.exports.pdf import REPLACED_NOTE, render_pdf
from tracker.exports.records import CaseRecords, read_records
from tracker.organisations.service import Principal


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote: the number of files, the ZIP's size and SHA-256, its name."""

    file_count: int
    size_bytes: int
    sha256: str
    filename: str


@cache
def tracker_version() -> str:
    """The installed tracker's version."""
    try:
        return version("takedown-tracker")
    except PackageNotFoundError:
        return "unknown"


def require_exportable(*, session: Session, principal: Principal, case_id: int) -> Case:
    """The case, if the caller may export it and exports are allowed for it."""
    # Other caseworkers' cases are not found; dashboard keys are refused (require_case).
    case = require_case(session=session, principal=principal, case_id=case_id)
    if not case.exports_allowed:
        raise Forbidden.one(
            ("path", "case_id"),
            "exports are turned off for this case (exports_allowed is false); "
            "a supervisor can turn them on",
            "case.exports_not_allowed",
        )
    return case


def _evidence_entries(session: Session, records: CaseRecords) -> list[bundle.Entry]:
    entries = []
    for item in records.evidence:
        if item.purged_at is not None:
            continue

        def chunks(item=item):  # type: ignore[no-untyped-def]  # bound per evidence row
            return evidence_bytes(session=session, evidence=item)

        entries.append(
            bundle.Entry(
                path=texts.evidence_path(item.id, item.sha256, item.media_type),
                size=item.size_bytes,
                sha256=item.sha256,
                chunks=chunks,
            )
        )
    return entries


def build_entries(*, session: Session, records: CaseRecords) -> list[bundle.Entry]:
    """Every file of the bundle, the manifest and SHA256SUMS included."""
    case = records.case
    pdf, replaced = render_pdf(records)
    entries = [
        bundle.text_entry("report.pdf", pdf),
        bundle.text_entry(
            "certificate-bsa-63.txt",
            texts.certificate(records, tracker_version=tracker_version()).encode(),
        ),
        bundle.text_entry(
            "ncrp.txt",
            texts.ncrp(records, contact=lambda: contact_of(session=session, case=case)).encode(),
        ),
        *_evidence_entries(session, records),
    ]
    notes = [REPLACED_NOTE] if replaced else []
    purged = [item for item in records.evidence if item.purged_at is not None]
    if purged:
        notes.append(f"{len(purged)} evidence file(s) were purged and are not included.")
    header: dict[str, object] = {
        "case_number": case.id,
        "generated_at": records.generated_at.isoformat(),
        "tracker_version": tracker_version(),
        "evidence": [
            {
                "id": item.id,
                "kind": item.kind,
                "sha256": item.sha256,
                "size": item.size_bytes,
                "status": "purged" if item.purged_at is not None else "included",
                "purged_at": item.purged_at.isoformat() if item.purged_at else None,
                "path": None
                if item.purged_at is not None
                else texts.evidence_path(item.id, item.sha256, item.media_type),
            }
            for item in records.evidence
        ],
    }
    entries.append(
        bundle.text_entry(bundle.MANIFEST, bundle.manifest(entries, header=header, notes=notes))
    )
    entries.append(bundle.text_entry(bundle.SUMS, bundle.sums(entries)))
    return entries


def export_case(
    *, session: Session, principal: Principal, case_id: int, target: IO[bytes]
) -> ExportResult:
    """Write the case's bundle into ``target`` (a seekable file) and record the export."""
    case = require_exportable(session=session, principal=principal, case_id=case_id)
    records = read_records(session=session, case=case)
    entries = build_entries(session=session, records=records)
    bundle.write_zip(target, entries, moment=records.generated_at)
    size = target.tell()
    target.seek(0)
    digest = hashlib.sha256()
    while chunk := target.read(1024 * 1024):
        digest.update(chunk)
    result = ExportResult(
        file_count=len(entries),
        size_bytes=size,
        sha256=digest.hexdigest(),
        filename=f"case-{case.id}-bundle.zip",
    )
    record(
        session=session,
        actor=principal.actor,
        action="case.exported",
        object_type="case",
        object_id=case.id,
        organisation_id=case.organisation_id,
        details={"files": result.file_count, "sha256": result.sha256, "size": result.size_bytes},
    )
    return result
