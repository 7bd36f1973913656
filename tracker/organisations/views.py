"""HTTP endpoints for the caller, the organisation's users and their API keys."""

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from tracker.api.deps import CallerDep, IdPath, Limit, Offset, SessionDep, SupervisorDep
from tracker.api.pages import Page, page_of
from tracker.errors import NotFound
from tracker.organisations.models import ApiKey, Role, User
from tracker.organisations.service import (
    create_user,
    deactivate_user,
    get_key,
    get_user,
    new_key,
    page_keys,
    page_users,
    require_manager,
    revoke_key,
)
from tracker.text import OneLine

router = APIRouter(tags=["users"])


class UserPublic(BaseModel):
    id: int
    display_name: str
    role: Role
    is_active: bool
    created_at: datetime
    deactivated_at: datetime | None = Field(description="When the user was deactivated")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: OneLine = Field(min_length=1, max_length=200)
    role: Role


class UserCreated(UserPublic):
    api_key: str = Field(description="Shown once; only its hash is stored.")


class KeyPublic(BaseModel):
    """An API key as listed: never the key nor its hash."""

    id: int
    prefix: str = Field(description="The key's first characters, to recognise it")
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    api_key: str = Field(description="Shown once; only its hash is stored.")


class Me(BaseModel):
    user_id: int
    organisation_id: int
    role: Role


def _public(user: User) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


def _key_public(api_key: ApiKey) -> KeyPublic:
    return KeyPublic.model_validate(api_key, from_attributes=True)


def _user_or_404(session: SessionDep, organisation_id: int, user_id: int) -> User:
    user = get_user(session=session, organisation_id=organisation_id, user_id=user_id)
    if user is None:
        raise NotFound.one(("path", "user_id"), "user not found", "user.not_found")
    return user


@router.get("/me", response_model=Me)
def me(principal: CallerDep) -> Me:
    """Who the API key belongs to (every role, a metrics key included)."""
    return Me(
        user_id=principal.user_id, organisation_id=principal.organisation_id, role=principal.role
    )


@router.get("/users", response_model=Page[UserPublic])
def list_(
    session: SessionDep, principal: SupervisorDep, limit: Limit = 50, offset: Offset = 0
) -> Page[UserPublic]:
    """The organisation's users, deactivated ones included (for assigning cases)."""
    users, total = page_users(
        session=session, organisation_id=principal.organisation_id, limit=limit, offset=offset
    )
    return page_of([_public(user) for user in users], total=total, limit=limit, offset=offset)


@router.post("/users", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
def create(data: UserCreate, session: SessionDep, principal: SupervisorDep) -> UserCreated:
    """Add a user; the answer carries their API key once. Supervisors add caseworkers; an
    admin adds any role."""
    require_manager(principal, data.role, ("body", "role"))
    user, key = create_user(
        session=session,
        organisation_id=principal.organisation_id,
        display_name=data.display_name,
        role=data.role,
        actor=principal.actor,
    )
    session.commit()
    return UserCreated(**_public(user).model_dump(), api_key=key)


@router.get("/users/{user_id}", response_model=UserPublic)
def read(user_id: IdPath, session: SessionDep, principal: SupervisorDep) -> UserPublic:
    """One user of the organisation."""
    return _public(_user_or_404(session, principal.organisation_id, user_id))


@router.post("/users/{user_id}/deactivate", response_model=UserPublic)
def deactivate(user_id: IdPath, session: SessionDep, principal: SupervisorDep) -> UserPublic:
    """Deactivate a user: every key of theirs is revoked and stops at once, every console
    session ends; audited. Supervisors deactivate caseworkers; an admin, any role."""
    user = _user_or_404(session, principal.organisation_id, user_id)
    require_manager(principal, user.role, ("path", "user_id"))
    deactivate_user(
        session=session, user=user, actor=principal.actor, actor_user_id=principal.user_id
    )
    session.commit()
    return _public(user)


@router.get("/users/{user_id}/keys", response_model=Page[KeyPublic])
def list_keys(
    user_id: IdPath,
    session: SessionDep,
    principal: SupervisorDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[KeyPublic]:
    """A user's API keys, revoked ones included (never the key or its hash)."""
    user = _user_or_404(session, principal.organisation_id, user_id)
    require_manager(principal, user.role, ("path", "user_id"))
    keys, total = page_keys(session=session, user_id=user_id, limit=limit, offset=offset)
    return page_of([_key_public(key) for key in keys], total=total, limit=limit, offset=offset)


@router.post(
    "/users/{user_id}/keys", response_model=KeyCreated, status_code=status.HTTP_201_CREATED
)
def create_key(user_id: IdPath, session: SessionDep, principal: SupervisorDep) -> KeyCreated:
    """Issue another key to a user, shown once; their older keys keep working until revoked."""
    user = _user_or_404(session, principal.organisation_id, user_id)
    require_manager(principal, user.role, ("path", "user_id"))
    api_key, key = new_key(session=session, user=user, actor=principal.actor)
    session.commit()
    return KeyCreated(**_key_public(api_key).model_dump(), api_key=key)


@router.post("/users/{user_id}/keys/{key_id}/revoke", response_model=KeyPublic)
def revoke(
    user_id: IdPath, key_id: IdPath, session: SessionDep, principal: SupervisorDep
) -> KeyPublic:
    """Revoke one key of a user; it stops at once. Audited."""
    found = get_key(
        session=session, key_id=key_id, organisation_id=principal.organisation_id, user_id=user_id
    )
    if found is None:
        raise NotFound.one(("path", "key_id"), "API key not found", "api_key.not_found")
    api_key, user = found
    require_manager(principal, user.role, ("path", "user_id"))
    revoke_key(
        session=session,
        api_key=api_key,
        user=user,
        actor=principal.actor,
        key_in_use=principal.key_id,
    )
    session.commit()
    return _key_public(api_key)
