"""Organisations, users and API keys: creating them and authenticating a bearer key."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, select

from tracker.audit.service import record
from tracker.db import utcnow
from tracker.organisations.models import ApiKey, Organisation, Role, User

KEY_PREFIX = "tk_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user of one organisation with one role."""

    user_id: int
    organisation_id: int
    role: Role

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}"

    @property
    def sees_all_cases(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def sees_case_data(self) -> bool:
        return self.role is not Role.DASHBOARD


def _hash_key(key: str) -> str:
    # The key carries 256 bits of randomness, so a plain SHA-256 is enough (no slow KDF needed).
    return hashlib.sha256(key.encode()).hexdigest()


def get_or_create_organisation(*, session: Session, name: str, contact_email: str) -> Organisation:
    """The organisation with this name, created when missing."""
    organisation = session.exec(select(Organisation).where(Organisation.name == name)).first()
    if organisation is None:
        organisation = Organisation(name=name, contact_email=contact_email)
        session.add(organisation)
        session.flush()
        record(
            session=session,
            actor="system",
            action="organisation.created",
            object_type="organisation",
            object_id=organisation.id,
            organisation_id=organisation.id,
        )
    return organisation


def create_user(
    *, session: Session, organisation_id: int, display_name: str, role: Role, actor: str
) -> tuple[User, str]:
    """Create a user and its first API key; the key is returned once and stored only hashed."""
    user = User(organisation_id=organisation_id, display_name=display_name, role=role)
    session.add(user)
    session.flush()
    key = issue_key(session=session, user=user)
    record(
        session=session,
        actor=actor,
        action="user.created",
        object_type="user",
        object_id=user.id,
        organisation_id=organisation_id,
        details={"role": role.value},
    )
    return user, key


def issue_key(*, session: Session, user: User) -> str:
    """A new API key for a user."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    assert user.id is not None
    session.add(ApiKey(user_id=user.id, prefix=key[:10], key_hash=_hash_key(key)))
    session.flush()
    return key


def authenticate(*, session: Session, key: str) -> Principal | None:
    """The principal behind a bearer key, or None for an unknown, revoked or inactive one."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    digest = _hash_key(key)
    row = session.exec(
        select(ApiKey, User)
        .join(User, col(User.id) == ApiKey.user_id)
        .where(ApiKey.key_hash == digest)
        .where(col(ApiKey.revoked_at).is_(None))
    ).first()
    if row is None:
        return None
    api_key, user = row
    if not user.is_active or not hmac.compare_digest(api_key.key_hash, digest):
        return None
    assert user.id is not None
    return Principal(user_id=user.id, organisation_id=user.organisation_id, role=Role(user.role))


def list_users(*, session: Session, organisation_id: int) -> list[User]:
    """The organisation's users."""
    return list(
        session.exec(
            select(User).where(User.organisation_id == organisation_id).order_by(col(User.id))
        ).all()
    )


def get_user(*, session: Session, organisation_id: int, user_id: int) -> User | None:
    """A user of this organisation, or None."""
    user = session.get(User, user_id)
    return user if user is not None and user.organisation_id == organisation_id else None


def revoke_keys(*, session: Session, user_id: int) -> int:
    """Revoke every key of a user; returns how many."""
    keys = session.exec(
        select(ApiKey).where(ApiKey.user_id == user_id).where(col(ApiKey.revoked_at).is_(None))
    ).all()
    for api_key in keys:
        api_key.revoked_at = utcnow()
        session.add(api_key)
    return len(keys)
