"""Issuing, listing and revoking status links, and opening one with its PIN."""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select, update

from tracker.audit.service import record
from tracker.cases.models import Case
from tracker.cases.service import require_case
from tracker.console.i18n import languages
from tracker.db import utcnow
from tracker.errors import Conflict, Invalid, NotFound
from tracker.organisations.service import Principal
from tracker.status_links.models import StatusLink

#: argon2id with the library's defaults, like the console's passwords.
_hasher = PasswordHasher()
#: Verified when a link cannot be opened, so every refusal costs the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
PIN_DIGITS = 8
MAX_FAILED_ATTEMPTS = 5
LOCK = timedelta(minutes=15)
#: secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A new link: its row, the token and PIN (shown once), the link it replaced if any."""

    link: StatusLink
    token: str
    pin: str
    replaced_id: int | None


class PinOutcome(enum.StrEnum):
    OPENED = "opened"
    WRONG = "wrong"
    LOCKED = "locked"


def hash_token(token: str) -> str:
    """The stored form of a link's token (256 random bits: a plain SHA-256 is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _check_language(language: str) -> str:
    if language not in languages():
        raise Invalid.one(
            ("body", "language"),
            f"the language must be one of: {', '.join(languages())}",
            "status_link.unknown_language",
        )
    return language


def issue_link(
    *,
    session: Session,
    principal: Principal,
    case_id: int,
    language: str,
    show_platforms: bool,
) -> IssuedLink:
    """A new link and PIN for a case the caller works on; the case's active link is revoked."""
    case = require_case(session=session, principal=principal, case_id=case_id)
    _check_language(language)
    now = utcnow()
    previous = active_link(session=session, case_id=case_id)
    replaced_id = None
    if previous is not None and _revoke(session, previous, now):
        replaced_id = previous.id
        _audit(
            session,
            principal.actor,
            "status_link.revoked",
            previous,
            case.organisation_id,
            {"reason": "replaced"},
        )
    token = secrets.token_urlsafe(32)
    pin = f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"
    link = StatusLink(
        case_id=case_id,
        token_hash=hash_token(token),
        pin_hash=_hasher.hash(pin),
        language=language,
        show_platforms=show_platforms,
        created_by=principal.user_id,
        created_at=now,
    )
    session.add(link)
    try:
        session.flush()
    except IntegrityError as error:  # another link was issued for this case at the same moment
        raise Conflict.one(
            ("path", "case_id"),
            "another status link was issued for this case just now",
            "status_link.conflict",
        ) from error
    details = {"language": language, "show_platforms": show_platforms, "replaced": replaced_id}
    _audit(session, principal.actor, "status_link.issued", link, case.organisation_id, details)
    return IssuedLink(link=link, token=token, pin=pin, replaced_id=replaced_id)


def _audit(
    session: Session,
    actor: str,
    action: str,
    link: StatusLink,
    organisation_id: int,
    details: dict[str, object] | None = None,
) -> None:
    # Never the token nor the PIN.
    record(
        session=session,
        actor=actor,
        action=action,
        object_type="status_link",
        object_id=link.id,
        organisation_id=organisation_id,
        details={"case_id": link.case_id, **(details or {})},
    )


def _revoke(session: Session, link: StatusLink, now: datetime) -> bool:
    """Compare-and-set: revoke the link unless it is revoked already."""
    result = session.exec(
        update(StatusLink)
        .where(col(StatusLink.id) == link.id)
        .where(col(StatusLink.revoked_at).is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(link)
    return bool(result.rowcount == 1)


def active_link(*, session: Session, case_id: int) -> StatusLink | None:
    """The case's link that is not revoked, or None."""
    return session.exec(
        select(StatusLink)
        .where(StatusLink.case_id == case_id)
        .where(col(StatusLink.revoked_at).is_(None))
    ).first()


def latest_link(*, session: Session, case_id: int) -> StatusLink | None:
    """The case's newest link, revoked or not, or None."""
    return session.exec(
        select(StatusLink)
        .where(StatusLink.case_id == case_id)
        .order_by(col(StatusLink.id).desc())
        .limit(1)
    ).first()


def list_links(
    *, session: Session, principal: Principal, case_id: int, limit: int, offset: int
) -> tuple[list[StatusLink], int]:
    """One page of a case's links, newest first, and how many there are."""
    require_case(session=session, principal=principal, case_id=case_id)
    total = session.exec(
        select(func.count()).select_from(StatusLink).where(StatusLink.case_id == case_id)
    ).one()
    links = session.exec(
        select(StatusLink)
        .where(StatusLink.case_id == case_id)
        .order_by(col(StatusLink.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(links), int(total)


def require_link(*, session: Session, principal: Principal, link_id: int) -> StatusLink:
    """A link of a case the caller works on; NotFound otherwise (no existence leak)."""
    link = session.get(StatusLink, link_id)
    missing = NotFound.one(
        ("path", "status_link_id"), "status link not found", "status_link.not_found"
    )
    if link is None:
        raise missing
    try:
        require_case(session=session, principal=principal, case_id=link.case_id)
    except NotFound as error:
        raise missing from error
    return link


def revoke_link(*, session: Session, principal: Principal, link: StatusLink) -> StatusLink:
    """Revoke a link at once (Conflict when it already is); audited."""
    case = require_case(session=session, principal=principal, case_id=link.case_id)
    if not _revoke(session, link, utcnow()):
        raise Conflict.one(
            ("path", "status_link_id"), "the link is already revoked", "status_link.revoked"
        )
    _audit(
        session,
        principal.actor,
        "status_link.revoked",
        link,
        case.organisation_id,
        {"reason": "revoked"},
    )
    return link


def revoke_case_links(
    *, session: Session, case_id: int, actor: str, reason: str = "withdrawn"
) -> int:
    """Revoke a case's active link, if any (e.g. on withdrawal); audited; how many."""
    link = active_link(session=session, case_id=case_id)
    if link is None or not _revoke(session, link, utcnow()):
        return 0
    organisation_id = session.exec(select(Case.organisation_id).where(Case.id == case_id)).one()
    _audit(session, actor, "status_link.revoked", link, organisation_id, {"reason": reason})
    return 1


def link_for_token(*, session: Session, token: str) -> StatusLink | None:
    """The active link a token opens, or None (unknown, malformed or revoked)."""
    if not TOKEN.fullmatch(token):
        return None
    link = session.exec(
        select(StatusLink).where(StatusLink.token_hash == hash_token(token))
    ).first()
    return link if link is not None and link.revoked_at is None else None


def is_locked(link: StatusLink, now: datetime | None = None) -> bool:
    """Whether too many wrong PINs keep the link shut for now."""
    return link.locked_until is not None and link.locked_until > (now or utcnow())


def _pin_is_right(pin_hash: str, pin: str) -> bool:
    entered = re.sub(r"[\s-]", "", pin)
    try:
        return bool(_hasher.verify(pin_hash, entered))
    except (VerificationError, InvalidHashError):
        return False


def try_pin(
    *, session: Session, link: StatusLink, pin: str, now: datetime | None = None
) -> PinOutcome:
    """Check a PIN: the link opens, the PIN is wrong (counted), or the link is locked.

    Counting is compare-and-set on ``failed_attempts``, so two wrong PINs sent at the same
    moment are both counted; the fifth locks the link for ``LOCK``.
    """
    now = now or utcnow()
    if is_locked(link, now):
        _pin_is_right(_DUMMY_HASH, pin)
        return PinOutcome.LOCKED
    if _pin_is_right(link.pin_hash, pin):
        session.exec(
            update(StatusLink)
            .where(col(StatusLink.id) == link.id)
            .values(failed_attempts=0, locked_until=None, last_opened_at=now)
            .execution_options(synchronize_session=False)
        )
        session.refresh(link)
        return PinOutcome.OPENED
    for _ in range(5):
        session.refresh(link)
        if is_locked(link, now):
            return PinOutcome.LOCKED
        # A lock that has ended starts the count again.
        seen = link.failed_attempts
        counted = 0 if link.locked_until is not None else seen
        attempts = counted + 1
        locks = attempts >= MAX_FAILED_ATTEMPTS
        result = session.exec(
            update(StatusLink)
            .where(col(StatusLink.id) == link.id)
            .where(col(StatusLink.failed_attempts) == seen)
            .where(col(StatusLink.locked_until).is_(None) | (col(StatusLink.locked_until) <= now))
            .values(failed_attempts=attempts, locked_until=now + LOCK if locks else None)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            session.refresh(link)
            if locks:
                _audit_lock(session, link)
                return PinOutcome.LOCKED
            return PinOutcome.WRONG
    return PinOutcome.WRONG


def _audit_lock(session: Session, link: StatusLink) -> None:
    organisation_id = session.exec(
        select(Case.organisation_id).where(Case.id == link.case_id)
    ).one()
    _audit(
        session,
        "status_link",
        "status_link.locked",
        link,
        organisation_id,
        {"minutes": int(LOCK.total_seconds() // 60)},
    )


def open_link(*, session: Session, link_id: int) -> StatusLink | None:
    """The active, unlocked link with this id (a status cookie names it), or None."""
    link = session.get(StatusLink, link_id)
    if link is None or link.revoked_at is not None or is_locked(link):
        return None
    return link
