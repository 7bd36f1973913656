"""The audit chain: each event carries the hash of the one before, so a changed, deleted or
reordered event breaks every link after it.

hash = SHA-256 of a canonical encoding (sorted-key JSON, no whitespace, UTC ISO times with
microseconds) of the link's sequence, prev_hash, organisation_id, actor, action, object_type,
object_id, details and time. The first link's prev_hash is 64 zeros.

Appends are serialised so two transactions never fork the chain: on PostgreSQL by a
transaction-scoped advisory lock, on SQLite by the database's write lock (taken with a no-op
update of the head row before the tail is read). The unique index on ``sequence`` turns any
race left into an error, never a fork. The chain has no secret: someone who can write the
database can rewrite it from the tampered event on, so keep a copy of the newest hash (the
head) elsewhere if that matters.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, insert, select, text, update
from sqlmodel import Session, col

from tracker.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from tracker.bulk import copy_rows

#: pg_advisory_xact_lock key for appends ("audchain" in ASCII; any fixed bigint would do).
ADVISORY_LOCK_KEY = int.from_bytes(b"audchain", "big")
HEAD_ID = 1

HASH_MISMATCH = "hash mismatch"
MISSING_LINK = "missing link"
PREV_HASH_MISMATCH = "prev_hash mismatch"

_head: Table = AuditChainHead.__table__  # type: ignore[attr-defined]


_PLAIN_TYPES = (str, int, bool, type(None))


def _plain_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """``normalised_details``, without the JSON round trip when it would change nothing (text
    keys, and text, integer, boolean or null values)."""
    if details is None:
        return {}
    if all(type(key) is str and type(value) in _PLAIN_TYPES for key, value in details.items()):
        return details
    return normalised_details(details)


def normalised_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """``details`` as the database gives them back (a JSON round trip), so hashes match."""
    return json.loads(json.dumps(details or {}, allow_nan=False))  # type: ignore[no-any-return]


def canonical(
    *,
    sequence: int,
    prev_hash: str,
    organisation_id: int | None,
    actor: str,
    action: str,
    object_type: str,
    object_id: int | None,
    details: dict[str, Any],
    at: datetime,
) -> bytes:
    """The bytes a link's hash is computed over."""
    return json.dumps(
        {
            "sequence": sequence,
            "prev_hash": prev_hash,
            "organisation_id": organisation_id,
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": details,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    ).encode("ascii")


def link_hash(**fields: Any) -> str:
    """The SHA-256 (hex) of a link's canonical encoding; takes ``canonical``'s fields."""
    return hashlib.sha256(canonical(**fields)).hexdigest()


def _tail(session: Session) -> tuple[int, str]:
    """Lock the chain for this transaction and read its last sequence and hash."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    else:
        # Begins the write transaction (SQLite's one writer) before the tail is read.
        session.execute(
            update(_head).where(_head.c.id == HEAD_ID).values(last_sequence=_head.c.last_sequence)
        )
    found = session.execute(
        select(_head.c.last_sequence, _head.c.last_hash).where(_head.c.id == HEAD_ID)
    ).first()
    if found is not None:
        return int(found[0]), str(found[1])
    # No head row (a new or emptied table): start from the events' own tail.
    last = session.execute(
        select(col(AuditEvent.sequence), col(AuditEvent.hash))
        .order_by(col(AuditEvent.sequence).desc())
        .limit(1)
    ).first()
    sequence, last_hash = (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)
    session.execute(insert(_head).values(id=HEAD_ID, last_sequence=sequence, last_hash=last_hash))
    return sequence, last_hash


def append(
    *,
    session: Session,
    organisation_id: int | None,
    actor: str,
    action: str,
    object_type: str,
    object_id: int | None,
    details: dict[str, Any] | None,
    at: datetime,
) -> AuditEvent:
    """Add the next link to the chain in the caller's transaction (the lock lasts until it ends)."""
    with session.no_autoflush:
        last_sequence, prev_hash = _tail(session)
        fields: dict[str, Any] = {
            "sequence": last_sequence + 1,
            "prev_hash": prev_hash,
            "organisation_id": organisation_id,
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": normalised_details(details),
            "at": at,
        }
        event = AuditEvent(**fields, hash=link_hash(**fields))
        session.execute(
            update(_head)
            .where(_head.c.id == HEAD_ID)
            .values(last_sequence=event.sequence, last_hash=event.hash)
        )
        session.add(event)
    return event


@dataclass(frozen=True, slots=True)
class NewEvent:
    """One event to append: what ``append`` takes, as data (for ``append_many``)."""

    organisation_id: int | None
    actor: str
    action: str
    object_type: str
    object_id: int | None
    details: dict[str, Any] | None
    at: datetime


_events: Table = AuditEvent.__table__  # type: ignore[attr-defined]
_EVENT_COLUMNS = (
    "sequence",
    "prev_hash",
    "hash",
    "organisation_id",
    "actor",
    "action",
    "object_type",
    "object_id",
    "details",
    "at",
)


def append_many(*, session: Session, events: list[NewEvent]) -> None:
    """Add several links in order, as ``append`` would one by one: the chain is locked and its
    tail read once, the links inserted in one statement and the head moved once."""
    if not events:
        return
    session.flush()  # links appended one by one earlier in the transaction go first
    with session.no_autoflush:
        last_sequence, prev_hash = _tail(session)
    rows = []
    for event in events:
        last_sequence += 1
        details = _plain_details(event.details)
        link = link_hash(
            sequence=last_sequence,
            prev_hash=prev_hash,
            organisation_id=event.organisation_id,
            actor=event.actor,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            details=details,
            at=event.at,
        )
        rows.append(
            (
                last_sequence,
                prev_hash,
                link,
                event.organisation_id,
                event.actor,
                event.action,
                event.object_type,
                event.object_id,
                json.dumps(details),
                event.at,
            )
        )
        prev_hash = link
    copy_rows(session, _events, _EVENT_COLUMNS, rows)
    session.execute(
        update(_head)
        .where(_head.c.id == HEAD_ID)
        .values(last_sequence=last_sequence, last_hash=prev_hash)
    )


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What a verification found: how many links were checked and the first broken one."""

    checked: int
    broken_sequence: int | None = None
    broken_id: int | None = None  # None when the missing link is the chain's end
    reason: str | None = None  # HASH_MISMATCH, MISSING_LINK or PREV_HASH_MISMATCH

    @property
    def intact(self) -> bool:
        return self.reason is None


_COLUMNS = (
    col(AuditEvent.id),
    col(AuditEvent.sequence),
    col(AuditEvent.prev_hash),
    col(AuditEvent.hash),
    col(AuditEvent.organisation_id),
    col(AuditEvent.actor),
    col(AuditEvent.action),
    col(AuditEvent.object_type),
    col(AuditEvent.object_id),
    col(AuditEvent.details),
    col(AuditEvent.at),
)


def verify_chain(*, session: Session, batch_size: int = 1000) -> ChainReport:
    """Recompute the whole chain in sequence order, in batches; the first broken link."""
    head = session.execute(
        select(_head.c.last_sequence, _head.c.last_hash).where(_head.c.id == HEAD_ID)
    ).first()
    # Links appended while this runs are left for the next run: only those the head named.
    until = int(head[0]) if head is not None else None
    expected, prev_hash, checked, last_id = 1, GENESIS_HASH, 0, None
    while True:
        query = select(*_COLUMNS).where(col(AuditEvent.sequence) >= expected)
        if until is not None:
            query = query.where(col(AuditEvent.sequence) <= until)
        rows = session.execute(query.order_by(col(AuditEvent.sequence)).limit(batch_size)).all()
        for row in rows:
            (event_id, sequence, stored_prev, stored_hash, *content) = row
            reason = None
            if sequence != expected:
                reason = MISSING_LINK
            elif stored_prev != prev_hash:
                reason = PREV_HASH_MISMATCH
            elif stored_hash != _recomputed(sequence, stored_prev, content):
                reason = HASH_MISMATCH
            if reason is not None:
                return ChainReport(checked, sequence, event_id, reason)
            checked += 1
            expected, prev_hash, last_id = sequence + 1, stored_hash, event_id
        if len(rows) < batch_size:
            break
    if until is not None and checked < until:
        return ChainReport(checked, checked + 1, None, MISSING_LINK)
    if head is not None and checked and head[1] != prev_hash:
        return ChainReport(checked - 1, checked, last_id, HASH_MISMATCH)
    return ChainReport(checked)


def _recomputed(sequence: int, prev_hash: str, content: list[Any]) -> str:
    organisation_id, actor, action, object_type, object_id, details, at = content
    return link_hash(
        sequence=sequence,
        prev_hash=prev_hash,
        organisation_id=organisation_id,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
        at=at,
    )
