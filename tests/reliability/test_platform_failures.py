"""The platform's reporting API misbehaves: 500s, 429 and 503 with Retry-After, and answers that
come after the client gave up although the platform had taken the report. Every filing is
retried with back-off, never sooner than Retry-After, every attempt is recorded, and each URL is
on the platform exactly once.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx
import pytest
from processes import Processes, wait_for

from .servers import PlatformProxy
from .stack import Tracker, parse_time

REPORTS = 4
RETRY_BASE_SECONDS = 0.2
CLIENT_TIMEOUT_SECONDS = 1.0
HOLD_SECONDS = 2.5  # a taken report is answered this late: the client has timed out
#: (status, Retry-After, how many): injected through the simulator's ``/_sim/fail-next``.
FAILURES = [(500, None, 2), (429, 2.0, 2), (503, 1.0, 1)]
TIMEOUTS = 2
RETRY_AFTER = {status: retry_after or 0.0 for status, retry_after, _ in FAILURES}
#: Both timestamps come from one clock; this covers rounding in storage and serialisation.
CLOCK_SLACK_SECONDS = 0.01


def _sim(platform_url: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": "Bearer sandbox-token"}
    return httpx.request(method, f"{platform_url}{path}", headers=headers, timeout=10, **kwargs)


@pytest.mark.reliability
def test_platform_failures_are_retried_and_filed_once(
    processes: Processes, tracker_on_shared_postgres: Tracker, platform: Any
) -> None:
    tracker = tracker_on_shared_postgres
    with PlatformProxy(platform.base_url) as proxy:
        processes.environment.update(
            {
                "TRACKER_SANDBOX_BASE_URL": proxy.base_url,
                "TRACKER_OUTBOUND_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT_SECONDS),
                "TRACKER_FILING_RETRY_BASE_SECONDS": str(RETRY_BASE_SECONDS),
                "TRACKER_FILING_MAX_ATTEMPTS": "12",
                # Longer than any job waits in the queue here, so no filing job is sent twice
                # (that case is the next test).
                "TRACKER_LEASE_SECONDS": "10",
            }
        )
        tracker.prepare()
        tracker.start_api()
        tracker.start_scheduler()
        tracker.start_worker(concurrency=2)

        # The platform's next API calls fail, in this order, then two taken reports time out.
        for status, retry_after, count in FAILURES:
            body = {"status": status, "retry_after": retry_after, "count": count}
            queued = _sim(platform.base_url, "POST", "/_sim/fail-next", json=body)
            assert queued.status_code == 200, queued.text
        proxy.behaviour.hold_successes = TIMEOUTS
        proxy.behaviour.hold_seconds = HOLD_SECONDS

        case_id = tracker.new_case()
        stamp = time.monotonic_ns()
        urls = [f"{proxy.base_url}/videos/comply-flaky-{stamp}-{n}" for n in range(REPORTS)]
        report_ids = tracker.intake(case_id, urls)
        tracker.wait_all_done(report_ids, timeout=60, what="every filing to get through")

        outcomes: Counter[str] = Counter()
        for url, report_id in zip(urls, report_ids, strict=True):
            report = tracker.report(report_id)
            (filing,) = [f for f in report["filings"] if f["rung_target"] == "platform"]
            attempts = filing["attempts"]
            assert filing["status"] == "submitted", filing
            assert filing["attempt_count"] == len(attempts), filing
            # Every attempt before the last failed transiently; the last one succeeded.
            assert [a["outcome"] for a in attempts[:-1]] == ["transient_error"] * (
                len(attempts) - 1
            ), attempts
            assert attempts[-1]["outcome"] == "succeeded", attempts
            for number, (failed, retry) in enumerate(zip(attempts, attempts[1:]), start=1):
                kind = str(failed["http_status"]) if failed["http_status"] else "timeout"
                outcomes[kind] += 1
                if kind == "timeout":
                    assert "timed out" in (failed["error"] or ""), failed
                gap = (
                    parse_time(retry["started_at"]) - parse_time(failed["finished_at"])
                ).total_seconds()
                # Exponential back-off (jitter takes at most half off), never under Retry-After.
                backoff = RETRY_BASE_SECONDS * 2 ** (number - 1) * 0.5
                floor = max(RETRY_AFTER.get(failed["http_status"], 0.0), backoff)
                assert gap >= floor - CLOCK_SLACK_SECONDS, (url, number, failed, retry, gap, floor)
            outcomes["succeeded"] += 1

            # On the platform: exactly one report, the one the filing points at.
            listed = _sim(platform.base_url, "GET", "/api/v1/reports", params={"url": url}).json()
            assert listed["total"] == 1, listed
            assert listed["items"][0]["id"] == filing["external_ref"]

            # The platform's own view of the spacing: after an answer carrying Retry-After,
            # the next POST about the same URL arrives no sooner.
            posts = proxy.report_posts(url)
            assert len(posts) == len(attempts), (posts, attempts)
            for answered, following in zip(posts, posts[1:]):
                wait = RETRY_AFTER.get(answered.status or 0, 0.0)
                if wait and answered.answered is not None:
                    assert following.arrived - answered.answered >= wait, (answered, following)

        expected = {str(status): count for status, _, count in FAILURES}
        expected.update({"timeout": TIMEOUTS, "succeeded": REPORTS})
        assert dict(outcomes) == expected

        # Every POST that reached the platform's handler, timed-out ones included, carried
        # the filing's idempotency key, so repeats found the first report.
        stats = _sim(platform.base_url, "GET", "/_sim/stats").json()["report_posts"]
        held = Counter(e.url for e in proxy.exchanges if e.held)
        assert {url: stats.get(url) for url in urls} == {url: 1 + held[url] for url in urls}


RETRY_AFTER_SECONDS = 4.0


@pytest.mark.reliability
def test_retry_after_holds_when_a_filing_job_is_delivered_twice(
    processes: Processes, tracker_on_shared_postgres: Tracker, platform: Any
) -> None:
    """Jobs are delivered at least once: the sweep sends a filing again when its lease expires
    before a worker got to it (here: no worker yet). The second delivery must wait for the
    platform's Retry-After like the sweep does, not submit at once."""
    tracker = tracker_on_shared_postgres
    with PlatformProxy(platform.base_url) as proxy:
        processes.environment.update(
            {
                "TRACKER_SANDBOX_BASE_URL": proxy.base_url,
                "TRACKER_LEASE_SECONDS": "2",
            }
        )
        tracker.prepare()
        tracker.start_api()
        tracker.start_scheduler()
        body = {"status": 429, "retry_after": RETRY_AFTER_SECONDS, "count": 1}
        assert _sim(platform.base_url, "POST", "/_sim/fail-next", json=body).status_code == 200

        case_id = tracker.new_case()
        url = f"{proxy.base_url}/videos/comply-twice-{time.monotonic_ns()}"
        (report_id,) = tracker.intake(case_id, [url])
        # No worker yet: the lease expires and the sweep sends the filing's job again.
        wait_for(
            lambda: processes.log("scheduler").count("sweep_filings sent") >= 2,
            timeout=30,
            what="the filing's job to be sent again after its lease expired",
            processes=processes,
        )
        tracker.start_worker(concurrency=1)
        tracker.wait_all_done([report_id], timeout=60, what="the filing to get through")

        (filing,) = [
            f for f in tracker.report(report_id)["filings"] if f["rung_target"] == "platform"
        ]
        attempts = filing["attempts"]
        assert [a["http_status"] for a in attempts] == [429, 201], attempts
        gap = (
            parse_time(attempts[1]["started_at"]) - parse_time(attempts[0]["finished_at"])
        ).total_seconds()
        posts = proxy.report_posts(url)
        assert posts[0].status == 429 and posts[0].answered is not None, posts
        platform_gap = posts[1].arrived - posts[0].answered
        assert gap >= RETRY_AFTER_SECONDS - CLOCK_SLACK_SECONDS, (gap, attempts)
        assert platform_gap >= RETRY_AFTER_SECONDS, (platform_gap, posts)
        assert (
            _sim(platform.base_url, "GET", "/api/v1/reports", params={"url": url}).json()["total"]
            == 1
        )
