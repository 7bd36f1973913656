"""Fixtures of the console's browser tests.

- ``console_server`` (module-scoped): ``tracker serve --demo`` as a child process, see
  ``browser.ConsoleServer``; ``base_url``, ``processes``, ``create_user(role, name, login)``.
- ``browser`` (module-scoped): headless Debian Chromium driven by Playwright.
- ``page_watch`` / ``console_page``: a fresh context and page on the server's origin; at
  teardown, any request to another origin or any console or page error fails the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from console.browser import CHROMIUM_ARGS, VIEWPORT, ConsoleServer, PageWatch, chromium_path

#: Playwright's default is 30 s; a console page that needs longer is a failure worth seeing.
PAGE_TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    """The tracker with its demo companions, shared by the tests of one module."""
    server = ConsoleServer(tmp_path_factory.mktemp("console-server"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium from the system (never Playwright's own download); one per module,
    so Playwright's event loop is gone before the rest of the suite runs."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page_watch(console_server: ConsoleServer) -> PageWatch:
    """What ``console_page`` records; ``expect_console_error(regex)`` lets a known error pass."""
    return PageWatch(origin=console_server.origin)


@pytest.fixture
def console_page(
    console_server: ConsoleServer, browser: Browser, page_watch: PageWatch
) -> Iterator[Page]:
    """A new context (1280x900, relative URLs on the server) and page, watched until teardown."""
    context = browser.new_context(viewport=VIEWPORT, base_url=console_server.base_url)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page_watch.attach(context)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
    problems = None
    try:
        page_watch.check()
    except AssertionError as error:
        problems = str(error)
    if problems:  # failed outside the handler: one message, no chained traceback
        pytest.fail(f"console_page on {page_watch.origin}: {problems}", pytrace=False)


@pytest.fixture
def open_page(
    console_server: ConsoleServer, browser: Browser, page_watch: PageWatch
) -> Iterator[Callable[..., Page]]:
    """Open more watched pages, each in its own context (its own cookies), e.g. in another
    language: ``open_page(locale="hi-IN")``; all are checked like ``console_page``."""
    contexts = []

    def open_one(locale: str = "en-GB", viewport: ViewportSize = VIEWPORT) -> Page:
        context = browser.new_context(
            viewport=viewport, base_url=console_server.base_url, locale=locale
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page_watch.attach(context)
        contexts.append(context)
        return context.new_page()

    yield open_one
    for context in contexts:
        context.close()
    try:
        page_watch.check()
    except AssertionError as error:
        pytest.fail(f"open_page on {page_watch.origin}: {error}", pytrace=False)
