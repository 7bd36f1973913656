"""FastTransport on a real loopback server: keep-alive reuse, framing, timeouts, pinning."""

from __future__ import annotations

import asyncio
import gzip
import io

import httpx
import pytest

from workers.recheck.engine import build_client, check_batch
from workers.recheck.fingerprint import content_fingerprint, dhash, hamming_distance
from workers.recheck.transport import FastTransport

PAGE = b"<html><title>Post</title>ok</html>"


def _response(status: str, body: bytes, *extra: str) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Server:
    """An asyncio HTTP/1.1 server that counts connections and requests (loopback only)."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[tuple[str, str]] = []
        self.port = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                path = lines[0].split(" ")[1]
                host = next(line[6:] for line in lines if line.lower().startswith("host: "))
                self.requests.append((path, host))
                if path == "/chunked":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                    )
                elif path == "/until-close":
                    writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end")
                    await writer.drain()
                    writer.close()
                    return
                elif path == "/close-after":
                    writer.write(_response("200 OK", PAGE))
                    await writer.drain()
                    writer.close()  # closes a connection the client would keep alive
                    return
                elif path == "/silent":
                    await asyncio.sleep(5)
                    return
                elif path == "/interim":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + _response("200 OK", PAGE))
                elif path == "/big":
                    writer.write(_response("200 OK", b"x" * 2_000_000))
                else:
                    writer.write(_response("200 OK", PAGE, "Content-Type: text/html"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def run(scenario):  # type: ignore[no-untyped-def]
    async def wrapper():  # type: ignore[no-untyped-def]
        server = Server()
        await server.start()
        try:
            return await scenario(server)
        finally:
            await server.stop()

    return asyncio.run(wrapper())


def client_over(transport: FastTransport, **options: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, trust_env=False, **options)


def test_connections_are_reused() -> None:
    async def scenario(server: Server) -> tuple[int, int, int]:
        transport = FastTransport()
        async with client_over(transport) as client:
            for _ in range(5):
                response = await client.get(f"http://127.0.0.1:{server.port}/page")
                assert response.content == PAGE
            # Concurrent requests open more connections, then reuse them too.
            await asyncio.gather(
                *(client.get(f"http://127.0.0.1:{server.port}/page") for _ in range(3))
            )
            await asyncio.gather(
                *(client.get(f"http://127.0.0.1:{server.port}/page") for _ in range(3))
            )
        return server.connections, transport.connections_opened, transport.requests_sent

    assert run(scenario) == (3, 3, 11)


def test_chunked_close_delimited_and_interim_responses() -> None:
    async def scenario(server: Server) -> list[tuple[int, bytes]]:
        async with client_over(FastTransport()) as client:
            results = []
            for path in ("/chunked", "/until-close", "/interim", "/page"):
                response = await client.get(f"http://127.0.0.1:{server.port}{path}")
                results.append((response.status_code, response.content))
            return results

    assert run(scenario) == [
        (200, b"hello world"),
        (200, b"to the end"),
        (200, PAGE),
        (200, PAGE),
    ]


def test_server_closing_a_kept_alive_connection_is_retried_on_a_fresh_one() -> None:
    async def scenario(server: Server) -> tuple[int, int]:
        transport = FastTransport()
        async with client_over(transport) as client:
            first = await client.get(f"http://127.0.0.1:{server.port}/close-after")
            await asyncio.sleep(0.05)  # let the close arrive
            second = await client.get(f"http://127.0.0.1:{server.port}/page")
            assert (first.content, second.content) == (PAGE, PAGE)
        return server.connections, len(server.requests)

    assert run(scenario) == (2, 2)


def test_read_timeout() -> None:
    async def scenario(server: Server) -> None:
        async with client_over(FastTransport(), timeout=httpx.Timeout(0.2)) as client:
            await client.get(f"http://127.0.0.1:{server.port}/silent")

    with pytest.raises(httpx.ReadTimeout):
        run(scenario)


def test_partial_read_closes_instead_of_reusing() -> None:
    async def scenario(server: Server) -> tuple[int, int]:
        transport = FastTransport()
        async with client_over(transport) as client:
            async with client.stream("GET", f"http://127.0.0.1:{server.port}/big") as response:
                async for _chunk in response.aiter_raw():
                    break
            response = await client.get(f"http://127.0.0.1:{server.port}/page")
            assert response.content == PAGE
        return server.connections, transport.idle_connections

    assert run(scenario) == (2, 0)


def test_pinned_request_exact() -> None:
    async def scenario(server: Server) -> tuple[str, str, int]:
        transport = FastTransport()
        request = httpx.Request("GET", f"http://sim.example.test:{server.port}/page")
        response = await transport.send_pinned(request, "127.0.0.1", None)
        await response.aread()
        await transport.aclose()
        return server.requests[0][1], str(response.request.url), server.port

    host, url, port = run(scenario)
    assert host == f"sim.example.test:{port}"
    assert url == f"http://sim.example.test:{port}/page"


def test_engine_checks_reuse_connections_under_per_host_limits() -> None:
    async def scenario(server: Server) -> tuple[int, set[str]]:
        client = build_client(
            allowlist=["127.0.0.1"], timeout=5.0, max_redirects=3, politeness=None
        )
        items = [
            (index, f"http://127.0.0.1:{server.port}/page?{index}", None) for index in range(40)
        ]
        async with client:
            outcomes = await check_batch(
                items, client=client, body_limit=4096, per_host_concurrency=4
            )
        return server.connections, {str(outcome.verdict) for outcome in outcomes}

    connections, verdicts = run(scenario)
    assert verdicts == {"live"}
    assert connections == 4  # per-host concurrency 4: four connections, each reused


# --- fingerprints ---------------------------------------------------------------------------


def _png(color_split: int, size: tuple[int, int] = (64, 48)) -> bytes:
    from PIL import Image

    image = Image.new("L", size)
    image.putdata(
        [
            (x * 255 // size[0]) if x < color_split else 0
            for _y in range(size[1])
            for x in range(size[0])
        ]
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_fingerprint_text_is_sha256_and_image_gets_dhash() -> None:
    import hashlib

    assert content_fingerprint(PAGE, "text/html") == hashlib.sha256(PAGE).hexdigest()
    picture = _png(40)
    fingerprint = content_fingerprint(picture, "image/png")
    assert fingerprint.startswith("dhash:") and len(fingerprint) <= 64
    assert fingerprint.endswith(hashlib.sha256(picture).hexdigest()[:32])


def test_dhash_survives_rescaling_and_tells_pictures_apart() -> None:
    from PIL import Image

    picture = _png(40)
    larger = io.BytesIO()
    Image.open(io.BytesIO(picture)).resize((128, 96)).save(larger, format="JPEG", quality=70)
    first, second, other = dhash(picture), dhash(larger.getvalue()), dhash(_png(10))
    assert first is not None and second is not None and other is not None
    assert hamming_distance(first, second) <= 6
    assert hamming_distance(first, other) > 10


def test_dhash_of_garbage_or_truncated_image() -> None:
    assert dhash(b"\x89PNG\r\n\x1a\nnot really") is None
    assert content_fingerprint(gzip.compress(b"x"), "image/png").startswith("dhash:") is False
