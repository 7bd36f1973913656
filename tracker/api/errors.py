"""The one error envelope, for every error: FastAPI's own 422 shape.

``{"detail": [{"loc": [...], "msg": "...", "type": "report.not_found"}]}``. Inputs are never
echoed back (a rejected field may hold a victim's contact), and a 500 says nothing of why.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tracker.api.contract import allowed_methods
from tracker.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from tracker.reports.lifecycle import InvalidTransition
from tracker.reports.transitions import StaleState

logger = logging.getLogger(__name__)

#: An error answer lists at most this many problems (a body of 800,000 bad keys is one answer).
MAX_PROBLEMS = 20

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Forbidden: status.HTTP_403_FORBIDDEN,
    Conflict: status.HTTP_409_CONFLICT,
    Invalid: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


def envelope(
    status_code: int, problems: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON error response in the one envelope, at most ``MAX_PROBLEMS`` problems long."""
    return JSONResponse(
        status_code=status_code, content={"detail": problems[:MAX_PROBLEMS]}, headers=headers
    )


def problem(loc: list[Any], msg: str, type_: str) -> dict[str, Any]:
    """One entry of the envelope."""
    return {"loc": loc, "msg": msg, "type": type_}


async def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    status_code = next(
        (code for kind, code in STATUS_BY_ERROR.items() if isinstance(error, kind)), 400
    )
    return envelope(
        status_code, [problem(list(item.loc), item.msg, item.type) for item in error.problems]
    )


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        problem(
            list(item.get("loc", [])),
            str(item.get("msg", "invalid")),
            str(item.get("type", "value_error")),
        )
        for item in error.errors()[:MAX_PROBLEMS]
    ]
    return envelope(status.HTTP_422_UNPROCESSABLE_CONTENT, problems)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers) if error.headers else {}
    if error.status_code == 405:
        # Starlette names only the first route that matched the path; list them all.
        allowed = allowed_methods(request.app, request.url.path)
        if allowed:
            headers["Allow"] = ", ".join(sorted(allowed))
    type_ = {
        401: "auth.unauthenticated",
        403: "auth.forbidden",
        404: "http.not_found",
        400: "request.unreadable_body",
        405: "http.method_not_allowed",
        413: "request.too_large",
        429: "auth.throttled",
    }.get(error.status_code, f"http.{error.status_code}")
    loc = {400: ["body"], 401: ["header", "authorization"], 413: ["body"]}.get(
        error.status_code, []
    )
    return envelope(
        error.status_code,
        [problem(loc, str(error.detail), type_)],
        headers=headers or None,
    )


async def _conflict(_: Request, error: Exception) -> JSONResponse:
    logger.info("request conflicted with concurrent work: %s", type(error).__name__)
    return envelope(
        status.HTTP_409_CONFLICT,
        [
            problem(
                [],
                "the object changed while this request ran; read it again and retry",
                "conflict.concurrent_change",
            )
        ],
    )


async def _database_unavailable(_: Request, error: Exception) -> JSONResponse:
    logger.warning("database unavailable: %s", type(error).__name__)
    return envelope(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        [problem([], "the database is unavailable; retry shortly", "service.unavailable")],
        headers={"Retry-After": "5"},
    )


async def _unexpected(_: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=error)
    return envelope(
        status.HTTP_500_INTERNAL_SERVER_ERROR,
        [problem([], "internal error; it has been logged", "internal_error")],
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the one envelope."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _conflict)
    app.add_exception_handler(StaleState, _conflict)
    app.add_exception_handler(InvalidTransition, _conflict)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
