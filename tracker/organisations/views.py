"""HTTP endpoints for the caller and the organisation's users."""

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from tracker.api.deps import AdminDep, PrincipalDep, SessionDep, SupervisorDep
from tracker.organisations.models import Role, User
from tracker.organisations.service import create_user, list_users

router = APIRouter(tags=["users"])


class UserPublic(BaseModel):
    id: int
    display_name: str
    role: Role
    is_active: bool


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=200)
    role: Role


class UserCreated(UserPublic):
    api_key: str = Field(description="Shown once; only its hash is stored.")


class Me(BaseModel):
    user_id: int
    organisation_id: int
    role: Role


def _public(user: User) -> UserPublic:
    assert user.id is not None
    return UserPublic(
        id=user.id, display_name=user.display_name, role=Role(user.role), is_active=user.is_active
    )


@router.get("/me", response_model=Me)
def me(principal: PrincipalDep) -> Me:
    """Who the API key belongs to."""
    return Me(
        user_id=principal.user_id, organisation_id=principal.organisation_id, role=principal.role
    )


@router.get("/users", response_model=list[UserPublic])
def list_(session: SessionDep, principal: SupervisorDep) -> list[UserPublic]:
    """The organisation's users (for assigning cases)."""
    return [
        _public(user)
        for user in list_users(session=session, organisation_id=principal.organisation_id)
    ]


@router.post("/users", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
def create(data: UserCreate, session: SessionDep, principal: AdminDep) -> UserCreated:
    """Add a user; the answer carries their API key once."""
    user, key = create_user(
        session=session,
        organisation_id=principal.organisation_id,
        display_name=data.display_name,
        role=data.role,
        actor=principal.actor,
    )
    session.commit()
    return UserCreated(**_public(user).model_dump(), api_key=key)
