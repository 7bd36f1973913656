"""Logging: text or JSON lines, each with the request or job id, scrubbed of URLs and contacts.

A leaked URL, a victim's e-mail or phone number must never reach a log, not even inside an
exception message (httpx puts URLs in its errors; a database error may carry parameters). Every
record passes ``ScrubFilter`` on the handler, which rewrites the message and the formatted
traceback. Labels and names cannot be recognised by pattern: they are kept out at the source
(the engine hides SQL parameters, log calls pass ids only).
"""

from __future__ import annotations

import contextvars
import ipaddress
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

# What a log line may never carry: URLs (any scheme), keys, e-mail addresses, IP addresses,
# phone-like digit runs, and host names (Unicode ones too). There is no exemption for names
# that look like code: a host may be called anything, and exception types are printed apart
# from their (scrubbed) messages. Only a name right after "/" is left, as part of a file path.
_SCRUBBERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[a-z][a-z0-9+.-]{1,15}://[^\s'\"<>]+", re.IGNORECASE), "[url]"),
    (re.compile(r"\btk_[A-Za-z0-9_-]{8,}"), "[key]"),
    (re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}"), "[email]"),
    (re.compile(r"(?<![\w.:])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"), "[ip]"),
    (re.compile(r"(?<![\w.])\+?\d[\d ().-]{7,}\d(?![\w.])"), "[number]"),
    (
        re.compile(r"(?<![\w./-])(?:[\w-]{1,63}\.)+[^\W\d_]{2,24}(?![\w-])(?:/[^\s'\"<>]*)?"),
        "[host]",
    ),
)


# IPv6 candidates (with an optional zone or an embedded IPv4 tail), confirmed by the parser,
# so a time such as 19:03:02 is left alone.
_IPV6_CANDIDATE = re.compile(r"(?<![\w:])[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(?:%\w+)?")


def _ipv6(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv6Address(match.group(0).split("%")[0])
    except ValueError:
        return match.group(0)
    return "[ip]"


def scrub(text: str) -> str:
    """``text`` with URLs, hosts, e-mail and IP addresses, phone numbers and keys replaced."""
    text = _IPV6_CANDIDATE.sub(_ipv6, text)
    for pattern, replacement in _SCRUBBERS:
        text = pattern.sub(replacement, text)
    return text


def _exception_line(item: traceback.TracebackException) -> str:
    """``module.Type: message``, the type as it is and only the message scrubbed."""
    kind = item.exc_type
    name = "<unknown>" if kind is None else kind.__qualname__
    module = "" if kind is None or kind.__module__ == "builtins" else f"{kind.__module__}."
    message = str(item)
    return f"{module}{name}: {scrub(message)}\n" if message else f"{module}{name}\n"


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
        parts.append(_exception_line(item))
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
