"""What a reliability scenario breaks on purpose: its own Redis, its own PostgreSQL cluster, and a
proxy in front of the platform simulator that makes pages slow and answers time out.

None of these touch the shared PostgreSQL or Redis other developers use: a scenario on the shared
PostgreSQL gets a database of its own, created and dropped here.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import redis
from conftest import POSTGRES_ADMIN_URL
from processes import Processes, free_port
from sqlalchemy import create_engine, text

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
#: Headers the proxy does not pass on: hop-by-hop, or recomputed for the body it sends.
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


class PrivateRedis:
    """A Redis server of this test only, a child process that can be kill -9'd and restarted."""

    def __init__(self, processes: Processes) -> None:
        self.processes = processes
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it answers PING."""
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        self.processes.spawn("redis", command)
        deadline = time.monotonic() + 15
        while not self.ping():
            assert time.monotonic() < deadline, "private Redis did not start\n" + (
                self.processes.logs()
            )
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9: nothing is saved, every queued message is gone."""
        self.processes.kill("redis")

    def ping(self) -> bool:
        """Whether it answers."""
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()


class PrivatePostgres:
    """A PostgreSQL cluster of this test only, in a temporary directory, on a free port.

    The server runs as the ``postgres`` OS user (PostgreSQL refuses root), daemonised by
    ``pg_ctl``; ``destroy`` stops it immediately and deletes the directory.
    """

    def __init__(self, processes: Processes) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="tracker-rel-pg-"))
        shutil.chown(self.directory, "postgres", "postgres")
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        processes.extra_logs["postgres"] = self.log
        self._is_initialised = False

    def _as_postgres(self, *command: str, timeout: float = 60) -> None:
        done = subprocess.run(  # noqa: S603
            ["runuser", "-u", "postgres", "--", *command],
            cwd=self.directory,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, (
            f"{' '.join(command)} failed: {done.stdout.decode()}{done.stderr.decode()}\n"
            + (self.log.read_text(errors="replace") if self.log.exists() else "")
        )

    def _pg_ctl(self, action: str, *options: str) -> None:
        settings = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        pg_ctl = str(POSTGRES_BIN / "pg_ctl")
        self._as_postgres(
            pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", settings, action, *options
        )

    def start(self) -> None:
        """Create the cluster on first use, then start it and wait until it accepts."""
        if not self._is_initialised:
            initdb = str(POSTGRES_BIN / "initdb")
            self._as_postgres(
                initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"
            )
            self._is_initialised = True
        self._pg_ctl("start", "-w", "-t", "30")

    def stop(self) -> None:
        """Fast shutdown: open connections are terminated, as in a real restart."""
        self._pg_ctl("stop", "-w", "-m", "fast", "-t", "30")

    def destroy(self) -> None:
        """Stop the server if it runs and remove its directory."""
        if (self.data / "postmaster.pid").exists():
            pg_ctl = str(POSTGRES_BIN / "pg_ctl")
            subprocess.run(  # noqa: S603
                ["runuser", "-u", "postgres", "--", pg_ctl, "-D", str(self.data)]
                + ["stop", "-w", "-m", "immediate", "-t", "30"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def shared_postgres_database() -> Iterator[str]:
    """A fresh database ``tracker_rel_<uuid>`` on the shared PostgreSQL, dropped afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"tracker_rel_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Exchange:
    """One request through the proxy and what came back."""

    method: str
    path: str
    url: str | None  # the leaked URL a report POST was about
    arrived: float  # time.time() when the request arrived
    answered: float | None = None  # when the answer was sent (None: the client had gone)
    status: int | None = None
    held: bool = False  # the answer was held past the client's timeout


@dataclass
class ProxyBehaviour:
    """How the proxy misbehaves; tests change it while it runs."""

    page_delay: float = 0.0  # before forwarding a ``GET /videos/...``
    post_delay: float = 0.0  # after forwarding a report POST, before answering
    hold_successes: int = 0  # the next n successful report POSTs are answered too late...
    hold_seconds: float = 0.0  # ...after this long (longer than the client's timeout)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_hold(self) -> bool:
        with self.lock:
            if self.hold_successes <= 0:
                return False
            self.hold_successes -= 1
            return True


class PlatformProxy:
    """A loopback proxy in front of the sandbox simulator that keeps the ``Host`` header.

    The tracker sees the proxy as the platform (its pages and its reporting API). The proxy can
    delay pages, so a re-check batch is still in flight when a worker is killed; delay report
    POSTs after the platform has taken them, so a filing dies mid-submission; or answer a taken
    POST only after the client timed out, so the retry must not file twice.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.behaviour = ProxyBehaviour()
        self.exchanges: list[Exchange] = []
        self.in_flight: dict[int, Exchange] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> PlatformProxy:
        self._thread.start()
        return self

    def __exit__(self, *exception_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def flying(self, method: str) -> list[Exchange]:
        """Requests of that method the proxy has not answered yet."""
        with self._lock:
            return [exchange for exchange in self.in_flight.values() if exchange.method == method]

    def report_posts(self, url: str) -> list[Exchange]:
        """Every report POST about ``url``, in arrival order."""
        with self._lock:
            return [
                exchange
                for exchange in self.exchanges
                if exchange.method == "POST" and exchange.url == url
            ]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                proxy._relay(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                proxy._relay(self, "POST")

        return Handler

    def _relay(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        leaked_url = None
        if method == "POST":
            try:
                leaked_url = json.loads(body).get("url")
            except (ValueError, AttributeError):
                leaked_url = None
        exchange = Exchange(method=method, path=handler.path, url=leaked_url, arrived=time.time())
        key = id(exchange)
        with self._lock:
            self.exchanges.append(exchange)
            self.in_flight[key] = exchange
        behaviour = self.behaviour
        try:
            if method == "GET" and handler.path.startswith("/videos/"):
                time.sleep(behaviour.page_delay)
            status, headers, answer = self._forward(handler, method, body)
            if method == "POST" and handler.path.startswith("/api/v1/reports"):
                if 200 <= status < 300 and behaviour.take_hold():
                    exchange.held = True
                    time.sleep(behaviour.hold_seconds)
                else:
                    time.sleep(behaviour.post_delay)
            exchange.status = status
            handler.send_response(status)
            for name, value in headers:
                if name.lower() not in HOP_HEADERS:
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(answer)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(answer)
            handler.wfile.flush()
            exchange.answered = time.time()
        except OSError:
            pass  # the client gave up (a timeout or a killed worker): nothing to answer
        finally:
            with self._lock:
                self.in_flight.pop(key, None)

    def _forward(
        self, handler: BaseHTTPRequestHandler, method: str, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            # The Host header passes unchanged: the simulator checks report URLs against it.
            headers = {name: value for name, value in handler.headers.items()}
            connection.request(method, handler.path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()
