"""Refuse control characters in any path, query or JSON body value before a handler runs.

A NUL byte reaches PostgreSQL as an error (a 500) and a lone surrogate cannot be encoded; both
are refused here, at the root, with a 422 naming where they were, whatever the endpoint. Tab
and line breaks stay allowed inside body strings (notes); one-line fields refuse them by type.
"""

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from tracker.text import forbidden_character

MAX_REPORTED = 20


def _walk(value: Any, loc: list[str | int], problems: list[dict[str, Any]]) -> None:
    if len(problems) >= MAX_REPORTED:
        return
    if isinstance(value, str):
        if forbidden_character(value, multiline=True) is not None:
            problems.append(_problem(loc))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, [*loc, index], problems)
    elif isinstance(value, dict):
        for key, item in value.items():
            if forbidden_character(key, multiline=False) is not None:
                problems.append(_problem(loc))
            else:
                _walk(item, [*loc, key], problems)


def _problem(loc: list[str | int]) -> dict[str, Any]:
    return {
        "loc": loc,
        "msg": "control characters (such as NUL) are not allowed here",
        "type": "value_error.control_character",
    }


async def reject_control_characters(request: Request) -> None:
    """A dependency of every API route: 422 when any input value holds a control character."""
    problems: list[dict[str, Any]] = []
    for name, value in request.path_params.items():
        if isinstance(value, str) and forbidden_character(value, multiline=False) is not None:
            problems.append(_problem(["path", name]))
    for name, value in request.query_params.multi_items():
        if forbidden_character(name, multiline=False) is not None:
            problems.append(_problem(["query"]))
        elif forbidden_character(value, multiline=False) is not None:
            problems.append(_problem(["query", name]))
    if request.method in ("POST", "PUT", "PATCH") and "json" in request.headers.get(
        "content-type", ""
    ):
        body = await request.body()  # already read (and bounded) by FastAPI; cached
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None  # FastAPI answers malformed JSON itself
        _walk(data, ["body"], problems)
    if problems:
        raise RequestValidationError(problems[:MAX_REPORTED])
