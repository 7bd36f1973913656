"""A loopback web server whose pages and media the test sets: a CDN and a site in one.

Each path answers what ``serve`` last set for it (status, type, body, extra headers); anything
else is 404. It counts requests per path, so a test can see what a re-check fetched.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class MediaServer:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes, dict[str, str]]] = {}
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                server.hits[self.path] += 1
                status, kind, body, headers = server.routes.get(
                    self.path, (404, "text/html", b"<title>Not found</title>", {})
                )
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"

    def serve(
        self,
        path: str,
        body: bytes,
        kind: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        self.routes[path] = (status, kind, body, headers or {})
        return self.base_url + path

    def remove(self, path: str) -> None:
        self.routes.pop(path, None)

    def page(self, path: str, *, image: str | None = None, video: str | None = None) -> str:
        """An HTML post page linking an image (og:image) and/or a video (<video src>)."""
        meta = f'<meta property="og:image" content="{image}">' if image else ""
        player = f'<video controls src="{video}"></video>' if video else ""
        html = (
            f"<!doctype html><html><head><title>A post</title>{meta}</head>"
            f"<body><p>{'Some text. ' * 40}</p>{player}</body></html>"
        )
        return self.serve(path, html.encode(), "text/html; charset=utf-8")


@pytest.fixture
def media_server() -> Iterator[MediaServer]:
    server = MediaServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
