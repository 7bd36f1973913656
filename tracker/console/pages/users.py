"""The organisation's users: supervisors and admins list them and manage the ones they may.

The rules are the API's (tracker/organisations/views.py, ``may_manage``): a supervisor adds,
deactivates, re-keys and resets caseworkers; an admin, every role. A new password or API key
is shown once, on the answer to the POST itself (never in a URL or after a redirect), and the
page is not kept by the browser (``render`` sets ``Cache-Control: no-store``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from pydantic import ValidationError

from tracker.api.deps import IdPath, Offset, SessionDep
from tracker.console.app import redirect
from tracker.console.context import Console, SupervisorConsoleDep, check_csrf
from tracker.console.i18n import N_, translations
from tracker.console.render import render
from tracker.errors import Conflict, DomainError, NotFound
from tracker.organisations.models import Role, User
from tracker.organisations.passwords import CONSOLE_ROLES
from tracker.organisations.service import (
    create_user,
    deactivate_user,
    get_user,
    give_console_access,
    login_from_name,
    may_manage,
    new_key,
    page_keys,
    page_users,
    require_manager,
    reset_password,
)
from tracker.organisations.views import UserCreate

router = APIRouter()
CsrfChecked = Depends(check_csrf)
PAGE_SIZE = 50

#: What a refused change means, by the service's error type.
REFUSALS = {
    "user.self_deactivation": N_("You cannot deactivate yourself."),
    "user.already_deactivated": N_("This user is already deactivated."),
    "user.deactivated": N_("This user is deactivated."),
    "user.login_taken": N_("This sign-in name is taken. Choose another."),
    "user.login_invalid": N_(
        "A sign-in name has 2 to 64 lowercase letters, digits, dots, hyphens or underscores."
    ),
    "user.login_missing": N_("Choose a sign-in name."),
    "user.no_console": N_("Only caseworkers, supervisors and admins sign in to the console."),
}
NAME_PROBLEMS = {
    "string_too_long": N_("At most 200 characters."),
    "missing": N_("Give a name."),
    "string_too_short": N_("Give a name."),
}
DONE = {"deactivated": N_("The user is deactivated. Their keys and sessions stopped at once.")}


def _refusal(console: Console, error: DomainError) -> str:
    gettext = translations(console.language).gettext
    code = error.problems[0].type if error.problems else ""
    return gettext(REFUSALS.get(code, N_("That cannot be done now.")))


def _list_page(
    request: Request,
    session: SessionDep,
    console: Console,
    *,
    offset: int = 0,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    users, total = page_users(
        session=session,
        organisation_id=console.principal.organisation_id,
        limit=PAGE_SIZE,
        offset=offset,
    )
    return render(
        request,
        "users/list.html",
        {
            "users": users,
            "total": total,
            "offset": offset,
            "limit": PAGE_SIZE,
            "roles": [role.value for role in Role if may_manage(console.principal, role)],
            "console_roles": [role.value for role in CONSOLE_ROLES],
            "form": form or {"display_name": "", "login": "", "role": Role.CASEWORKER.value},
            "errors": errors or {},
        },
        console=console,
        status_code=status_code,
    )


@router.get("/users")
def users(
    request: Request, session: SessionDep, console: SupervisorConsoleDep, offset: Offset = 0
) -> Response:
    """The organisation's users, deactivated ones included; admins also get the form to add one."""
    return _list_page(request, session, console, offset=offset)


@router.get("/users/login-suggestion")
def login_suggestion(
    request: Request,
    console: SupervisorConsoleDep,
    display_name: Annotated[str, Query(max_length=200)] = "",
    login: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The sign-in name field, filled from the display name unless one was typed (htmx)."""
    value = login.strip() or login_from_name(display_name) or ""
    return render(
        request,
        "users/login_field.html",
        {"form": {"login": value}, "errors": {}},
        console=console,
    )


def _create_problems(
    console: Console, display_name: str, role: str, login: str
) -> tuple[dict[str, str], UserCreate | None]:
    gettext = translations(console.language).gettext
    errors: dict[str, str] = {}
    try:
        # The API's own validation of a new user.
        data = UserCreate.model_validate({"display_name": display_name, "role": role})
    except ValidationError as error:
        for problem in error.errors():
            field = str(problem["loc"][0])
            if field == "role":
                errors["role"] = gettext(N_("Choose a role."))
            else:
                errors["display_name"] = gettext(
                    NAME_PROBLEMS.get(problem["type"], N_("One line, without special characters."))
                )
        return errors, None
    if data.role in CONSOLE_ROLES and not (login.strip() or login_from_name(data.display_name)):
        errors["login"] = gettext(REFUSALS["user.login_missing"])
    return errors, data


@router.post("/users", dependencies=[CsrfChecked])
def create(
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
    login: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Add a user; the answer (201) shows their one-time password and API key, once."""
    form = {"display_name": display_name, "role": role, "login": login}
    errors, data = _create_problems(console, display_name, role, login)
    if data is None or errors:
        return _list_page(request, session, console, form=form, errors=errors, status_code=400)
    require_manager(console.principal, data.role, ("body", "role"))
    try:
        user, key = create_user(
            session=session,
            organisation_id=console.principal.organisation_id,
            display_name=data.display_name,
            role=data.role,
            actor=console.principal.actor,
        )
        password = None
        if data.role in CONSOLE_ROLES:
            chosen = login.strip() or login_from_name(data.display_name) or ""
            password = give_console_access(
                session=session, user=user, login=chosen, actor=console.principal.actor
            )
    except DomainError as error:
        session.rollback()  # nothing of the half-made user stays
        field = str(error.problems[0].loc[-1]) if error.problems else "login"
        return _list_page(
            request,
            session,
            console,
            form=form,
            errors={field if field in form else "login": _refusal(console, error)},
            status_code=409 if isinstance(error, Conflict) else 400,
        )
    session.commit()
    return _secret_page(request, console, user, created=True, password=password, api_key=key)


def _secret_page(
    request: Request,
    console: Console,
    user: User,
    *,
    created: bool = False,
    password: str | None = None,
    api_key: str | None = None,
) -> Response:
    return render(
        request,
        "users/secret.html",
        {"user": user, "created": created, "password": password, "api_key": api_key},
        console=console,
        status_code=201 if created or api_key else 200,
    )


def _user(session: SessionDep, console: Console, user_id: int) -> User:
    user = get_user(
        session=session, organisation_id=console.principal.organisation_id, user_id=user_id
    )
    if user is None:
        raise NotFound.one(("path", "user_id"), "user not found", "user.not_found")
    return user


def _user_page(
    request: Request,
    session: SessionDep,
    console: Console,
    user: User,
    *,
    done: str | None = None,
    refusal: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "user": user,
        "is_person": Role(user.role) in CONSOLE_ROLES,
        "is_self": user.id == console.user.id,
        "suggested_login": login_from_name(user.display_name) or "",
        "done": translations(console.language).gettext(DONE[done]) if done in DONE else None,
        "refusal": refusal,
        "errors": errors or {},
        "keys": [],
        "can_manage": may_manage(console.principal, user.role),
    }
    if context["can_manage"]:  # the API lists keys to whoever manages the user
        assert user.id is not None
        context["keys"], _ = page_keys(session=session, user_id=user.id, limit=200, offset=0)
    return render(request, "users/detail.html", context, console=console, status_code=status_code)


@router.get("/users/{user_id}")
def user_page(
    user_id: IdPath,
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """One user: their facts; for admins, their keys and what can be done."""
    return _user_page(request, session, console, _user(session, console, user_id), done=done)


@router.post("/users/{user_id}/deactivate", dependencies=[CsrfChecked])
def deactivate(
    user_id: IdPath,
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Deactivate a user once confirmed: their keys stop and their sessions end at once."""
    user = _user(session, console, user_id)
    require_manager(console.principal, user.role, ("path", "user_id"))
    if confirm != "yes":
        gettext = translations(console.language).gettext
        errors = {"confirm": gettext(N_("Tick the box to confirm."))}
        return _user_page(request, session, console, user, errors=errors, status_code=400)
    try:
        deactivate_user(
            session=session,
            user=user,
            actor=console.principal.actor,
            actor_user_id=console.principal.user_id,
        )
    except Conflict as error:
        session.rollback()
        user = _user(session, console, user_id)
        return _user_page(
            request, session, console, user, refusal=_refusal(console, error), status_code=409
        )
    session.commit()
    return redirect(f"/users/{user_id}?done=deactivated", request)


@router.post("/users/{user_id}/keys", dependencies=[CsrfChecked])
def issue_key(
    user_id: IdPath, request: Request, session: SessionDep, console: SupervisorConsoleDep
) -> Response:
    """Issue another API key (201, shown once); the user's older keys keep working."""
    user = _user(session, console, user_id)
    require_manager(console.principal, user.role, ("path", "user_id"))
    try:
        _, key = new_key(session=session, user=user, actor=console.principal.actor)
    except Conflict as error:
        session.rollback()
        return _user_page(
            request, session, console, user, refusal=_refusal(console, error), status_code=409
        )
    session.commit()
    return _secret_page(request, console, user, api_key=key)


@router.post("/users/{user_id}/password", dependencies=[CsrfChecked])
def one_time_password(
    user_id: IdPath,
    request: Request,
    session: SessionDep,
    console: SupervisorConsoleDep,
    login: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A new one-time password (shown once); the user's console sessions end at once."""
    user = _user(session, console, user_id)
    require_manager(console.principal, user.role, ("path", "user_id"))
    try:
        password = reset_password(
            session=session, user=user, actor=console.principal.actor, login=login.strip() or None
        )
    except DomainError as error:
        session.rollback()
        user = _user(session, console, user_id)
        refusal = _refusal(console, error)
        return _user_page(
            request,
            session,
            console,
            user,
            refusal=refusal,
            errors={"login": refusal} if user.login is None else None,
            status_code=409 if isinstance(error, Conflict) else 400,
        )
    session.commit()
    return _secret_page(request, console, user, password=password)
