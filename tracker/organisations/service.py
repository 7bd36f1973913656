"""Organisations, users and API keys: creating, deactivating, revoking, authenticating."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select, update

from tracker.audit.service import record
from tracker.db import utcnow
from tracker.errors import Conflict, Forbidden, Invalid
from tracker.organisations.models import ApiKey, Organisation, Role, User
from tracker.organisations.passwords import CONSOLE_ROLES, one_time_password, set_password
from tracker.organisations.sessions import end_sessions_of
from tracker.pagination import paginate

KEY_PREFIX = "tk_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user of one organisation with one role."""

    user_id: int
    organisation_id: int
    role: Role
    key_id: int | None = None  # the API key this request came with (None: not a key)

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}"

    @property
    def sees_all_cases(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def sees_case_data(self) -> bool:
        return self.role not in (Role.DASHBOARD, Role.METRICS)

    @property
    def reads_operations(self) -> bool:
        """May read the readiness detail and the metrics of the organisation."""
        return self.role in (Role.ADMIN, Role.METRICS)


def _hash_key(key: str) -> str:
    # The key carries 256 bits of randomness, so a plain SHA-256 is enough (no slow KDF needed).
    return hashlib.sha256(key.encode()).hexdigest()


def get_or_create_organisation(*, session: Session, name: str, contact_email: str) -> Organisation:
    """The organisation with this name, created when missing."""
    organisation = find_organisation(session=session, name=name)
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


def find_organisation(*, session: Session, name: str) -> Organisation | None:
    """The organisation with this exact name, or None."""
    return session.exec(select(Organisation).where(Organisation.name == name)).first()


def create_user(
    *, session: Session, organisation_id: int, display_name: str, role: Role, actor: str
) -> tuple[User, str]:
    """Create a user and its first API key; the key is returned once and stored only hashed."""
    user = User(organisation_id=organisation_id, display_name=display_name, role=role)
    session.add(user)
    session.flush()
    _, key = issue_key(session=session, user=user)
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


#: The roles a supervisor adds, deactivates and gives keys or passwords to; an admin: any role.
MANAGED_BY_SUPERVISORS = (Role.CASEWORKER,)


def may_manage(principal: Principal, role: Role | str) -> bool:
    """Whether the caller may add, deactivate, key or reset a user with this role."""
    if principal.role is Role.ADMIN:
        return True
    return principal.role is Role.SUPERVISOR and Role(role) in MANAGED_BY_SUPERVISORS


def require_manager(principal: Principal, role: Role | str, loc: tuple[str | int, ...]) -> None:
    """Raise Forbidden unless the caller may manage users with this role."""
    if not may_manage(principal, role):
        raise Forbidden.one(
            loc,
            "supervisors manage caseworkers; other roles need an admin",
            "user.manage_forbidden",
        )


LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def login_from_name(display_name: str) -> str | None:
    """A sign-in name suggested by a display name ("Asha K." -> "asha.k"), or None."""
    login = re.sub(r"[^a-z0-9]+", ".", display_name.lower()).strip(".")[:64]
    return login if LOGIN_PATTERN.match(login) else None


def give_console_access(*, session: Session, user: User, login: str, actor: str) -> str:
    """Let a person sign in to the console: a sign-in name and a one-time password, returned
    once; they must choose their own password at first sign-in. Audited."""
    if Role(user.role) not in CONSOLE_ROLES:
        raise Invalid.one(
            ("body", "role"),
            "only caseworkers, supervisors and admins sign in to the console",
            "user.no_console",
        )
    login = login.strip().lower()
    if not LOGIN_PATTERN.match(login):
        raise Invalid.one(
            ("body", "login"),
            "a sign-in name has 2 to 64 lowercase letters, digits, dots, hyphens or underscores",
            "user.login_invalid",
        )
    taken = session.exec(select(User.id).where(User.login == login)).first()
    if taken is not None and taken != user.id:
        raise Conflict.one(("body", "login"), "this sign-in name is taken", "user.login_taken")
    user.login = login
    password = one_time_password()
    set_password(session=session, user=user, password=password, must_change=True, actor=actor)
    return password


def reset_password(*, session: Session, user: User, actor: str, login: str | None = None) -> str:
    """A new one-time password for an active person, returned once; their console sessions
    end at once. ``login`` names them when they have no sign-in name yet. Audited."""
    if not user.is_active:
        raise Conflict.one(("path", "user_id"), "the user is deactivated", "user.deactivated")
    chosen = login or user.login or ""
    if not chosen and Role(user.role) in CONSOLE_ROLES:  # a machine is refused for its role
        raise Invalid.one(("body", "login"), "a sign-in name is needed", "user.login_missing")
    password = give_console_access(session=session, user=user, login=chosen, actor=actor)
    assert user.id is not None
    end_sessions_of(session=session, user_id=user.id)
    return password


def issue_key(*, session: Session, user: User) -> tuple[ApiKey, str]:
    """A new API key row for a user, and the key itself (shown once, stored only hashed)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    assert user.id is not None
    api_key = ApiKey(user_id=user.id, prefix=key[:10], key_hash=_hash_key(key))
    session.add(api_key)
    session.flush()
    return api_key, key


def new_key(*, session: Session, user: User, actor: str) -> tuple[ApiKey, str]:
    """Issue another key to an active user (older keys keep working until revoked); audited."""
    if not user.is_active:
        raise Conflict.one(("path", "user_id"), "the user is deactivated", "user.deactivated")
    api_key, key = issue_key(session=session, user=user)
    _audit_key(session, actor, "api_key.issued", api_key, user)
    return api_key, key


def _audit_key(session: Session, actor: str, action: str, api_key: ApiKey, user: User) -> None:
    record(
        session=session,
        actor=actor,
        action=action,
        object_type="api_key",
        object_id=api_key.id,
        organisation_id=user.organisation_id,
        details={"user_id": user.id},
    )


def authenticate(*, session: Session, key: str) -> Principal | None:
    """The principal behind a bearer key, or None for an unknown, revoked or inactive one.

    Read from the database on every request (never cached), so a revoked key or a deactivated
    user stops at once.
    """
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    digest = _hash_key(key)
    row = session.exec(
        select(ApiKey, User)
        .join(User, col(User.id) == ApiKey.user_id)
        .where(ApiKey.key_hash == digest)
        .where(col(ApiKey.revoked_at).is_(None))
        .where(col(User.is_active).is_(True))
    ).first()
    if row is None:
        return None
    api_key, user = row
    if not hmac.compare_digest(api_key.key_hash, digest):
        return None
    assert user.id is not None
    return Principal(
        user_id=user.id,
        organisation_id=user.organisation_id,
        role=Role(user.role),
        key_id=api_key.id,
    )


def list_users(*, session: Session, organisation_id: int) -> list[User]:
    """Every user of the organisation, by id."""
    return list(
        session.exec(
            select(User).where(User.organisation_id == organisation_id).order_by(col(User.id))
        ).all()
    )


def page_users(
    *, session: Session, organisation_id: int, limit: int, offset: int
) -> tuple[list[User], int]:
    """One page of the organisation's users, by id, and how many there are."""
    query = select(User).where(User.organisation_id == organisation_id)
    return paginate(session=session, query=query, order_by=col(User.id), limit=limit, offset=offset)


def get_user(*, session: Session, organisation_id: int | None, user_id: int) -> User | None:
    """A user of this organisation (any organisation when None: the operator's CLI), or None."""
    user = session.get(User, user_id)
    if user is None or organisation_id is not None and user.organisation_id != organisation_id:
        return None
    return user


def deactivate_user(
    *, session: Session, user: User, actor: str, actor_user_id: int | None = None
) -> int:
    """Deactivate a user: their keys stop, their sessions are cut; audited.

    Returns how many keys were revoked with it. Raises Conflict for yourself or a user that is
    already deactivated (compare-and-set, so two admins cannot both deactivate).
    """
    if user.id == actor_user_id:
        raise Conflict.one(
            ("path", "user_id"), "you cannot deactivate yourself", "user.self_deactivation"
        )
    now = utcnow()
    result = session.exec(
        update(User)
        .where(col(User.id) == user.id)
        .where(col(User.is_active).is_(True))
        .values(is_active=False, deactivated_at=now, sessions_valid_after=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict.one(
            ("path", "user_id"), "the user is already deactivated", "user.already_deactivated"
        )
    session.refresh(user)
    assert user.id is not None
    revoked = revoke_keys(session=session, user_id=user.id, now=now)
    end_sessions_of(session=session, user_id=user.id)
    record(
        session=session,
        actor=actor,
        action="user.deactivated",
        object_type="user",
        object_id=user.id,
        organisation_id=user.organisation_id,
        details={"keys_revoked": revoked},
    )
    return revoked


def page_keys(
    *, session: Session, user_id: int, limit: int, offset: int
) -> tuple[list[ApiKey], int]:
    """One page of a user's keys (revoked ones included), by id, and how many there are."""
    query = select(ApiKey).where(ApiKey.user_id == user_id)
    return paginate(
        session=session, query=query, order_by=col(ApiKey.id), limit=limit, offset=offset
    )


def get_key(
    *, session: Session, key_id: int, organisation_id: int | None, user_id: int | None = None
) -> tuple[ApiKey, User] | None:
    """A key and its user, when the key belongs to this organisation (and user), or None."""
    row = session.exec(
        select(ApiKey, User)
        .join(User, col(User.id) == ApiKey.user_id)
        .where(col(ApiKey.id) == key_id)
    ).first()
    if row is None:
        return None
    api_key, user = row
    if organisation_id is not None and user.organisation_id != organisation_id:
        return None
    if user_id is not None and api_key.user_id != user_id:
        return None
    return api_key, user


def revoke_key(
    *, session: Session, api_key: ApiKey, user: User, actor: str, key_in_use: int | None = None
) -> ApiKey:
    """Revoke one key at once; audited. Conflict when it is already revoked, or when it is
    ``key_in_use`` (the caller's own key: issue another first, so nobody locks themselves out).
    """
    if api_key.id == key_in_use:
        raise Conflict.one(
            ("path", "key_id"),
            "this request uses that key; issue yourself another key and revoke it with that one",
            "api_key.in_use",
        )
    result = session.exec(
        update(ApiKey)
        .where(col(ApiKey.id) == api_key.id)
        .where(col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict.one(("path", "key_id"), "the key is already revoked", "api_key.revoked")
    session.refresh(api_key)
    _audit_key(session, actor, "api_key.revoked", api_key, user)
    return api_key


def revoke_keys(*, session: Session, user_id: int, now: datetime | None = None) -> int:
    """Revoke every key of a user that is not revoked yet; returns how many."""
    result = session.exec(
        update(ApiKey)
        .where(col(ApiKey.user_id) == user_id)
        .where(col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)
