"""The browser harness proves itself against tiny Starlette pages on loopback (not the tracker).

axe runs under a strict Content-Security-Policy and finds what it should; the recorder fails on
any request, websocket or service-worker fetch to another origin, and on console or page errors
(a CSP violation among them); the header check and the user-creation parser say what is wrong.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from console import browser as harness
from console.browser import (
    CreatedUser,
    PageWatch,
    assert_no_serious_violations,
    assert_security_headers,
    parse_user_creation,
    run_axe,
)
from platform_adapters.simulators.runner import LoopbackServer

STRICT_CSP = "default-src 'none'; script-src 'self'"
GOOD_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
#: A 1x1 transparent PNG.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
LONG_SECRET = "s" * 300


def html(body: str, title: str = "Harness page") -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><main><h1>{title}</h1>{body}</main></body></html>"
    )


def make_app(other: str) -> Starlette:
    """Pages of the harness tests; ``other`` is a second loopback server's root URL."""

    def page(body: str, headers: dict[str, str]) -> Any:
        async def endpoint(request: Request) -> Response:
            return HTMLResponse(html(body), headers=headers)

        return endpoint

    def script(source: str) -> Any:
        async def endpoint(request: Request) -> Response:
            return Response(
                source, media_type="text/javascript", headers={"Cache-Control": "no-store"}
            )

        return endpoint

    async def pixel(request: Request) -> Response:
        return Response(PIXEL, media_type="image/png")

    strict = {"Content-Security-Policy": STRICT_CSP}
    leak = f"{other}/leak?token={LONG_SECRET}"
    routes = [
        # The page's own script runs (script-src 'self'); eval in the page is blocked.
        Route(
            "/strict",
            page('<script src="/strict.js"></script><button></button>', strict),
        ),
        Route(
            "/strict.js",
            script(
                "document.documentElement.dataset.ran = 'yes';"
                "try { eval('1'); document.documentElement.dataset.eval = 'allowed'; }"
                "catch (error) { document.documentElement.dataset.eval = 'blocked'; }"
            ),
        ),
        Route("/inline", page("<script>document.title = 'inline ran';</script>", strict)),
        Route(
            "/image",
            page(
                '<img src="/pixel.png">',
                {"Content-Security-Policy": STRICT_CSP + "; img-src 'self'"},
            ),
        ),
        Route("/pixel.png", pixel),
        # Chromium asks every origin for its icon; a 404 there is a console error.
        Route("/favicon.ico", pixel),
        Route("/clean", page("<p>Nothing to see.</p>", GOOD_HEADERS)),
        Route(
            "/lax",
            page(
                "<p>Lax.</p>",
                {
                    "Content-Security-Policy": "default-src *; script-src 'self' 'unsafe-inline'",
                    "X-Frame-Options": "SAMEORIGIN",
                },
            ),
        ),
        # No CSP here: the recorder is what must catch the foreign contacts.
        Route("/leaky", page('<script src="/leaky.js"></script>', {})),
        # The same script under the strict CSP: blocked by the browser, logged as errors.
        Route("/blocked", page('<script src="/leaky.js"></script>', strict)),
        Route(
            "/leaky.js",
            script(
                f"fetch({leak!r}).catch(() => {{}});"
                f"new WebSocket({other.replace('http', 'ws', 1) + '/socket'!r});"
                f"const image = new Image(); image.alt = ''; image.src = {other + '/pixel.png'!r};"
                "fetch('/pixel.png?same=origin');"
            ),
        ),
        Route("/worker", page('<script src="/register.js"></script>', {})),
        Route(
            "/register.js",
            script("navigator.serviceWorker.register('/sw.js');"),
        ),
        Route(
            "/sw.js",
            script(
                f"self.addEventListener('install', () => {{ fetch({other + '/from-worker'!r})"
                ".catch(() => {}); });"
            ),
        ),
        Route("/errors", page('<script src="/errors.js"></script>', {})),
        Route(
            "/errors.js",
            script(
                "console.error('boom from the page');"
                "setTimeout(() => { throw new Error('bang from the page'); }, 0);"
            ),
        ),
    ]
    return Starlette(routes=routes)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    """Two loopback servers: the page's origin and "another origin" (a different port)."""
    with LoopbackServer(make_app("http://127.0.0.1:1")) as other:
        with LoopbackServer(make_app(other.base_url)) as server:
            yield server.base_url, other.base_url


@pytest.fixture
def context(browser: Browser, servers: tuple[str, str]) -> Iterator[BrowserContext]:
    """A fresh context on the first server's origin."""
    created = browser.new_context(viewport=harness.VIEWPORT, base_url=servers[0])
    created.set_default_timeout(10_000)
    yield created
    created.close()


@pytest.fixture
def watch(context: BrowserContext, servers: tuple[str, str]) -> PageWatch:
    """A recorder on the context, checked by the tests themselves."""
    recorder = PageWatch(origin=servers[0])
    recorder.attach(context)
    return recorder


def wait_until(page: Page, condition: Any, timeout: float = 5.0) -> None:
    """Poll ``condition``, letting Playwright deliver its events in between (not time.sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)


def test_axe_runs_under_a_strict_csp_and_finds_a_critical_violation(
    context: BrowserContext, watch: PageWatch
) -> None:
    page = context.new_page()
    page.goto("/strict")
    # The CSP is enforced: the page's own file ran, eval in the page did not.
    assert page.evaluate("document.documentElement.dataset.ran") == "yes"
    assert page.evaluate("document.documentElement.dataset.eval") == "blocked"
    violations = run_axe(page)
    assert violations == [
        {
            "id": "button-name",
            "impact": "critical",
            "help": "Buttons must have discernible text",
            "nodes": ["button"],
        }
    ]
    assert run_axe(page) == violations  # a second run reuses the axe already in the page
    with pytest.raises(AssertionError, match=r"on strict page .*\n  button-name \(critical\)"):
        assert_no_serious_violations(page, "strict page")
    watch.check()  # running axe caused no CSP violation and no error


def test_axe_finds_an_image_without_alternative_text(
    context: BrowserContext, watch: PageWatch
) -> None:
    page = context.new_page()
    page.goto("/image")
    assert [(v["id"], v["impact"], v["nodes"]) for v in run_axe(page)] == [
        ("image-alt", "critical", ["img"])
    ]
    watch.check()


def test_a_clean_page_passes_axe_and_the_header_check(
    context: BrowserContext, watch: PageWatch
) -> None:
    page = context.new_page()
    response = page.goto("/clean")
    assert run_axe(page) == []
    assert_no_serious_violations(page, "clean page")
    assert_security_headers(response)
    watch.check()


def test_the_header_check_names_every_missing_or_lax_header(context: BrowserContext) -> None:
    page = context.new_page()
    response = page.goto("/lax")
    with pytest.raises(AssertionError) as failure:
        assert_security_headers(response)
    message = str(failure.value)
    assert "default-src must be 'none' or 'self', not ['*']" in message
    assert "script-src allows [\"'unsafe-inline'\"]" in message
    assert "frame-ancestors must be 'none', not None" in message
    assert "referrer-policy must be 'no-referrer', got []" in message
    assert "x-frame-options must be 'DENY', got ['SAMEORIGIN']" in message
    assert "x-content-type-options must be 'nosniff', got []" in message
    with pytest.raises(AssertionError, match="no response"):
        assert_security_headers(None)


def test_an_inline_script_blocked_by_the_csp_fails_the_recorder(
    context: BrowserContext, watch: PageWatch
) -> None:
    page = context.new_page()
    page.goto("/inline")
    assert page.title() == "Harness page"  # the inline script did not run
    wait_until(page, lambda: watch.errors)
    with pytest.raises(AssertionError, match="Content Security Policy") as failure:
        watch.check()
    assert "console or page errors" in str(failure.value)


def test_requests_to_another_origin_fail_the_recorder(
    context: BrowserContext, watch: PageWatch, servers: tuple[str, str]
) -> None:
    origin, other = servers
    watch.expect_console_error(".")  # the foreign fetches may log errors; not the point here
    page = context.new_page()
    page.goto("/leaky")
    wait_until(page, lambda: len(watch.foreign()) >= 3)
    with pytest.raises(AssertionError) as failure:
        watch.check()
    message = str(failure.value)
    lines = message.splitlines()
    assert lines[0] == f"requests to an origin other than {origin}:"
    shown_query = "token=" + LONG_SECRET[: harness.QUERY_CHARACTERS - len("token=")]
    assert f"  request {other}/leak?{shown_query}...(306 characters)" in lines
    assert f"  websocket {other.replace('http', 'ws', 1)}/socket" in lines
    assert f"  request {other}/pixel.png" in lines
    assert LONG_SECRET[:100] not in message  # a long query string is never printed whole
    # Only the foreign contacts are listed: the page's own requests are fine.
    listed = [line.split()[1] for line in lines[1:]]
    assert {harness.origin_of(url) for url in listed} == {harness.origin_of(other)}, listed
    # Its own requests were seen too: the recorder saw everything, and passed them.
    assert ("request", f"{origin}/pixel.png?same=origin") in watch.contacts


def test_contacts_the_csp_blocks_fail_the_recorder_without_quoting_long_queries(
    context: BrowserContext, watch: PageWatch, servers: tuple[str, str]
) -> None:
    origin, other = servers
    page = context.new_page()
    page.goto("/blocked")
    wait_until(page, lambda: len(watch.errors) >= 3)
    # Chromium reports the blocked image as a request too; the fetch and websocket it does not.
    assert [line for line in watch.foreign() if "/leak" in line or "/socket" in line] == []
    with pytest.raises(AssertionError) as failure:
        watch.check()
    message = str(failure.value)
    assert "violates the following Content Security Policy directive" in message
    assert f"{other}/leak?token=sss" in message and "...(306 characters)" in message
    assert LONG_SECRET[:100] not in message
    assert LONG_SECRET[:100] not in repr(watch)  # what a traceback would print


def test_a_service_worker_fetching_another_origin_fails_the_recorder(
    context: BrowserContext, watch: PageWatch, servers: tuple[str, str]
) -> None:
    origin, other = servers
    watch.expect_console_error(".")
    page = context.new_page()
    page.goto("/worker")
    wait_until(page, lambda: any("from-worker" in line for line in watch.foreign()))
    assert ("service worker", f"{origin}/sw.js") in watch.contacts
    with pytest.raises(AssertionError, match=f"request {other}/from-worker"):
        watch.check()


def test_console_and_page_errors_fail_the_recorder_unless_expected(
    context: BrowserContext, watch: PageWatch
) -> None:
    page = context.new_page()
    page.goto("/errors")
    wait_until(page, lambda: len(watch.errors) >= 2)
    with pytest.raises(AssertionError) as failure:
        watch.check()
    assert "  console error: boom from the page (at " in str(failure.value)
    assert "  page error: bang from the page" in str(failure.value)
    watch.expect_console_error("boom from the page")
    watch.expect_console_error("bang from the page")
    watch.check()


def test_chromium_missing_fails_the_test_with_what_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="run scripts/services as root"):
        harness.chromium_path()


def test_user_creation_output_is_read_by_its_prefixes() -> None:
    output = (
        "user 3 (caseworker) in organisation 1\n"
        "Sign-in name: asha.k\n"
        "One-time password (shown once; to be changed at first sign-in): Ab3: x-Yz\n"
        "API key (shown once): tk_abcdefghijklmnopqrstuvwxyz\n"
    )
    assert parse_user_creation(output) == CreatedUser(
        login="asha.k", one_time_password="Ab3: x-Yz", api_key="tk_abcdefghijklmnopqrstuvwxyz"
    )
    # A role without console access prints no sign-in lines: create_user says so loudly.
    with pytest.raises(AssertionError, match="missing"):
        parse_user_creation("user 4 (dashboard) in organisation 1\nAPI key (shown once): tk_x\n")
