"""Logging: text or JSON lines, each with the request or job id, scrubbed of URLs and contacts.

A leaked URL, a victim's e-mail or phone number must never reach a log, not even inside an
exception message (httpx puts URLs in its errors; a database error may carry parameters). Every
record passes ``ScrubFilter`` on the handler, which rewrites the message and the formatted
traceback. Labels and names cannot be recognised by pattern: they are kept out at the source
(the engine hides SQL parameters, log calls pass ids only).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tracker_request_id", default=None
)
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tracker_job_id", default=None
)

# What a log line may never carry: URLs (with or without scheme), e-mail addresses, phone-like
# digit runs, and anything that looks like a bearer key.
_SCRUBBERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[a-z][a-z0-9+.-]{1,15}://[^\s'\"<>]+", re.IGNORECASE), "[url]"),
    (re.compile(r"\btk_[A-Za-z0-9_-]{8,}"), "[key]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"(?<![\w.])\+?\d[\d ().-]{7,}\d(?![\w.])"), "[number]"),
    (
        re.compile(
            r"\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,24})(?:/[^\s'\"<>]*)?",
            re.IGNORECASE,
        ),
        "[host]",
    ),
)
# Dotted names that are code, not hosts (module paths in tracebacks stay readable).
_CODE_NAMES = re.compile(
    r"^(?:tracker|workers|platform_adapters|sqlalchemy|httpx|httpcore|"
    r"celery|kombu|fastapi|starlette|uvicorn|pydantic|psycopg|redis|"
    r"asyncio|concurrent|logging|json|apscheduler|alembic|typing)\."
)
_CODE_SUFFIXES = (".py", ".pyc", ".so", ".eml", ".json", ".toml", ".txt", ".log", ".sqlite3")


def _scrub_host(match: re.Match[str]) -> str:
    text = match.group(0)
    if _CODE_NAMES.match(text) or text.endswith(_CODE_SUFFIXES) or "_" in text.split("/")[0]:
        return text
    return "[host]"


def scrub(text: str) -> str:
    """``text`` with URLs, hosts, e-mail addresses, phone numbers and keys replaced."""
    for pattern, replacement in _SCRUBBERS:
        text = pattern.sub(_scrub_host if replacement == "[host]" else replacement, text)
    return text


def format_exception_scrubbed(error: BaseException) -> str:
    """A traceback whose frames are kept and whose exception messages are scrubbed.

    Frames show our own code; the messages are where a URL or a parameter could hide.
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: traceback.TracebackException | None = traceback.TracebackException.from_exception(
        error
    )
    chain: list[traceback.TracebackException] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    for index, item in enumerate(reversed(chain)):
        if index:
            parts.append("\nDuring handling of the above, another exception occurred:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(item.stack.format())
        parts.append(scrub("".join(item.format_exception_only())))
    return "".join(parts).rstrip("\n")


class ScrubFilter(logging.Filter):
    """Rewrites each record's message and traceback through ``scrub``; adds request/job ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = format_exception_scrubbed(record.exc_info[1])
            record.exc_info = None
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        record.request_id = request_id_var.get()
        record.job_id = job_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, job_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "job_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, with ``[req=…]`` or ``[job=…]`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(
            f"{short}={value}"
            for short, value in (
                ("req", getattr(record, "request_id", None)),
                ("job", getattr(record, "job_id", None)),
            )
            if value
        )
        record.ids = f" [{ids}]" if ids else ""
        return super().format(record)


# httpx logs every request URL at INFO and uvicorn's access log prints paths and queries.
QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "apscheduler.executors.default",
    "apscheduler.scheduler",
    "alembic",
    "uvicorn.access",
)


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Install the one handler on the root logger (text or JSON), scrubbed, with ids."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ScrubFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s%(ids)s %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # uvicorn installs its own handlers; route its records through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def new_request_id(offered: str | None) -> str:
    """The caller's X-Request-ID when it is a plain token, else a fresh one."""
    return offered if offered and _REQUEST_ID.match(offered) else uuid.uuid4().hex


@contextmanager
def job_context(job_id: str | None) -> Iterator[None]:
    """Tag every log record inside with this job id."""
    token = job_id_var.set(job_id or uuid.uuid4().hex)
    try:
        yield
    finally:
        job_id_var.reset(token)
