"""Refuse control characters in any path, query or JSON body value before a handler runs.

A NUL byte reaches PostgreSQL as an error (a 500) and a lone surrogate cannot be encoded; both
are refused here, at the root, with a 422 naming where they were, whatever the endpoint. Tab
and line breaks stay allowed inside body strings (notes); one-line fields refuse them by type.

A body of more values than any request has (``MAX_BODY_VALUES``) is refused here too, before
validation would build an error for each of them (60,000 unknown keys cost half a second).
"""

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from tracker.text import forbidden_character

MAX_REPORTED = 20
#: The largest request is 500 URLs; nothing needs more values than this.
MAX_BODY_VALUES = 2000


class _TooManyValues(Exception):
    pass


def _walk(
    value: Any, loc: list[str | int], problems: list[dict[str, Any]], seen: list[int]
) -> None:
    seen[0] += 1
    if seen[0] > MAX_BODY_VALUES:
        raise _TooManyValues
    if len(problems) >= MAX_REPORTED:
        return
    if isinstance(value, str):
        if forbidden_character(value, multiline=True) is not None:
            problems.append(_problem(loc))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, [*loc, index], problems, seen)
    elif isinstance(value, dict):
        for key, item in value.items():
            if forbidden_character(key, multiline=False) is not None:
                problems.append(_problem(loc))
            else:
                _walk(item, [*loc, key], problems, seen)


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
    if request.method in ("POST", "PUT", "PATCH") and "json" in request.headers.get(
        "content-type", ""
    ).lower():
        body = await request.body()  # already read (and bounded) by FastAPI; cached
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None  # FastAPI answers malformed JSON itself
        try:
            _walk(data, ["body"], problems, [0])
        except _TooManyValues:
            problems = [
                {
                    "loc": ["body"],
                    "msg": f"the body holds more than {MAX_BODY_VALUES} values",
                    "type": "value_error.too_many_values",
                }
            ]
    if problems:
        raise RequestValidationError(problems[:MAX_REPORTED])
