"""Request dependencies: a database session, the authenticated principal, role checks."""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from tracker.db import Database
from tracker.organisations.models import Role
from tracker.organisations.service import Principal, authenticate

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer tk_…`")


def get_database(request: Request) -> Database:
    """The application's database."""
    return request.app.state.database  # type: ignore[no-any-return]


def get_session(database: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    """A session per request; views commit explicitly, anything else rolls back."""
    session = database.session()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller behind the bearer API key; 401 otherwise."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is required", challenge)
    principal = authenticate(session=session, key=credentials.credentials)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "the API key is not valid", challenge)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that admits only the given roles (403 for the rest)."""

    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs one of the roles: {', '.join(role.value for role in roles)}",
            )
        return principal

    return check


CASE_ROLES = (Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)
CaseworkerDep = Annotated[Principal, Depends(require_roles(*CASE_ROLES))]
SupervisorDep = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN))]
AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMIN))]

Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Offset = Annotated[int, Query(ge=0, description="Items to skip")]
