"""Console passwords (argon2id) and the TOTP second factor (RFC 6238, via pyotp)."""

from __future__ import annotations

import secrets
import time

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select, update

from tracker.audit.service import record
from tracker.errors import Invalid
from tracker.organisations.models import Role, User

#: argon2id with the library's defaults (RFC 9106 "low memory" profile: 64 MiB, t=3, p=4).
_hasher = PasswordHasher()
#: Verified when no user matches, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200
#: Letters and digits that cannot be misread for each other when read out or copied by hand.
_READABLE = "abcdefghjkmnpqrstuvwxyz23456789"
#: Who signs in to the console (dashboard and metrics keys are machines).
CONSOLE_ROLES = (Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)
TOTP_ISSUER = "Takedown tracker"


def one_time_password() -> str:
    """A random password to hand over once (about 99 bits), in groups of five."""
    characters = "".join(secrets.choice(_READABLE) for _ in range(20))
    return "-".join(characters[index : index + 5] for index in range(0, 20, 5))


def password_problem(password: str, *, login: str | None) -> str | None:
    """Why this password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password needs at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password may have at most {MAX_PASSWORD_LENGTH} characters"
    if login and login.lower() in password.lower():
        return "the password must not contain the sign-in name"
    return None


def set_password(
    *, session: Session, user: User, password: str, must_change: bool, actor: str
) -> None:
    """Store a new password hash for a user; audited (never the password)."""
    problem = password_problem(password, login=user.login)
    if problem is not None:
        raise Invalid.one(("body", "password"), problem, "password.weak")
    user.password_hash = _hasher.hash(password)
    user.password_must_change = must_change
    session.add(user)
    session.flush()
    record(
        session=session,
        actor=actor,
        action="user.password_set",
        object_type="user",
        object_id=user.id,
        organisation_id=user.organisation_id,
        details={"one_time": must_change},
    )


def user_for_password(*, session: Session, login: str, password: str) -> User | None:
    """The active console user with this sign-in name and password, or None."""
    user = session.exec(select(User).where(User.login == login.strip().lower())).first()
    stored = user.password_hash if user is not None else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or stored is None or not user.is_active:
        return None
    if Role(user.role) not in CONSOLE_ROLES:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
        session.add(user)
    return user


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(*, secret: str, login: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=TOTP_ISSUER)


def totp_step(secret: str, code: str, *, now: float | None = None) -> int | None:
    """The time step a code belongs to (this one or one either side), or None when wrong."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    moment = time.time() if now is None else now
    for drift in (0, -1, 1):
        step = int(moment // totp.interval) + drift
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def accept_totp(*, session: Session, user: User, code: str, now: float | None = None) -> bool:
    """Whether a code from the user's authenticator is right and unused; a used code is spent.

    Compare-and-set on the last accepted step, so one code cannot sign in twice, not even in
    two requests at the same moment.
    """
    if user.totp_secret is None:
        return False
    step = totp_step(user.totp_secret, code, now=now)
    if step is None:
        return False
    result = session.exec(
        update(User)
        .where(col(User.id) == user.id)
        .where((col(User.totp_last_step).is_(None)) | (col(User.totp_last_step) < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


def _audit_second_factor(session: Session, user: User, actor: str, action: str) -> None:
    record(
        session=session,
        actor=actor,
        action=action,
        object_type="user",
        object_id=user.id,
        organisation_id=user.organisation_id,
    )


def enrol_totp(*, session: Session, user: User, secret: str, step: int, actor: str) -> None:
    """Keep a TOTP secret the user proved with a code of time step ``step``; audited."""
    user.totp_secret = secret
    user.totp_last_step = step
    session.add(user)
    _audit_second_factor(session, user, actor, "user.second_factor_enrolled")


def remove_totp(*, session: Session, user: User, actor: str) -> None:
    """Turn the user's second factor off; audited."""
    user.totp_secret = None
    session.add(user)
    _audit_second_factor(session, user, actor, "user.second_factor_removed")
