"""Refuse control characters in any path, query or JSON body value before a handler runs.

A NUL byte reaches PostgreSQL as an error (a 500) and a lone surrogate cannot be encoded; both
are refused here, at the root, with a 422 naming where they were, whatever the endpoint. Tab
and line breaks stay allowed inside body strings (notes); one-line fields refuse them by type.

A body of more values than any request has (``MAX_BODY_VALUES``) is refused here too, before
validation would build an error for each of them (60,000 unknown keys cost half a second).

The largest requests are intakes of up to ``MAX_URLS`` URLs: their route may hold more values
(``MAX_INTAKE_BODY_VALUES``) and their paths have their own body limit (``intake_body_limits``);
every other route keeps ``MAX_BODY_VALUES`` and ``request_body_limit_bytes``.
"""

import json
import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from tracker.reports.schemas import MAX_URLS
from tracker.settings import Settings
from tracker.text import forbidden_character

MAX_REPORTED = 20
#: No request but an intake needs more values than this.
MAX_BODY_VALUES = 2000
#: An intake of MAX_URLS URLs, its options and room to spare.
MAX_INTAKE_BODY_VALUES = MAX_URLS + 100
_INTAKE_PATH = re.compile(r"/api/v1/cases/[^/]+/reports")


def intake_body_limits(settings: Settings) -> dict[str, int]:
    """Body limits of the intake paths (API and console forms), for BodyLimitMiddleware."""
    limit = settings.intake_body_limit_bytes
    return {"/api/v1/cases/*/reports": limit, "/cases/*/urls": limit}


class _TooManyValues(Exception):
    pass


def _walk(
    value: Any, loc: list[str | int], problems: list[dict[str, Any]], seen: list[int], limit: int
) -> None:
    seen[0] += 1
    if seen[0] > limit:
        raise _TooManyValues
    if len(problems) >= MAX_REPORTED:
        return
    if isinstance(value, str):
        if forbidden_character(value, multiline=True) is not None:
            problems.append(_problem(loc))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, [*loc, index], problems, seen, limit)
    elif isinstance(value, dict):
        for key, item in value.items():
            if forbidden_character(key, multiline=False) is not None:
                problems.append(_problem(loc))
            else:
                _walk(item, [*loc, key], problems, seen, limit)


def _problem(loc: list[str | int]) -> dict[str, Any]:
    return {
        "loc": loc,
        "msg": "control characters (such as NUL) are not allowed here",
        "type": "value_error.control_character",
    }


async def screen_input(request: Request) -> None:
    """A dependency of every API route: 422 for a control character anywhere in the input, or a
    body of more values than any request has."""
    problems: list[dict[str, Any]] = []
    for name, value in request.path_params.items():
        if isinstance(value, str) and forbidden_character(value, multiline=False) is not None:
            problems.append(_problem(["path", name]))
    for name, value in request.query_params.multi_items():
        if forbidden_character(name, multiline=False) is not None:
            problems.append(_problem(["query"]))
        elif forbidden_character(value, multiline=False) is not None:
            problems.append(_problem(["query", name]))
    # Media types are case-insensitive (FastAPI parses "application/JSON" as JSON too).
    if (
        request.method in ("POST", "PUT", "PATCH")
        and "json" in request.headers.get("content-type", "").lower()
    ):
        body = await request.body()  # already read (and bounded) by FastAPI; cached
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None  # FastAPI answers malformed JSON itself
        limit = (
            MAX_INTAKE_BODY_VALUES if _INTAKE_PATH.fullmatch(request.url.path) else MAX_BODY_VALUES
        )
        try:
            _walk(data, ["body"], problems, [0], limit)
        except _TooManyValues:
            problems = [
                {
                    "loc": ["body"],
                    "msg": f"the body holds more than {limit} values",
                    "type": "value_error.too_many_values",
                }
            ]
    if problems:
        raise RequestValidationError(problems[:MAX_REPORTED])
