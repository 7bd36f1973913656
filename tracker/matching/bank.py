"""A case's hash bank: hashes of the victim's content and a label, nothing else.

Hashes come from a file the caseworker uploads once (hashed in memory, the bytes dropped, kept as
evidence only when asked and never for a case involving a minor) or are pasted from elsewhere,
e.g. made on the victim's own device as StopNCII does. Withdrawal deletes the bank.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from tracker.audit.service import record
from tracker.cases.keys import open_text, seal_text
from tracker.cases.models import Case
from tracker.cases.service import require_case
from tracker.checks.models import Check
from tracker.errors import Invalid, NotFound
from tracker.evidence.models import Evidence
from tracker.evidence.service import MINOR_MEDIA_REFUSED, EvidenceTooLarge, store_upload
from tracker.matching.hashing import BANK_SECONDS_PER_FRAME, NotMedia, hash_media
from tracker.matching.models import BankEntry, ContentMatch, MediaItem
from tracker.matching.signals import SignalError, SignalType, normalise, parse_signal_type
from tracker.organisations.service import Principal
from tracker.settings import get_settings
from tracker.text import forbidden_character

LABEL_MAX_LENGTH = 120
#: The most hashes one paste or import may add.
MAX_SIGNALS_AT_ONCE = 5000
UPLOAD = "upload"
PASTED = "pasted"
IMPORTED = "imported"


@dataclass(frozen=True, slots=True)
class BankUpload:
    """What an upload added: the bank's new entries and, if kept, the evidence record (whose
    stored file the caller discards should its commit fail)."""

    entries: list[BankEntry]
    evidence: Evidence | None = None


@dataclass(frozen=True, slots=True)
class NewSignal:
    """A hash to add, as typed or read from a file."""

    signal_type: str
    value: str
    label: str | None = None


def check_label(label: str | None, loc: tuple[str | int, ...]) -> str | None:
    if label is None or not label.strip():
        return None
    label = label.strip()
    if len(label) > LABEL_MAX_LENGTH:
        raise Invalid.one(loc, f"at most {LABEL_MAX_LENGTH} characters", "bank.label_too_long")
    if forbidden_character(label, multiline=False):
        raise Invalid.one(loc, "control characters are not allowed", "bank.label_invalid")
    return label


def validated(signals: Sequence[NewSignal], field: str = "entries") -> list[NewSignal]:
    """The signals in canonical form, or Invalid naming the first bad one's field."""
    if not signals:
        raise Invalid.one(("body", field), "add at least one hash", "bank.empty")
    if len(signals) > MAX_SIGNALS_AT_ONCE:
        raise Invalid.one(
            ("body", field), f"at most {MAX_SIGNALS_AT_ONCE} hashes at once", "bank.too_many"
        )
    clean = []
    for number, signal in enumerate(signals):
        try:
            kind = parse_signal_type(signal.signal_type)
        except SignalError as error:
            raise Invalid.one(
                ("body", field, number, "signal_type"), str(error), "bank.signal_type"
            ) from None
        try:
            value = normalise(kind, signal.value)
        except SignalError as error:
            raise Invalid.one(("body", field, number, "value"), str(error), "bank.signal") from None
        label = check_label(signal.label, ("body", field, number, "label"))
        clean.append(NewSignal(kind.value, value, label))
    return clean


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _insert(
    session: Session,
    principal: Principal,
    case: Case,
    signals: Sequence[NewSignal],
    source: str,
    quality: int | None = None,
) -> list[BankEntry]:
    """Add what the bank lacks (a hash already in it is left as it is); audited in counts."""
    assert case.id is not None
    digests = {_digest(signal.value) for signal in signals}
    present = set(
        session.exec(
            select(BankEntry.signal_type, BankEntry.digest)
            .where(BankEntry.case_id == case.id)
            .where(col(BankEntry.digest).in_(digests))
        ).all()
    )
    added = []
    for signal in signals:
        key = (signal.signal_type, _digest(signal.value))
        if key in present:
            continue
        present.add(key)
        frames = signal.value.count(",") // 2 if signal.signal_type == SignalType.VPDQ else None
        entry = BankEntry(
            organisation_id=case.organisation_id,
            case_id=case.id,
            signal_type=signal.signal_type,
            value=signal.value,
            digest=key[1],
            quality=quality if signal.signal_type == SignalType.PDQ else None,
            frame_count=frames,
            label=seal_text(session=session, case_id=case.id, value=signal.label),
            source=source,
            created_by=principal.user_id,
        )
        session.add(entry)
        added.append(entry)
    session.flush()
    record(
        session=session,
        actor=principal.actor,
        action="bank.added",
        object_type="case",
        object_id=case.id,
        organisation_id=case.organisation_id,
        details={
            "source": source,
            "added": len(added),
            "already_banked": len(signals) - len(added),
            "by_type": dict(Counter(entry.signal_type for entry in added)),
        },
    )
    return added


def add_signals(
    *,
    session: Session,
    principal: Principal,
    case_id: int,
    signals: Sequence[NewSignal],
    source: str = PASTED,
    field: str = "entries",
) -> list[BankEntry]:
    """Add hashes made elsewhere (pasted, or read from an exchange file)."""
    case = require_case(session=session, principal=principal, case_id=case_id)
    return _insert(session, principal, case, validated(signals, field), source)


def read_upload(source: BinaryIO, limit: int) -> bytes:
    """The whole upload in memory, or EvidenceTooLarge (413) past the limit."""
    data = source.read(limit + 1)
    if len(data) > limit:
        raise EvidenceTooLarge.one(
            ("body", "file"), f"the file is larger than {limit} bytes", "bank.too_large"
        )
    return data


def add_upload(
    *,
    session: Session,
    principal: Principal,
    case_id: int,
    source: BinaryIO,
    label: str | None = None,
    keep_as_evidence: bool = False,
) -> BankUpload:
    """Hash an image or video in memory and bank its hashes; the bytes are dropped.

    With ``keep_as_evidence`` the same file is also stored as evidence (sealed with the case key)
    through the evidence service. A case involving a minor takes hashes only: the upload is
    refused before a byte is hashed.
    """
    case = require_case(session=session, principal=principal, case_id=case_id)
    label = check_label(label, ("body", "label"))
    if case.minor_involved:
        raise Invalid.one(("body", "file"), MINOR_MEDIA_REFUSED, "bank.minor_media_refused")
    settings = get_settings()
    data = read_upload(source, settings.matching_max_media_bytes)
    try:
        hashes = hash_media(
            data, seconds=settings.matching_hash_seconds, every=BANK_SECONDS_PER_FRAME
        )
    except NotMedia:
        raise Invalid.one(
            ("body", "file"), "upload an image or a video to hash", "bank.not_media"
        ) from None
    finally:
        del data  # The bytes served their purpose; keep nothing of the content.
    signals = [NewSignal(kind.value, value, label) for kind, value in hashes.signals()]
    added = _insert(session, principal, case, signals, UPLOAD, quality=hashes.pdq_quality)
    if not keep_as_evidence:
        return BankUpload(added)
    source.seek(0)
    evidence = store_upload(
        session=session, principal=principal, case_id=case_id, source=source, description=label
    )
    return BankUpload(added, evidence)


def list_bank(*, session: Session, principal: Principal, case_id: int) -> list[BankEntry]:
    require_case(session=session, principal=principal, case_id=case_id)
    return case_bank(session=session, case_id=case_id)


def case_bank(*, session: Session, case_id: int) -> list[BankEntry]:
    return list(
        session.exec(
            select(BankEntry).where(BankEntry.case_id == case_id).order_by(col(BankEntry.id))
        ).all()
    )


def label_of(*, session: Session, entry: BankEntry) -> str | None:
    return open_text(session=session, case_id=entry.case_id, value=entry.label)


def bank_counts(entries: Sequence[BankEntry]) -> dict[str, int]:
    """How many hashes of each signal type, in the signal types' order."""
    counted = Counter(entry.signal_type for entry in entries)
    return {kind.value: counted[kind.value] for kind in SignalType if counted[kind.value]}


def remove_entry(*, session: Session, principal: Principal, case_id: int, entry_id: int) -> None:
    """Delete one hash (and the matches it made) from a case's bank."""
    case = require_case(session=session, principal=principal, case_id=case_id)
    entry = session.get(BankEntry, entry_id)
    if entry is None or entry.case_id != case.id:
        raise NotFound.one(("path", "entry_id"), "bank entry not found", "bank.entry_not_found")
    session.execute(delete(ContentMatch).where(col(ContentMatch.bank_entry_id) == entry_id))
    session.delete(entry)
    session.flush()
    record(
        session=session,
        actor=principal.actor,
        action="bank.removed",
        object_type="case",
        object_id=case.id,
        organisation_id=case.organisation_id,
        details={"entry_id": entry_id, "signal_type": entry.signal_type},
    )


def erase_case_matching(*, session: Session, case_id: int, report_ids: Sequence[int]) -> int:
    """Withdrawal: delete the case's bank and every match touching the case; erase the URLs and
    hashes of its reports' media. Returns how many bank hashes were deleted."""
    session.execute(
        delete(ContentMatch).where(
            (col(ContentMatch.case_id) == case_id) | (col(ContentMatch.bank_case_id) == case_id)
        )
    )
    removed = session.execute(delete(BankEntry).where(col(BankEntry.case_id) == case_id))
    if report_ids:
        items = list(
            session.exec(select(MediaItem).where(col(MediaItem.report_id).in_(report_ids))).all()
        )
        for item in items:
            item.url = f"erased:media-{item.id}"
            item.validator = item.md5 = item.sha256 = item.pdq = item.vpdq = None
            item.pdq_mirror = None
            session.add(item)
        session.execute(
            update(Check)
            .where(col(Check.report_id).in_(report_ids))
            .values(fingerprint=None)
            .execution_options(synchronize_session=False)
        )
    return int(getattr(removed, "rowcount", 0) or 0)
