"""ASGI middleware of the API: a request id on every request, a body size limit before reading.

Both are pure ASGI (no BaseHTTPMiddleware): they wrap ``receive``/``send`` and never buffer a body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracker.logs import new_request_id, request_id_var


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def send_envelope(
    send: Send,
    status_code: int,
    problem: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
) -> None:
    """Answer with one problem in the error envelope, straight on the ASGI channel."""
    body = json.dumps({"detail": [dict(problem)]}).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers.extend(
        (key.lower().encode(), value.encode()) for key, value in (headers or {}).items()
    )
    await send({"type": "http.response.start", "status": status_code, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class RequestIdMiddleware:
    """Tags the request (and every log line it causes) with an id, echoed as ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id(_header(scope, b"x-request-id"))
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class BodyTooLarge(StarletteHTTPException):
    """A body that streamed past the limit; FastAPI re-raises HTTP errors met while reading."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


class BodyLimitMiddleware:
    """Refuses a body over the limit with 413 before reading it (by Content-Length), and stops
    reading one that streams past the limit without announcing its length.

    ``limits_by_prefix`` raises the limit for paths that take uploads; everything else gets
    ``default_limit``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_limit: int,
        limits_by_prefix: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits_by_prefix = dict(limits_by_prefix or {})
        # A "*" in a prefix stands for one path segment (an id): "/api/v1/cases/*/evidence".
        self._patterns = {
            prefix: re.compile("[^/]+".join(re.escape(part) for part in prefix.split("*")))
            for prefix in self.limits_by_prefix
        }

    def limit_for(self, path: str) -> int:
        """The body limit of a path: the longest matching upload prefix, else the default."""
        matches = [prefix for prefix, pattern in self._patterns.items() if pattern.match(path)]
        return self.limits_by_prefix[max(matches, key=len)] if matches else self.default_limit

    async def _refuse(self, send: Send, limit: int) -> None:
        await send_envelope(
            send,
            413,
            {
                "loc": ["body"],
                "msg": f"the request body is larger than the limit of {limit} bytes",
                "type": "request.too_large",
            },
            {"Connection": "close"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await self._refuse(send, limit)
