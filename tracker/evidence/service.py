"""Evidence: uploads streamed through SHA-256 and the case key into a store, reads by the
case's visibility, custody events, and purging."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import update
from sqlmodel import Session, col, select

from tracker.audit.chain import NewEvent
from tracker.audit.service import record, record_many
from tracker.bulk import copy_rows, new_ids
from tracker.cases.keys import CaseCipher, CaseKeyDestroyed, case_cipher, open_text, seal_text
from tracker.cases.models import Case
from tracker.cases.service import require_case
from tracker.db import utcnow
from tracker.errors import Conflict, Invalid, NotFound
from tracker.evidence.models import Evidence, EvidenceKind
from tracker.evidence.sniff import EXTENSIONS, SNIFF_BYTES, FileType, sniff
from tracker.evidence.storage import EvidenceStore, new_storage_key, store_from_settings
from tracker.organisations.service import Principal
from tracker.reports.models import Report
from tracker.settings import get_settings
from tracker.text import forbidden_character

logger = logging.getLogger(__name__)

READ_BYTES = 64 * 1024
#: The store name of evidence kept in its own row (``Evidence.sealed_record``): capture records.
RECORD_STORE = "database"
DESCRIPTION_MAX_LENGTH = 2000
MINOR_MEDIA_REFUSED = (
    "this case involves a minor: images and video are never stored; "
    "add hashes or a text note instead"
)


class EvidenceTooLarge(Invalid):
    """The upload is larger than TRACKER_EVIDENCE_MAX_BYTES (answered 413)."""


class UnsupportedEvidence(Invalid):
    """The upload's content is not an allowed type (answered 415)."""


def _store(name: str | None = None) -> EvidenceStore:
    return store_from_settings(get_settings(), name)


def _check_description(description: str | None) -> str | None:
    if description is None or not description.strip():
        return None
    if len(description) > DESCRIPTION_MAX_LENGTH or forbidden_character(
        description, multiline=True
    ):
        raise Invalid.one(
            ("body", "description"),
            f"a description is text of at most {DESCRIPTION_MAX_LENGTH} characters",
            "evidence.bad_description",
        )
    return description


def _check_report(session: Session, case: Case, report_id: int | None) -> int | None:
    if report_id is None:
        return None
    report = session.get(Report, report_id)
    if report is None or report.case_id != case.id:
        raise Invalid.one(
            ("body", "report_id"), "no report with this id in the case", "evidence.unknown_report"
        )
    return report_id


def _head(source: BinaryIO) -> tuple[bytes, bool]:
    """The first SNIFF_BYTES of the upload, and whether that is all of it."""
    head = b""
    while len(head) < SNIFF_BYTES:
        piece = source.read(SNIFF_BYTES - len(head))
        if not piece:
            return head, True
        head += piece
    return head, False


def _sniffed(case: Case, head: bytes, is_complete: bool) -> FileType:
    if not head:
        raise Invalid.one(("body", "file"), "the file is empty", "evidence.empty")
    found = sniff(head, is_complete=is_complete)
    if found is None:
        raise UnsupportedEvidence.one(
            ("body", "file"),
            "this kind of file is not accepted: images (PNG, JPEG, GIF, WebP), PDF, plain text, "
            "saved pages (HTML, MHTML), e-mails and video (MP4, WebM, QuickTime) are",
            "evidence.unsupported_type",
        )
    if found.is_media and case.minor_involved:
        raise Invalid.one(("body", "file"), MINOR_MEDIA_REFUSED, "evidence.minor_media_refused")
    return found


def _counted(
    head: bytes, source: BinaryIO, digest: hashlib._Hash, limit: int, size: list[int]
) -> Iterator[bytes]:
    """The upload's bytes in pieces, hashed and counted; EvidenceTooLarge past the limit."""
    piece = head
    while piece:
        size[0] += len(piece)
        if size[0] > limit:
            raise EvidenceTooLarge.one(
                ("body", "file"),
                f"the file is larger than the limit of {limit} bytes",
                "evidence.too_large",
            )
        digest.update(piece)
        yield piece
        piece = source.read(READ_BYTES)


def _seal_into_store(
    session: Session, case_id: int, pieces: Iterator[bytes]
) -> tuple[EvidenceStore, str]:
    cipher = case_cipher(session=session, case_id=case_id)
    store = _store()
    key = new_storage_key()
    store.write(key, cipher.encrypt_chunks(pieces))  # removes its partial object on error
    return store, key


def _add(session: Session, evidence: Evidence, store: EvidenceStore, case: Case) -> Evidence:
    try:
        session.add(evidence)
        session.flush()
    except BaseException:
        store.delete(evidence.storage_key)
        raise
    record(
        session=session,
        actor=evidence.captured_by,
        action="evidence.uploaded" if evidence.kind == EvidenceKind.UPLOAD else "evidence.captured",
        object_type="evidence",
        object_id=evidence.id,
        organisation_id=case.organisation_id,
        details={"sha256": evidence.sha256, "size_bytes": evidence.size_bytes, "case_id": case.id},
    )
    return evidence


def store_upload(
    *,
    session: Session,
    principal: Principal,
    case_id: int,
    source: BinaryIO,
    report_id: int | None = None,
    description: str | None = None,
) -> Evidence:
    """Stream an upload through SHA-256 and the case key into the store; one row, one event.
    A refused or failed upload leaves no row and no object."""
    case = require_case(session=session, principal=principal, case_id=case_id)
    assert case.id is not None
    description = _check_description(description)
    report_id = _check_report(session, case, report_id)
    head, is_complete = _head(source)
    found = _sniffed(case, head, is_complete)
    digest = hashlib.sha256()
    size = [0]
    pieces = _counted(head, source, digest, get_settings().evidence_max_bytes, size)
    store, key = _seal_into_store(session, case.id, pieces)
    evidence = Evidence(
        case_id=case.id,
        report_id=report_id,
        kind=EvidenceKind.UPLOAD,
        media_type=found.media_type,
        size_bytes=size[0],
        sha256=digest.hexdigest(),
        captured_by=principal.actor,
        description=seal_text(session=session, case_id=case.id, value=description),
        store=store.name,
        storage_key=key,
    )
    return _add(session, evidence, store, case)


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    """An automatic capture of one report to keep as evidence: the JSON record's bytes."""

    case_id: int
    organisation_id: int
    report_id: int
    content: bytes


_EVIDENCE_COLUMNS = (
    "id",
    "case_id",
    "report_id",
    "kind",
    "media_type",
    "size_bytes",
    "sha256",
    "captured_at",
    "captured_by",
    "store",
    "storage_key",
    "sealed_record",
)


def store_captures(*, session: Session, records: list[CaptureRecord], actor: str) -> list[int]:
    """Seal capture records with their cases' keys into evidence rows (store ``database``): one
    insert for all, one custody event each; the new ids. A withdrawn case keeps nothing new."""
    ciphers: dict[int, CaseCipher | None] = {}
    kept: list[tuple[CaptureRecord, str, bytes]] = []
    for capture in records:
        if capture.case_id not in ciphers:
            try:
                ciphers[capture.case_id] = case_cipher(session=session, case_id=capture.case_id)
            except CaseKeyDestroyed:
                ciphers[capture.case_id] = None
        cipher = ciphers[capture.case_id]
        if cipher is not None:
            sealed = b"".join(cipher.encrypt_chunks([capture.content]))
            kept.append((capture, hashlib.sha256(capture.content).hexdigest(), sealed))
    if not kept:
        return []
    table = Evidence.__table__  # type: ignore[attr-defined]
    ids = new_ids(session, table, len(kept))
    now = utcnow()
    rows = [
        (
            evidence_id,
            capture.case_id,
            capture.report_id,
            str(EvidenceKind.CAPTURE),
            "application/json",
            len(capture.content),
            digest,
            now,
            actor,
            RECORD_STORE,
            new_storage_key(),
            sealed,
        )
        for evidence_id, (capture, digest, sealed) in zip(ids, kept, strict=True)
    ]
    copy_rows(session, table, _EVIDENCE_COLUMNS, rows)
    record_many(
        session=session,
        events=[
            NewEvent(
                organisation_id=capture.organisation_id,
                actor=actor,
                action="evidence.captured",
                object_type="evidence",
                object_id=evidence_id,
                details={
                    "sha256": digest,
                    "size_bytes": len(capture.content),
                    "case_id": capture.case_id,
                },
                at=now,
            )
            for evidence_id, (capture, digest, _sealed) in zip(ids, kept, strict=True)
        ],
    )
    return ids


def discard_stored(*, evidence: Evidence) -> None:
    """Remove an evidence object whose transaction failed to commit."""
    if evidence.store != RECORD_STORE:  # a row-kept record went with its transaction
        _store(evidence.store).delete(evidence.storage_key)


def commit_stored(*, session: Session, evidence: Evidence | None) -> None:
    """Commit the transaction that recorded ``evidence``; if the commit fails, the stored file
    it would have recorded is deleted (nothing is half-written)."""
    try:
        session.commit()
    except BaseException:
        if evidence is not None:
            discard_stored(evidence=evidence)
        raise


def list_evidence(*, session: Session, principal: Principal, case_id: int) -> list[Evidence]:
    """The evidence of a case the caller may see, oldest first."""
    case = require_case(session=session, principal=principal, case_id=case_id)
    assert case.id is not None
    return case_evidence(session=session, case_id=case.id)


def case_evidence(*, session: Session, case_id: int) -> list[Evidence]:
    """Every evidence row of a case (purged ones included), oldest first."""
    return list(
        session.exec(
            select(Evidence).where(Evidence.case_id == case_id).order_by(col(Evidence.id))
        ).all()
    )


def require_evidence(*, session: Session, principal: Principal, evidence_id: int) -> Evidence:
    """Evidence of a case the caller may see; NotFound otherwise (no existence leak)."""
    evidence = session.get(Evidence, evidence_id)
    if evidence is not None:
        try:
            require_case(session=session, principal=principal, case_id=evidence.case_id)
            return evidence
        except NotFound:
            pass
    raise NotFound.one(("path", "evidence_id"), "evidence not found", "evidence.not_found")


def description_of(*, session: Session, evidence: Evidence) -> str | None:
    """The decrypted description, or None (also once the case's key is destroyed)."""
    return open_text(session=session, case_id=evidence.case_id, value=evidence.description)


def file_name_of(evidence: Evidence) -> str:
    """A neutral download name: ``evidence-<id>.<ext>``."""
    return f"evidence-{evidence.id}.{EXTENSIONS.get(evidence.media_type, 'bin')}"


def record_custody(
    *, session: Session, principal: Principal, evidence: Evidence, action: str
) -> None:
    """A custody event of a person reading evidence (evidence.viewed, evidence.downloaded)."""
    case = session.get(Case, evidence.case_id)
    record(
        session=session,
        actor=principal.actor,
        action=action,
        object_type="evidence",
        object_id=evidence.id,
        organisation_id=case.organisation_id if case else None,
        details={"sha256": evidence.sha256, "case_id": evidence.case_id},
    )


def evidence_bytes(*, session: Session, evidence: Evidence) -> Iterator[bytes]:
    """The decrypted content in pieces (no custody event: the caller records its own).
    The key and store are resolved now, so the iterator needs no session."""
    if evidence.purged_at is not None:
        raise Conflict.one(("path", "evidence_id"), "this evidence was purged", "evidence.purged")
    cipher = case_cipher(session=session, case_id=evidence.case_id)
    if evidence.store == RECORD_STORE:
        return cipher.decrypt_chunks(iter([evidence.sealed_record or b""]))
    store = _store(evidence.store)
    return cipher.decrypt_chunks(store.read(evidence.storage_key))


def purge_case_evidence(*, session: Session, case_id: int, actor: str, reason: str) -> int:
    """Delete every stored object of the case, mark the rows purged; one audit event if any."""
    rows = [row for row in case_evidence(session=session, case_id=case_id) if not row.purged_at]
    if not rows:
        return 0
    now = utcnow()
    session.execute(
        update(Evidence)
        .where(col(Evidence.id).in_([row.id for row in rows]), col(Evidence.purged_at).is_(None))
        .values(purged_at=now, description=None, sealed_record=None)
    )
    session.flush()
    for row in rows:
        if row.store == RECORD_STORE:
            continue  # its sealed bytes went with the update above
        try:
            _store(row.store).delete(row.storage_key)
        except Exception:  # the row says purged; a leftover object holds ciphertext only
            logger.exception("evidence %s: stored object could not be deleted", row.id)
    case = session.get(Case, case_id)
    record(
        session=session,
        actor=actor,
        action="evidence.purged",
        object_type="case",
        object_id=case_id,
        organisation_id=case.organisation_id if case else None,
        details={"count": len(rows), "reason": reason},
    )
    return len(rows)
