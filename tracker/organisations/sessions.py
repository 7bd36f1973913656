"""Console sessions: opened after sign-in, checked on every request, ended on sign-out.

The browser holds a random token (in a signed cookie); the database holds only its SHA-256,
so a copy of the database opens no session. A session ends on sign-out, after the idle limit,
after the absolute limit, and at once for every session of a deactivated user or of a user
whose password changed elsewhere.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select, update

from tracker.db import utcnow
from tracker.organisations.models import ConsoleSession, User

#: How often ``last_seen_at`` is written: idle time is measured to within this much.
TOUCH_EVERY = timedelta(seconds=30)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Limits:
    """How long a session may sit idle, and how long it may live at most."""

    idle: timedelta
    absolute: timedelta


def open_session(
    *, session: Session, user: User, second_factor_passed: bool
) -> tuple[ConsoleSession, str]:
    """A new session for a user who gave the right password; the token, shown to the cookie."""
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        user_id=user.id, token_hash=_hash(token), second_factor_passed=second_factor_passed
    )
    session.add(row)
    session.flush()
    return row, token


def find_session(
    *, session: Session, token: str, limits: Limits, now: datetime | None = None, touch: bool = True
) -> tuple[ConsoleSession, User] | None:
    """The live session behind a token and its user, or None; keeps ``last_seen_at`` fresh
    unless ``touch`` is false (a page refreshing itself is not the person being there)."""
    if not token or len(token) > 100:
        return None
    row = session.exec(
        select(ConsoleSession, User)
        .join(User, col(User.id) == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == _hash(token))
    ).first()
    if row is None:
        return None
    console_session, user = row
    moment = now or utcnow()
    if (
        console_session.ended_at is not None
        or not user.is_active
        or moment - console_session.last_seen_at > limits.idle
        or moment - console_session.created_at > limits.absolute
        or (
            user.sessions_valid_after is not None
            and console_session.created_at <= user.sessions_valid_after
        )
    ):
        return None
    if touch and moment - console_session.last_seen_at >= TOUCH_EVERY:
        console_session.last_seen_at = moment
        session.add(console_session)
        session.flush()
    return console_session, user


def end_session(*, session: Session, console_session: ConsoleSession) -> None:
    """End one session (sign-out)."""
    console_session.ended_at = utcnow()
    session.add(console_session)
    session.flush()


def end_sessions_of(*, session: Session, user_id: int, keep: int | None = None) -> int:
    """End every open session of a user, except ``keep``; how many ended."""
    query = (
        update(ConsoleSession)
        .where(col(ConsoleSession.user_id) == user_id)
        .where(col(ConsoleSession.ended_at).is_(None))
    )
    if keep is not None:
        query = query.where(col(ConsoleSession.id) != keep)
    result = session.exec(
        query.values(ended_at=utcnow()).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)
