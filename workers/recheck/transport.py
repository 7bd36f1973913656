"""A fast HTTP/1.1 transport for httpx: asyncio protocols, the httptools C parser, keep-alive.

Why not httpcore (httpx's default): on this workload it spends ~5.8 ms CPU per request. Most of
it is ``httpcore._synchronization.current_async_library`` retrying a failing ``import sniffio``
(anyio 4.16 no longer installs it) for every lock it creates, and the connection pool rescanning
every connection for every queued request, with a ``poll`` system call per idle connection
(``has_expired``). See BENCHMARKS.md. This transport keeps a LIFO stack of idle connections per
(scheme, address, port, server name) and parses with httptools; a whole check (the engine calling
this through the guard and the politeness gate) costs about 0.23 ms of CPU instead of 5.8 ms
(BENCHMARKS.md).

The transport can be *pinned*: ``send_pinned`` connects to an address the guard has checked while
the request keeps its URL, ``Host`` header and (for https) TLS server name.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx

#: Pause reading from a socket while this many body bytes wait for the reader.
HIGH_WATER_BYTES = 256 * 1024
#: Idle connections kept per destination; more are closed when they come back.
DEFAULT_KEEPALIVE_PER_DESTINATION = 64

Destination = tuple[str, str, int, str | None]  # scheme, connect host, port, TLS server name


def create_ssl_context(verify: ssl.SSLContext | bool | str = True) -> ssl.SSLContext:
    """The TLS context for ``verify`` as httpx understands it (context, bool, or CA bundle).

    Built once per process for each ``verify`` value: loading the CA bundle costs milliseconds,
    and a context is safe to share between connections.
    """
    if isinstance(verify, ssl.SSLContext):
        return verify
    return _shared_context(verify)


@functools.lru_cache(maxsize=8)
def _shared_context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: sends a request, parses the response with httptools."""

    def __init__(self, pool: FastTransport, destination: Destination) -> None:
        self.pool = pool
        self.destination = destination
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.is_closed = False
        self.is_reading_paused = False
        self.requests_sent = 0
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.status_code = 0
        self.headers_future: asyncio.Future[None] = self.loop.create_future()
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.body_waiter: asyncio.Future[None] | None = None
        self.is_message_complete = False
        self.received_any = False
        self.error: BaseException | None = None
        self.is_keep_alive = False

    # asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("unexpected protocol upgrade"))
        except httptools.HttpParserError as error:
            self._fail(httpx.RemoteProtocolError(f"malformed response: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.is_closed = True
        if self.headers_future.done() and not self.is_message_complete and self.error is None:
            # A body without length or chunking ends when the server closes the connection.
            if self._is_close_delimited():
                self.is_message_complete = True
                self.is_keep_alive = False
                self._wake_body()
                return
        if not self.is_message_complete:
            message = "server closed the connection" + (f": {exc}" if exc else "")
            self._fail(httpx.ReadError(message) if self.received_any else _NoResponse(message))

    def pause_writing(self) -> None:  # pragma: no cover - requests here are small
        pass

    def resume_writing(self) -> None:  # pragma: no cover
        pass

    # httptools callbacks -------------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status_code = self.parser.get_status_code()
        if self.status_code < 200:  # 1xx: an interim response; the real one follows.
            self.headers = []
            return
        if not self.headers_future.done():
            self.headers_future.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER_BYTES and self.transport is not None:
            self.transport.pause_reading()
            self.is_reading_paused = True
        self._wake_body()

    def on_message_complete(self) -> None:
        if self.status_code < 200:
            return
        self.is_keep_alive = self.parser.should_keep_alive()
        self.is_message_complete = True
        self._wake_body()

    # internals ---------------------------------------------------------------------------------

    def _is_close_delimited(self) -> bool:
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        if not self.headers_future.done():
            self.headers_future.set_exception(error)
            self.headers_future.exception()  # mark retrieved: the sender may have given up
        self._wake_body()
        self.close()

    def _wake_body(self) -> None:
        waiter = self.body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Close the socket now; the connection is never reused."""
        self.is_closed = True
        if self.transport is not None:
            self.transport.close()

    async def send(self, request: httpx.Request, timeouts: dict[str, float | None]) -> None:
        """Write the request and wait for the response headers."""
        self.requests_sent += 1
        assert self.transport is not None
        head = _request_head(request)
        body = await _request_body(request)
        self.transport.write(head + body if body else head)
        read_timeout = timeouts.get("read")
        if not self.headers_future.done():
            await _wait(self.headers_future, read_timeout, self.loop)

    async def body_chunks(
        self, read_timeout: float | None, stream: _ResponseStream | None = None
    ) -> AsyncIterator[bytes]:
        """The response body as it arrives; ``stream`` is closed once the body is complete."""
        while True:
            while self.chunks:
                chunk = self.chunks.popleft()
                self.buffered -= len(chunk)
                if self.is_reading_paused and self.buffered < HIGH_WATER_BYTES // 2:
                    self.is_reading_paused = False
                    if self.transport is not None and not self.is_closed:
                        self.transport.resume_reading()
                yield chunk
            if self.is_message_complete:
                if stream is not None:
                    await stream.aclose()
                return
            if self.error is not None:
                raise self.error
            self.body_waiter = self.loop.create_future()
            try:
                await _wait(self.body_waiter, read_timeout, self.loop)
            finally:
                self.body_waiter = None


class _NoResponse(httpx.RemoteProtocolError):
    """The server closed a connection before sending any byte of the response."""


class _ReadTimeoutError(Exception):
    pass


async def _wait(future: asyncio.Future[None], timeout: float | None, loop: Any) -> None:
    """Await a future with a read timeout, cheaper than asyncio.timeout per chunk."""
    if timeout is None:
        await future
        return
    handle = loop.call_later(timeout, _expire, future)
    try:
        await future
    except _ReadTimeoutError:
        raise httpx.ReadTimeout("timed out waiting for the server") from None
    finally:
        handle.cancel()


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(_ReadTimeoutError())


def _request_head(request: httpx.Request) -> bytes:
    """The request line and headers, as sent on the wire."""
    target = request.url.raw_path or b"/"
    lines = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


async def _request_body(request: httpx.Request) -> bytes:
    """The request body, chunk-encoded when the request says so (GET has none)."""
    stream = request.stream
    if isinstance(stream, httpx.ByteStream):
        content = b"".join([part for part in stream])  # type: ignore[attr-defined]
        if not content:
            return b""
    else:
        parts = [part async for part in stream]  # type: ignore[union-attr]
        content = b"".join(parts)
    if request.headers.get("transfer-encoding", "").lower() == "chunked":
        return (
            (f"{len(content):x}\r\n".encode() + content + b"\r\n0\r\n\r\n")
            if content
            else (b"0\r\n\r\n")
        )
    return content


async def _no_chunks() -> AsyncIterator[bytes]:
    return
    yield  # pragma: no cover - makes this an empty async generator


class _ResponseStream(httpx.AsyncByteStream):
    """A response body that returns its connection to the pool once fully read."""

    def __init__(self, transport: FastTransport, connection: _Connection, read_timeout: Any):
        self.transport = transport
        self.connection: _Connection | None = connection
        self.read_timeout = read_timeout

    def __aiter__(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        connection = self.connection
        if connection is None:
            return _no_chunks()
        # The connection's own generator (one frame per chunk, not two); it closes this stream,
        # returning the connection to the pool, once the body is complete.
        return connection.body_chunks(self.read_timeout, self)

    async def aclose(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            self.transport._release(connection)


class FastTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio protocols with httptools parsing and per-destination keep-alive."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool | str = True,
        limits: httpx.Limits | None = None,
        http2: bool = False,
        keepalive_per_destination: int = DEFAULT_KEEPALIVE_PER_DESTINATION,
    ) -> None:
        if http2:
            raise ValueError("FastTransport speaks HTTP/1.1 only")
        limits = limits or httpx.Limits()
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = None
        self.keepalive_expiry = limits.keepalive_expiry
        max_keepalive = limits.max_keepalive_connections
        self.keepalive_per_destination = min(
            keepalive_per_destination, max_keepalive if max_keepalive is not None else 1 << 30
        )
        self.idle: dict[Destination, list[_Connection]] = {}
        self.connections_opened = 0
        self.requests_sent = 0
        self.is_closed = False

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context, made when the first https connection needs it (plain http never
        loads the CA bundle)."""
        if self._ssl_context is None:
            self._ssl_context = create_ssl_context(self._verify)
        return self._ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send a request to its URL's host."""
        return await self.send_pinned(request, request.url.host, None)

    async def send_pinned(
        self, request: httpx.Request, address: str, server_name: str | None
    ) -> httpx.Response:
        """Send a request over a connection to ``address``, keeping its URL and Host header."""
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"scheme {scheme[:20]!r} is not supported")
        port = url.port or (443 if scheme == "https" else 80)
        if scheme == "https" and server_name is None:
            server_name = url.host
        destination = (scheme, address, port, server_name)
        timeouts = request.extensions.get("timeout", {})
        for attempt in range(2):
            connection = self._idle_connection(destination)
            is_reused = connection is not None
            if connection is None:
                connection = await self._connect(destination, timeouts, request)
            try:
                await connection.send(request, timeouts)
            except _NoResponse:
                connection.close()
                # A kept-alive connection the server closed meanwhile: one fresh try (GET is safe).
                if is_reused and attempt == 0 and request.method in ("GET", "HEAD"):
                    continue
                raise
            except BaseException:
                connection.close()
                raise
            break
        assert connection is not None  # the loop either broke with one or raised
        self.requests_sent += 1
        if request.method == "HEAD":
            connection.is_message_complete = True  # no body follows; httptools cannot know
        return httpx.Response(
            connection.status_code,
            headers=connection.headers,
            stream=_ResponseStream(self, connection, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1"},
            request=request,
        )

    def _idle_connection(self, destination: Destination) -> _Connection | None:
        stack = self.idle.get(destination)
        now = asyncio.get_running_loop().time()
        while stack:
            connection = stack.pop()
            if connection.is_closed:
                continue
            if self.keepalive_expiry is not None and now - connection.idle_since > (
                self.keepalive_expiry
            ):
                connection.close()
                continue
            connection._reset()
            return connection
        return None

    async def _connect(
        self, destination: Destination, timeouts: dict[str, float | None], request: httpx.Request
    ) -> _Connection:
        scheme, host, port, server_name = destination
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                if scheme == "https":
                    _transport, connection = await loop.create_connection(
                        lambda: _Connection(self, destination),
                        host,
                        port,
                        ssl=self.ssl_context,
                        server_hostname=server_name,
                    )
                else:
                    _transport, connection = await loop.create_connection(
                        lambda: _Connection(self, destination), host, port
                    )
        except TimeoutError as error:
            raise httpx.ConnectTimeout("timed out connecting", request=request) from error
        except (OSError, ssl.SSLError, ssl.CertificateError) as error:
            raise httpx.ConnectError(f"{type(error).__name__}: {error}", request=request) from error
        self.connections_opened += 1
        return connection

    def _release(self, connection: _Connection) -> None:
        """Keep a fully read connection for the next request; close anything else."""
        if (
            self.is_closed
            or connection.is_closed
            or not connection.is_message_complete
            or not connection.is_keep_alive
            or connection.error is not None
        ):
            connection.close()
            return
        stack = self.idle.setdefault(connection.destination, [])
        if len(stack) >= self.keepalive_per_destination:
            connection.close()
            return
        connection.idle_since = connection.loop.time()
        stack.append(connection)

    @property
    def idle_connections(self) -> int:
        """How many kept-alive connections wait for reuse."""
        return sum(len(stack) for stack in self.idle.values())

    async def aclose(self) -> None:
        """Close every idle connection."""
        self.is_closed = True
        for stack in self.idle.values():
            for connection in stack:
                connection.close()
        self.idle.clear()
