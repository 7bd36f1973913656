"""Request dependencies: a database session, the authenticated principal, role checks."""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from tracker.api.auth import principal_of
from tracker.db import Database
from tracker.ids import MAX_OFFSET, MAX_ROW_ID
from tracker.organisations.models import Role
from tracker.organisations.service import Principal

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


def get_caller(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Whoever the authentication middleware admitted (any role); 401 otherwise.

    The middleware (tracker/api/auth.py) checked the key before the body was read; this only
    reads its result. ``bearer`` is declared so that OpenAPI documents the scheme.
    """
    principal = principal_of(request.scope)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "an API key is required", {"WWW-Authenticate": "Bearer"}
        )
    return principal


CallerDep = Annotated[Principal, Depends(get_caller)]


def get_principal(caller: CallerDep) -> Principal:
    """The caller of an endpoint that serves organisation data: a metrics key may not."""
    if caller.role is Role.METRICS:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "a metrics key may read only /readyz, /metrics and /me"
        )
    return caller


# Read by the OpenAPI contract (tracker/api/contract.py) to document the 403.
get_principal.allowed_roles = tuple(  # type: ignore[attr-defined]
    role for role in Role if role is not Role.METRICS
)
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_optional_caller(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    """The admitted caller where a key is optional (/readyz), or None."""
    return principal_of(request.scope)


OptionalCallerDep = Annotated[Principal | None, Depends(get_optional_caller)]


def get_operations_reader(caller: CallerDep) -> Principal:
    """A caller who may read readiness detail and metrics (admin or metrics); 403 otherwise."""
    if not caller.reads_operations:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this needs one of the roles: admin, metrics"
        )
    return caller


get_operations_reader.allowed_roles = (Role.ADMIN, Role.METRICS)  # type: ignore[attr-defined]
OperationsDep = Annotated[Principal, Depends(get_operations_reader)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that admits only the given roles (403 for the rest)."""

    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs one of the roles: {', '.join(role.value for role in roles)}",
            )
        return principal

    check.allowed_roles = roles  # type: ignore[attr-defined]  # read by the OpenAPI contract
    return check


CASE_ROLES = (Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)
CaseworkerDep = Annotated[Principal, Depends(require_roles(*CASE_ROLES))]
SupervisorDep = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN))]
AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMIN))]

Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")]
# Ids in paths are bounded like the column they name: a larger one is a 422, not a 500.
IdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The object's id")]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)]
#: Aggregate figures of the whole organisation: dashboards, and the people who see every case.
DashboardDep = Annotated[
    Principal, Depends(require_roles(Role.DASHBOARD, Role.SUPERVISOR, Role.ADMIN))
]
