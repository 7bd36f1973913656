"""Browser-test helpers for the web console: Debian's Chromium driven by Playwright.

- ``chromium_path``: the system Chromium (``scripts/services`` installs it); Playwright's own
  browser download is never used.
- ``ConsoleServer``: ``tracker serve --demo`` as a child process on a free loopback port, with
  its own data folder, database and sandbox simulator, and ``create_user``.
- ``PageWatch``: every request a browser context makes (pages, frames, workers, service workers,
  websockets) must go to one origin, and no console error or uncaught page error may happen.
- ``run_axe`` / ``assert_no_serious_violations``: axe-core in the page, serious and critical
  violations only; ``assert_security_headers``: the headers every console page must carry.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    ViewportSize,
    WebSocket,
    Worker,
)
from processes import Processes, free_port, key_from, wait_for

from platform_adapters.simulators.sandbox import SandboxServer

ASSETS = Path(__file__).parent / "assets"
AXE_SCRIPT = ASSETS / "axe.min.js"
#: Flags for a quiet, headless Chromium: no GPU, no phoning home, no first-run UI.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
#: How much of a query string a failure message may quote.
QUERY_CHARACTERS = 80
#: Schemes that make no network request (``blob:`` is checked by the origin it names).
NON_NETWORK_SCHEMES = {"data", "about"}
SERIOUS_IMPACTS = {"serious", "critical"}
#: The organisation every ``create_user`` user belongs to.
TEST_ORGANISATION = "Test helpline"
#: Fast cadences for the console tests: reports move within seconds.
FAST_SETTINGS = {
    "TRACKER_SWEEP_INTERVAL_SECONDS": "0.5",
    "TRACKER_CHECK_INTERVAL_ACTIVE_SECONDS": "1",
    "TRACKER_CONFIRM_INTERVAL_SECONDS": "1",
    "TRACKER_POLL_INTERVAL_SECONDS": "1",
}
#: The sandbox simulator acknowledges a report after 0.5 s and decides it after 1.5 s.
SANDBOX_ACK_AFTER = 0.5
SANDBOX_DECIDE_AFTER = 1.5


def chromium_path() -> str:
    """The system ``chromium`` command; fails the test (never skips) when it is missing."""
    found = shutil.which("chromium")
    if found is None:
        pytest.fail(
            "chromium is not installed: the console tests need Debian's chromium; "
            "run scripts/services as root (it runs apt-get install chromium)",
            pytrace=False,
        )
    return found


# --- the tracker as a child process ---------------------------------------------------------


@dataclass(frozen=True)
class CreatedUser:
    """What ``tracker users create`` printed for a person: sign-in name, password, API key."""

    login: str
    one_time_password: str
    api_key: str


USER_LINE = re.compile(r"user \d+ \([a-z]+\) in organisation \d+")
LOGIN_PREFIX = "Sign-in name: "
PASSWORD_PREFIX = "One-time password (shown once; to be changed at first sign-in): "
KEY_PREFIX = "API key (shown once): "


def parse_user_creation(output: str) -> CreatedUser:
    """Read ``tracker users create`` output for a console user (parsed by line prefixes)."""
    lines = output.splitlines()
    values: dict[str, str] = {}
    for line in lines:
        for prefix in (LOGIN_PREFIX, PASSWORD_PREFIX, KEY_PREFIX):
            if line.startswith(prefix):
                values[prefix] = line[len(prefix) :]
    missing = [
        prefix for prefix in (LOGIN_PREFIX, PASSWORD_PREFIX, KEY_PREFIX) if prefix not in values
    ]
    if missing or not any(USER_LINE.fullmatch(line) for line in lines):
        raise AssertionError(
            f"unexpected `tracker users create` output (missing {missing}):\n{output}"
        )
    return CreatedUser(values[LOGIN_PREFIX], values[PASSWORD_PREFIX], values[KEY_PREFIX])


def tracker_environment(directory: Path, sandbox_url: str) -> dict[str, str]:
    """A newcomer's environment (no TRACKER_* from the suite) with its own data, fast cadences."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    data = directory / "data"
    environment.update(
        {
            "TRACKER_DATA_DIR": str(data),
            "TRACKER_DATABASE_URL": f"sqlite:///{data / 'tracker.sqlite3'}",
            # One key for the server and every `tracker` command (no key file to race for).
            "TRACKER_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "TRACKER_SANDBOX_BASE_URL": sandbox_url,
            # tests/policies: jurisdiction TEST, whose parallel search track (a web-form
            # packet) opens 2 s after the first filing.
            "TRACKER_POLICY_DIRS": str(Path(__file__).parent.parent / "policies"),
            **FAST_SETTINGS,
        }
    )
    return environment


class ConsoleServer:
    """``tracker serve --demo`` on a free loopback port, with its own sandbox simulator."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sandbox = SandboxServer(ack_after=SANDBOX_ACK_AFTER, decide_after=SANDBOX_DECIDE_AFTER)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.origin = self.base_url
        self.processes = Processes(directory, {})
        self.admin_key = ""

    def start(self) -> None:
        """Start the simulator and the tracker; wait until ``/healthz`` answers 200."""
        self.sandbox.start()
        self.processes.environment.update(
            tracker_environment(self.directory, self.sandbox.base_url)
        )
        # A named database is not migrated by `serve` (only the default file is): as an operator.
        self.tracker("db", "upgrade")
        log = self.processes.start("serve", "serve", "--demo", "--port", str(self.port))
        wait_for(self._healthy, timeout=60, what="the tracker to start", processes=self.processes)

        def banner() -> str:
            text = log.read_text()
            return text if "API key" in text else ""

        text = wait_for(
            banner,
            timeout=30,
            what="the first admin key",
            processes=self.processes,
        )
        # The demo found our fast simulator on the named port and uses it.
        expected = f"Sandbox platform simulator already running at {self.sandbox.base_url}"
        assert expected in text, text
        self.admin_key = key_from(text)

    def _healthy(self) -> bool:
        if not self.processes.is_running("serve"):
            pytest.fail(f"tracker serve exited at start-up\n{self.processes.logs()}")
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """Stop the tracker, then the simulator."""
        self.processes.stop()
        self.sandbox.stop()

    @property
    def sandbox_url(self) -> str:
        """The sandbox simulator's root URL (log ``<sandbox_url>/videos/comply-1`` and so on)."""
        return self.sandbox.base_url

    def tracker(self, *arguments: str) -> str:
        """Run ``tracker <arguments>`` with the server's environment; its output (must succeed)."""
        return self.processes.run(*arguments)

    def create_user(self, role: str, name: str, login: str | None = None) -> tuple[str, str, str]:
        """Create a console user in the test organisation: (login, one-time password, API key)."""
        arguments = ["--organisation", TEST_ORGANISATION, "--name", name, "--role", role]
        if login is not None:
            arguments += ["--login", login]
        created = parse_user_creation(self.tracker("users", "create", *arguments))
        return created.login, created.one_time_password, created.api_key

    def create_api_user(self, role: str, name: str) -> str:
        """Create a user without console access (dashboard, metrics); their API key."""
        output = self.tracker(
            "users", "create", "--organisation", TEST_ORGANISATION, "--name", name, "--role", role
        )
        return key_from(output)


# --- what a page does -------------------------------------------------------------------------


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL (default ports written out); a blob's inner origin."""
    parts = urlsplit(url)
    if parts.scheme == "blob":
        return origin_of(url[len("blob:") :])
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    default = {"http": 80, "https": 443}.get(scheme)
    try:
        port = parts.port or default
    except ValueError:
        port = None
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}:{port}"


def shorten(url: str) -> str:
    """A URL for a failure message: its query string cut to ``QUERY_CHARACTERS``."""
    base, separator, query = url.partition("?")
    if len(query) > QUERY_CHARACTERS:
        query = query[:QUERY_CHARACTERS] + f"...({len(query)} characters)"
    return base + separator + query


URL_IN_TEXT = re.compile(r"\b(?:https?|wss?|blob):[^\s'\"<>]*[^\s'\"<>.,;:)]")


def shorten_urls(text: str) -> str:
    """A message with every URL in it shortened (a console error quotes the URL it blocked)."""
    return URL_IN_TEXT.sub(lambda match: shorten(match.group(0)), text)


@dataclass(repr=False)
class PageWatch:
    """Records what a browser context does; ``check`` fails on a foreign origin or an error."""

    origin: str
    #: (kind, URL): request, websocket, worker, service worker.
    contacts: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    expected_errors: list[re.Pattern[str]] = field(default_factory=list)

    def __repr__(self) -> str:
        # Never the URLs themselves: a traceback prints this, and queries may carry secrets.
        return (
            f"PageWatch(origin={self.origin!r}, {len(self.contacts)} contacts, "
            f"{len(self.errors)} errors)"
        )

    def attach(self, context: BrowserContext) -> None:
        """Watch every page of ``context``, present and future, and its service workers."""
        context.on("request", self._on_request)  # pages, frames, workers, service workers
        context.on("serviceworker", lambda worker: self._contact("service worker", worker.url))
        for page in context.pages:
            self.watch_page(page)
        context.on("page", self.watch_page)

    def watch_page(self, page: Page) -> None:
        """Record the page's websockets, workers, console errors and uncaught errors."""
        page.on("websocket", self._on_websocket)
        page.on("worker", self._on_worker)
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def expect_console_error(self, pattern: str) -> None:
        """Let console errors matching ``pattern`` (a regex) pass, for a test that causes them."""
        self.expected_errors.append(re.compile(pattern))

    def _contact(self, kind: str, url: str) -> None:
        self.contacts.append((kind, url))

    def _on_request(self, request: Request) -> None:
        self._contact("request", request.url)

    def _on_websocket(self, websocket: WebSocket) -> None:
        self._contact("websocket", websocket.url)

    def _on_worker(self, worker: Worker) -> None:
        self._contact("worker", worker.url)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location.get("url", "")
            where = f" (at {shorten(location)})" if location else ""
            self.errors.append(f"console error: {shorten_urls(message.text)}{where}")

    def _on_page_error(self, error: Exception) -> None:
        self.errors.append(f"page error: {shorten_urls(str(error))}")

    def foreign(self) -> list[str]:
        """Every contacted URL whose origin is not ``origin``, shortened, in order."""
        found = []
        for kind, url in self.contacts:
            if urlsplit(url).scheme in NON_NETWORK_SCHEMES:
                continue
            if origin_of(url) != origin_of(self.origin):
                found.append(f"{kind} {shorten(url)}")
        return list(dict.fromkeys(found))

    def unexpected_errors(self) -> list[str]:
        """Console and page errors not matched by ``expect_console_error``."""
        return [
            error
            for error in self.errors
            if not any(pattern.search(error) for pattern in self.expected_errors)
        ]

    def check(self) -> None:
        """Fail (AssertionError) listing foreign-origin contacts and unexpected errors."""
        problems = []
        foreign = self.foreign()
        if foreign:
            problems.append(f"requests to an origin other than {self.origin}:")
            problems += [f"  {line}" for line in foreign]
        errors = self.unexpected_errors()
        if errors:
            problems.append("console or page errors (a CSP violation shows up here):")
            problems += [f"  {error}" for error in errors]
        if problems:
            raise AssertionError("\n".join(problems))


# --- accessibility and headers ----------------------------------------------------------------


@cache
def axe_source() -> str:
    """The vendored axe-core script (tests/console/assets/axe.min.js)."""
    return AXE_SCRIPT.read_text(encoding="utf-8")


def _target(node: dict[str, Any]) -> str:
    # A target is one selector per frame level; a shadow-DOM level is a list of selectors.
    levels = node.get("target") or []
    return " | ".join(
        " >>> ".join(level) if isinstance(level, list) else str(level) for level in levels
    )


def run_axe(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page; its serious and critical violations as {id, impact, help, nodes}.

    ``page.evaluate`` runs through the DevTools protocol, which the page's Content-Security-Policy
    does not govern, so axe works on pages that forbid inline script and eval.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [_target(node) for node in violation["nodes"][:3]],
        }
        for violation in violations
        if violation.get("impact") in SERIOUS_IMPACTS
    ]


def assert_no_serious_violations(page: Page, name: str) -> None:
    """Fail when axe finds a serious or critical violation on the page named ``name``."""
    violations = run_axe(page)
    lines = [
        f"  {v['id']} ({v['impact']}): {v['help']}; at {', '.join(v['nodes'])}" for v in violations
    ]
    assert not violations, f"accessibility violations on {name} ({page.url}):\n" + "\n".join(lines)


def csp_directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: sources}; the first of a repeated one counts."""
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives.setdefault(words[0].lower(), words[1:])
    return directives


#: Sources that would let a page run script it did not serve itself as a file.
UNSAFE_SCRIPT_SOURCES = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:"}


def assert_security_headers(response: Response | None) -> None:
    """Fail unless the response carries the console's security headers."""
    assert response is not None, "no response (the navigation did not reach the server)"
    headers = response.headers_array()

    def values(name: str) -> list[str]:
        return [header["value"] for header in headers if header["name"].lower() == name]

    problems = []
    policies = values("content-security-policy")
    if len(policies) != 1:
        problems.append(f"expected one Content-Security-Policy header, got {policies}")
    else:
        directives = csp_directives(policies[0])
        default = directives.get("default-src")
        if default not in (["'none'"], ["'self'"]):
            problems.append(f"default-src must be 'none' or 'self', not {default}")
        script = directives.get("script-src", default) or []
        unsafe = sorted(set(script) & UNSAFE_SCRIPT_SOURCES)
        if unsafe:
            problems.append(f"script-src allows {unsafe}")
        if directives.get("frame-ancestors") != ["'none'"]:
            problems.append(
                f"frame-ancestors must be 'none', not {directives.get('frame-ancestors')}"
            )
    expected = {
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
    }
    for name, value in expected.items():
        found = values(name)
        if [item.strip().lower() for item in found] != [value.lower()]:
            problems.append(f"{name} must be {value!r}, got {found}")
    assert not problems, f"security headers of {response.url}:\n  " + "\n  ".join(problems)
