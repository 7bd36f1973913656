#!/usr/bin/env python3
"""Screenshots of every console page, desktop and phone, from the demo's data.

    .venv/bin/python scripts/screenshots.py            # writes docs/screenshots/*.png
    .venv/bin/python scripts/screenshots.py dashboard  # only the pages named

Starts ``tracker serve --demo`` in a throwaway folder (its own database, sandbox simulator and
mail sink, all on loopback), waits for the demo's reports to be filed, checked and for a web-form
packet to appear, signs in as the demo people in headless Debian Chromium (Playwright driving
/usr/bin/chromium) and saves each page at 1280 px and at 390 px wide. The demo holds only
fictional cases, sandbox URLs and made-up history (the dashboard's): nothing real is ever
photographed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait(condition: Callable[[], object], seconds: float, what: str) -> object:
    """Poll until ``condition`` is truthy; exit with a message after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    sys.exit(f"screenshots: timed out waiting for {what}")


def start_demo(folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """``tracker serve --demo``; its address and the demo password it printed."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    environment["TRACKER_DATA_DIR"] = str(folder / "data")
    log = (folder / "serve.log").open("wb")
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tracker.cli", "serve", "--demo", "--port", str(port)],
        cwd=folder,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def password() -> str | None:
        found = re.search(
            r"password (\S+) \(new at every demo start\)", (folder / "serve.log").read_text()
        )
        return found.group(1) if found else None

    secret = wait(password, 60, "the demo to start")
    wait(lambda: httpx.get(f"{base}/healthz").status_code == 200, 30, "the console")
    return child, base, str(secret)


def sign_in(page: Page, login: str, password: str) -> None:
    """Sign in through the form."""
    page.goto("/sign-in")
    page.fill("#login", login)
    page.fill("#password", password)
    with page.expect_navigation():
        page.locator('form[action="/sign-in"] button[type="submit"]').click()


#: The pages to photograph (every page when none is named on the command line).
ONLY = set(sys.argv[1:])


def shoot(page: Page, name: str) -> None:
    """Save the page at desktop and phone widths."""
    if ONLY and name not in ONLY:
        return
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)  # type: ignore[arg-type]
        page.wait_for_timeout(150)
        page.screenshot(path=str(OUT / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    print(f"  {name}")


def first_link(page: Page, selector: str) -> str:
    """The href of the first element matching ``selector`` (exits when there is none)."""
    found = page.locator(selector)
    if found.count() == 0:
        sys.exit(f"screenshots: nothing matches {selector} on {page.url}")
    return str(found.first.get_attribute("href"))


def main() -> None:
    """Start the demo, wait for its data, and photograph every page."""
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("screenshots: Debian's chromium is needed (apt-get install -y chromium)")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temporary:
        child, base, password = start_demo(Path(temporary))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport=DESKTOP, base_url=base)  # type: ignore[arg-type]
                page = context.new_page()
                page.goto("/sign-in")
                shoot(page, "sign-in")
                sign_in(page, "demo.caseworker", password)

                def packet_ready() -> bool:
                    page.goto("/")
                    return page.locator('a[href^="/filings/"]').count() > 0

                wait(packet_ready, 120, "the demo's first web-form packet")
                shoot(page, "queue")
                page.goto("/cases")
                shoot(page, "cases")
                case = first_link(page, 'main a[href^="/cases/"][href$="1"]')
                page.goto(case)
                shoot(page, "case")
                page.goto(f"{case}/urls")
                shoot(page, "add-urls")
                page.goto("/cases/new")
                shoot(page, "new-case")
                page.goto(case)
                page.goto(first_link(page, 'main a[href^="/reports/"]'))
                shoot(page, "report")
                page.goto("/")
                page.goto(first_link(page, 'main a[href^="/filings/"]'))
                shoot(page, "packet")
                page.goto("/account")
                shoot(page, "account")
                context.close()

                context = browser.new_context(viewport=DESKTOP, base_url=base)  # type: ignore[arg-type]
                page = context.new_page()
                sign_in(page, "demo.admin", password)
                for path, name in (
                    ("/alerts", "alerts"),
                    ("/notifications", "notifications"),
                    ("/users", "users"),
                    ("/settings", "settings"),
                ):
                    page.goto(path)
                    shoot(page, name)
                context.close()

                context = browser.new_context(viewport=DESKTOP, base_url=base)  # type: ignore[arg-type]
                page = context.new_page()
                sign_in(page, "demo.supervisor", password)
                page.goto("/dashboard")
                shoot(page, "dashboard")
                context.close()
                browser.close()
        finally:
            child.terminate()
            child.wait(timeout=30)
    print(f"screenshots in {OUT.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
