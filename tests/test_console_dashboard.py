"""The supervisors' dashboard, on both backends: four reports driven through the services to
known figures weeks ago, then the page read in real headless Chromium (figures, table, charts,
CSV downloads, axe, Hindi) and refused to a caseworker; the filters' refusals through the
TestClient."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from conftest import new_case
from console.browser import CHROMIUM_ARGS, PageWatch, axe_source, chromium_path
from console.flows import choose_language, path_of, sign_in
from console_client import PASSWORD, give_password, signed_in
from playwright.sync_api import Browser, Page, sync_playwright
from sqlmodel import col, select

from platform_adapters.simulators.runner import LoopbackServer
from tracker.checks.service import record_check
from tracker.db import set_clock, utcnow
from tracker.filings.models import Filing
from tracker.reports.models import Report
from tracker.scorecards.export import columns
from workers import jobs

DEVANAGARI = re.compile("[\u0900-\u097f]")
#: English words of the page that the Hindi page must not show.
NEW_ENGLISH = (
    "Dashboard",
    "Removal rate",
    "Median time to removal",
    "Nine in ten removed within",
    "Removed within the deadline",
    "Download the breakdown",
    "Broken down by",
    "Over time",
)


class Clock:
    """The tracker's clock, moved by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def move(self, **step: float) -> None:
        self.at += timedelta(**step)


@dataclass(frozen=True)
class History:
    """When the reports were first filed (two ISO weeks), and a case label never shown."""

    first_day: date
    second_day: date
    label: str
    urls: tuple[str, ...]


def _log(client: Any, people: Any, label: str, url: str) -> int:
    case_id = new_case(client, people, label=label)
    response = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": [url]}, headers=people.auth("alice")
    )
    assert response.status_code == 200, response.text
    return int(response.json()["results"][0]["report_id"])


def _filing(db: Any, report_id: int) -> Filing:
    with db.session() as session:
        return session.exec(
            select(Filing).where(Filing.report_id == report_id).order_by(col(Filing.id))
        ).first()


def _check(db: Any, report_id: int, verdict: str) -> None:
    with db.transaction() as session:
        record_check(
            session=session,
            report_id=report_id,
            checked_at=utcnow(),
            verdict=verdict,
            reason="test",
            http_status=None,
            final_url=None,
            fingerprint=None,
            latency_ms=1,
            error=None,
        )


def _state(db: Any, report_id: int) -> str:
    with db.session() as session:
        report = session.get(Report, report_id)
        assert report is not None
        return str(report.state)


def _file_by_hand(client: Any, people: Any, db: Any, report_id: int, wait: Clock | None) -> None:
    """The web-form packet is ready now; the caseworker submits it (an hour later, when
    ``wait`` is the clock to move) and records the platform's reference."""
    filing = _filing(db, report_id)
    jobs.file_filing(filing.id, db=db)
    assert _state(db, report_id) == "awaiting_manual"
    if wait is not None:
        wait.move(hours=1)
    confirmed = client.post(
        f"/api/v1/filings/{filing.id}/confirm",
        json={"reference_id": f"FAKE-REF-{report_id}"},
        headers=people.auth("alice"),
    )
    assert confirmed.status_code == 200, confirmed.text
    assert _state(db, report_id) == "filed"


@pytest.fixture
def history(client: Any, people: Any, db: Any) -> Iterator[History]:
    """Four reports submitted by hand (web forms: the tracker's clock says when) on two days,
    three and two weeks ago (the test policy's first deadline is 6 seconds):

    - X, A: removed 4 s after filing, within the deadline (its time bucket reads 15 min);
    - X, B: removed 26 h after filing, long after the deadline;
    - YouTube, C: still up at the deadline, escalated to the grievance officer;
    - Facebook, D: its packet waited an hour for the caseworker; still up.
    """
    today = datetime.now(UTC).date()
    first_day, second_day = today - timedelta(days=20), today - timedelta(days=13)
    clock = Clock(datetime(first_day.year, first_day.month, first_day.day, 10, tzinfo=UTC))
    label = f"Case FAKE-DASHBOARD-{time.monotonic_ns()}"
    tag = time.monotonic_ns()
    urls = (
        f"https://x.com/fakeuser/status/{tag}1",
        f"https://x.com/fakeuser/status/{tag}2",
        f"https://www.youtube.com/watch?v=fake{tag}",
        f"https://www.facebook.com/fakeprofile/videos/{tag}",
    )
    set_clock(clock)
    try:
        a = _log(client, people, label, urls[0])
        _file_by_hand(client, people, db, a, None)
        clock.move(seconds=2)
        _check(db, a, "removed")
        clock.move(seconds=2)
        _check(db, a, "removed")
        assert _state(db, a) == "removed"

        clock.move(hours=1)
        b = _log(client, people, label, urls[1])
        _file_by_hand(client, people, db, b, None)
        clock.move(hours=25, minutes=59)
        _check(db, b, "removed")
        clock.move(minutes=1)
        _check(db, b, "removed")
        assert _state(db, b) == "removed"

        clock.at = datetime(second_day.year, second_day.month, second_day.day, 9, tzinfo=UTC)
        c = _log(client, people, label, urls[2])
        _file_by_hand(client, people, db, c, None)
        clock.move(seconds=10)
        _check(db, c, "live")
        assert jobs.escalate_report(c, db=db) is True

        clock.move(hours=1)
        d = _log(client, people, label, urls[3])
        _file_by_hand(client, people, db, d, clock)
    finally:
        set_clock(None)
    yield History(first_day=first_day, second_day=second_day, label=label, urls=urls)


def _week(day: date) -> str:
    return (day - timedelta(days=day.weekday())).isoformat()


# -- in Chromium ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (never Playwright's own download), one per module."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def server(db: Any) -> Iterator[LoopbackServer]:
    """The tracker on this backend's database, served on loopback for the browser."""
    from tracker.api.app import create_app

    with LoopbackServer(create_app(db), name="console-dashboard") as running:
        yield running


@pytest.fixture
def open_page(server: LoopbackServer, browser: Browser) -> Iterator[Any]:
    """Watched pages, each in its own context: nothing from another origin, no page error."""
    watch = PageWatch(origin=server.base_url)
    contexts = []

    def open_one() -> Page:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, base_url=server.base_url, accept_downloads=True
        )
        context.set_default_timeout(10_000)
        watch.attach(context)
        contexts.append(context)
        return context.new_page()

    open_one.watch = watch  # type: ignore[attr-defined]
    yield open_one
    for context in contexts:
        context.close()
    watch.check()


def _axe_violations(page: Page) -> list[str]:
    """Every axe-core violation on the page, whatever its impact."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}" for v in found]


def _figure(page: Page, name: str) -> str:
    return page.inner_text(f"#total-{name} dd").strip()


def _cells(page: Page, selector: str) -> list[str]:
    return [text.strip() for text in page.locator(f"{selector} > *").all_inner_texts()]


def _download(page: Page, button: str) -> list[dict[str, str]]:
    with page.expect_download() as info:
        page.click(button)
    download = info.value
    path = download.path()
    assert path is not None
    text = path.read_text(encoding="utf-8")
    header = text.splitlines()[0].split(",")
    return [{"__header__": ",".join(header)}, *csv.DictReader(io.StringIO(text))]


def test_a_supervisor_reads_the_dashboard_in_chromium(
    history: History, people: Any, open_page: Any, server: LoopbackServer
) -> None:
    give_password(people, "supervisor")
    page = open_page()
    sign_in(page, "supervisor", PASSWORD)
    nav = page.locator("header nav a[href='/dashboard']")
    assert nav.count() == 1
    with page.expect_navigation():
        nav.click()
    assert path_of(page) == "/dashboard"
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.title().startswith("Dashboard ·")

    # The defaults: the last 90 days to today, per week, by platform.
    today = datetime.now(UTC).date()
    assert page.input_value("#filter-from") == (today - timedelta(days=89)).isoformat()
    assert page.input_value("#filter-to") == today.isoformat()
    assert page.input_value("#filter-period") == "week"
    assert page.input_value("#filter-breakdown") == "platform"

    assert _figure(page, "filed") == "4"
    assert _figure(page, "removed") == "2"
    assert _figure(page, "removal-rate") == "50%"
    assert _figure(page, "median") == "15 min"
    assert _figure(page, "p90") == "26 h"
    assert _figure(page, "within-deadline") == "25%"
    assert _figure(page, "rejection-rate") == "0%"
    assert _figure(page, "escalation-rate") == "25%"
    assert _figure(page, "reappearance-rate") == "0%"
    assert _figure(page, "waiting") == "15 min"  # an hour's wait over four reports

    table = page.locator("table#breakdown")
    assert table.locator("caption").inner_text().startswith("The figures by platform")
    assert table.locator("thead th[scope='col']").count() == 10
    assert _cells(page, "#breakdown tr[data-value='x']") == [
        "X (formerly Twitter)",
        "2",
        "2",
        "100%",
        "15 min",
        "26 h",
        "50%",
        "0%",
        "0%",
        "0%",
    ]
    assert table.locator("tr[data-value='x'] th[scope='row']").count() == 1
    assert _cells(page, "#breakdown tr[data-value='youtube']") == [
        "YouTube",
        "1",
        "0",
        "0%",
        "—",
        "—",
        "0%",
        "0%",
        "100%",
        "—",
    ]
    assert [row.get_attribute("data-value") for row in table.locator("tbody tr").all()] == [
        "facebook",
        "x",
        "youtube",
    ]
    first_week = page.locator(f"#per-period tr[data-period='{_week(history.first_day)}'] td")
    assert first_week.all_inner_texts()[:3] == ["2", "2", "100%"]

    # Three charts, each an image with a name, drawn in the page (no script, no request).
    names = {
        "chart-filed-removed": "Reports filed and removed per week",
        "chart-removal-rate": "Removal rate per week",
        "chart-median": "Median time to removal by platform",
    }
    for chart_id, name in names.items():
        chart = page.locator(f"svg#{chart_id}")
        assert chart.get_attribute("role") == "img"
        assert chart.get_attribute("viewBox", timeout=1000)
        assert page.get_by_role("img", name=name).count() == 1, name
        assert chart.locator("title").text_content() == name
    weeks = date.fromisoformat(_week(today)) - date.fromisoformat(_week(today - timedelta(89)))
    week_count = weeks.days // 7 + 1
    assert page.locator("svg#chart-filed-removed rect.series-1").count() == week_count
    assert page.locator("svg#chart-median rect").count() == 1  # only X had removals
    # A chart scales with the page: its width follows the column, its view box stays.
    page.set_viewport_size({"width": 390, "height": 844})
    phone_width = page.locator("svg#chart-median").bounding_box()
    assert phone_width is not None and phone_width["width"] < 390
    page.set_viewport_size({"width": 1280, "height": 900})

    # Aggregates only: no case label, no reported URL, no victim's anything.
    content = page.content()
    assert history.label not in content
    for url in history.urls:
        assert url not in content
    assert "/videos/" not in content and "FAKE-REF" not in content and "x.com" not in content

    assert _axe_violations(page) == []

    # The downloads are the scorecard's CSV and the trend's, as the API exports them.
    breakdown = _download(page, "#download-scorecard")
    assert breakdown[0]["__header__"] == ",".join(columns(trend=False))
    by_platform = {row["platform"]: row for row in breakdown[1:]}
    assert set(by_platform) == {"facebook", "x", "youtube"}
    x_row = by_platform["x"]
    assert (x_row["filed"], x_row["removed"], x_row["removal_rate"]) == ("2", "2", "1.0")
    assert x_row["p90_seconds_to_removal"] == str(26 * 3600)
    assert by_platform["youtube"]["escalated_to_grievance_officer"] == "1"
    per_week = _download(page, "#download-trend")
    assert per_week[0]["__header__"] == ",".join(columns(trend=True))
    periods = {row["period_start"]: row for row in per_week[1:]}
    assert len(periods) == week_count
    second_week = periods[_week(history.second_day)]
    assert (second_week["filed"], second_week["escalated"]) == ("2", "1")

    # Other days, per month, by rung: the form is a plain GET.
    page.fill("#filter-from", history.first_day.isoformat())
    page.fill("#filter-to", history.first_day.isoformat())
    page.select_option("#filter-period", "month")
    page.select_option("#filter-breakdown", "rung")
    with page.expect_navigation():
        page.locator("form[action='/dashboard'] button[type='submit']").click()
    assert _figure(page, "filed") == "2"
    assert _cells(page, "#breakdown tr[data-value='platform']")[:4] == [
        "The platform",
        "2",
        "2",
        "100%",
    ]
    assert page.get_by_role("img", name="Removal rate per month").count() == 1
    assert _axe_violations(page) == []


def test_the_dashboard_speaks_hindi(history: History, people: Any, open_page: Any) -> None:
    give_password(people, "supervisor")
    page = open_page()
    sign_in(page, "supervisor", PASSWORD)
    choose_language(page, "hi")
    page.goto("/dashboard")
    assert page.locator("html").get_attribute("lang") == "hi"
    assert DEVANAGARI.search(page.inner_text("h1"))
    assert DEVANAGARI.search(page.inner_text("header nav a[href='/dashboard']"))
    text = page.inner_text("main")
    for english in NEW_ENGLISH:
        assert english not in text, english
    assert _figure(page, "filed") == "4"
    assert _figure(page, "p90") == "26 घंटे"
    assert _figure(page, "median") == "15 मिनट"
    for chart_id in ("chart-filed-removed", "chart-removal-rate", "chart-median"):
        name = page.locator(f"svg#{chart_id} title").text_content() or ""
        assert DEVANAGARI.search(name), name
        assert page.get_by_role("img", name=name).count() == 1
    assert DEVANAGARI.search(page.inner_text("#breakdown caption"))
    assert _axe_violations(page) == []


def test_a_caseworker_cannot_open_the_dashboard(
    history: History, people: Any, open_page: Any
) -> None:
    give_password(people, "alice")
    page = open_page()
    open_page.watch.expect_console_error(r"status of 403")
    sign_in(page, "alice", PASSWORD)
    assert page.locator("header nav a[href='/dashboard']").count() == 0
    for path in ("/dashboard", "/dashboard/scorecard.csv", "/dashboard/trend.csv"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        assert page.locator("h1").inner_text().strip() == "Not available to you"
        assert "Filed" not in page.inner_text("main")


# -- the filters' refusals (TestClient) --------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2025-02-30", "from"),
        ("from=yesterday", "from"),
        ("to=1999-12-31", "to"),
        ("from=2025-03-02&to=2025-03-01", "from"),
        ("from=2020-01-01&to=2025-12-31", "to"),
        ("from=2025-01-01&to=2026-03-01&period=day", "to"),
        ("period=year", "period"),
        ("breakdown=case", "breakdown"),
        ("from=" + "9" * 500, "from"),
        ("breakdown=%3Cscript%3E", "breakdown"),
    ],
)
def test_a_bad_filter_is_named_on_its_field(
    client: Any, people: Any, query: str, field: str
) -> None:
    supervisor = signed_in(client, people, "supervisor")
    page = supervisor.get(f"/dashboard?{query}")
    assert page.status_code == 400, page.text
    errors = re.findall(r'class="field-error" id="error-([a-z]+)"', page.text)
    assert errors == [field]
    assert f'aria-describedby="error-{field}"' in page.text
    assert 'id="totals"' not in page.text and "download-scorecard" not in page.text


def test_a_bad_download_is_the_error_page_and_a_good_one_is_csv(
    client: Any, people: Any, history: History
) -> None:
    supervisor = signed_in(client, people, "supervisor")
    refused = supervisor.get("/dashboard/scorecard.csv?breakdown=case_label")
    assert refused.status_code == 400
    assert "text/html" in refused.headers["content-type"]
    assert "Choose what to break the figures down by from the list." in refused.text
    too_long = supervisor.get("/dashboard/trend.csv?from=2025-01-01&to=2026-03-01&period=day")
    assert too_long.status_code == 400 and "at most 366 days" in too_long.text

    first = history.first_day.isoformat()
    answer = supervisor.get(f"/dashboard/scorecard.csv?from={first}&to={first}&breakdown=rung")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="scorecard-rung-{first}-{first}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(row["rung"], row["filed"], row["removed_within_deadline"]) for row in rows] == [
        ("platform", "2", "1")
    ]
    # The same bytes as the API's export for a dashboard key.
    api = client.get(
        f"/api/v1/scorecards/export?format=csv&from={first}&to={first}&group_by=rung",
        headers=people.auth("dashboard"),
    )
    assert api.status_code == 200 and api.content == answer.content
    week = _week(history.second_day)
    trend = supervisor.get(f"/dashboard/trend.csv?from={week}&to={week}&period=week")
    api_trend = client.get(
        f"/api/v1/scorecards/trends/export?format=csv&period=week&from={week}&to={week}",
        headers=people.auth("dashboard"),
    )
    assert trend.status_code == 200 and api_trend.status_code == 200
    assert trend.content == api_trend.content and trend.text.count("\n") == 2


def test_an_empty_range_shows_zeros_and_no_median_chart(client: Any, people: Any) -> None:
    supervisor = signed_in(client, people, "supervisor")
    page = supervisor.get("/dashboard?from=2024-01-01&to=2024-01-31&period=day")
    assert page.status_code == 200
    assert re.search(r'id="total-filed"><dt>[^<]+</dt><dd>0</dd>', page.text)
    assert 'id="breakdown-empty"' in page.text and 'id="chart-median"' not in page.text
    assert page.text.count('class="series-0"') == 31  # a zero-high bar per day
