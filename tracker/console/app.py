"""Installing the console into the FastAPI app: pages at ``/``, assets at ``/assets``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from tracker.console.context import CsrfRefused, NotAllowed, Redirect, language_of
from tracker.console.render import render
from tracker.console.security import SecurityHeadersMiddleware
from tracker.errors import Conflict, DomainError, Forbidden, NotFound
from tracker.organisations.throttle import failure_log_from_settings
from tracker.settings import get_settings

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
#: Paths that belong to the machines, not the console: errors there stay JSON.
MACHINE_PREFIXES = ("/api/", "/metrics", "/readyz", "/healthz", "/openapi.json", "/docs")

Handler = Callable[[Request, Exception], Awaitable[Response]]


def is_console_path(path: str) -> bool:
    """Whether a path is a console page (HTML errors) rather than a machine endpoint."""
    return path != "/api" and not path.startswith(MACHINE_PREFIXES)


def redirect(location: str, request: Request) -> Response:
    """A 303 to ``location``; for htmx, an ``HX-Redirect`` it follows as a whole page."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def error_page(request: Request, status_code: int, message: str | None = None) -> Response:
    """The console's calm error page for a status."""
    return render(
        request,
        "error.html",
        {"status_code": status_code, "message": message},
        language=language_of(request, None),
        status_code=status_code,
    )


async def _console_error(request: Request, error: Exception) -> Response:
    if isinstance(error, Redirect):
        return redirect(error.location, request)
    if isinstance(error, CsrfRefused):
        return error_page(request, 403, "csrf")
    if isinstance(error, NotAllowed | Forbidden):
        return error_page(request, 403)
    if isinstance(error, NotFound):
        return error_page(request, 404)
    if isinstance(error, Conflict):
        return error_page(request, 409, error.problems[0].msg if error.problems else None)
    if isinstance(error, DomainError):
        return error_page(request, 400, error.problems[0].msg if error.problems else None)
    if isinstance(error, RequestValidationError):
        # A path or query value no page can have (e.g. /reports/abc): nothing is there.
        return error_page(request, 404)
    status_code = getattr(error, "status_code", None)
    if isinstance(status_code, int) and 400 <= status_code < 500:
        # FastAPI's own validation of a path or query (e.g. /cases/abc) reads as "not found".
        return error_page(request, 404 if status_code == 422 else status_code)
    logger.error("console error %s", type(error).__name__, exc_info=error)
    return error_page(request, 500)


def _html_aware(handler: Handler) -> Handler:
    async def handle(request: Request, error: Exception) -> Response:
        if is_console_path(request.url.path):
            return await _console_error(request, error)
        return await handler(request, error)

    return handle


def install_console(app: FastAPI) -> None:
    """Serve the console from ``app``: pages, assets, headers, HTML errors."""
    from tracker.console.pages import routers

    app.state.sign_in_failures = failure_log_from_settings(get_settings())
    for router in routers():
        app.include_router(router, include_in_schema=False)
    app.mount("/assets", StaticFiles(directory=STATIC), name="console-assets")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon")

    existing: dict[Any, Handler] = dict(app.exception_handlers)
    for key, handler in existing.items():
        app.exception_handlers[key] = _html_aware(handler)
    for error_type in (Redirect, CsrfRefused, NotAllowed):
        app.exception_handlers[error_type] = _console_error
    app.add_middleware(SecurityHeadersMiddleware)
