"""A Celery worker is killed with SIGKILL (with its pool) while a re-check batch and a filing are
in flight. Nothing acknowledges its messages and nothing clears its leases: the scheduler's
sweeps find the claimed rows once their leases expire and a replacement worker finishes them.
Every report is checked, and every filing is on the platform exactly once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from processes import Processes, wait_for

from .servers import PlatformProxy
from .stack import Tracker, parse_time

REPORTS = 8
LEASE_SECONDS = 6.0
PAGE_DELAY = 2.0  # each page of the killed batch takes this long
POST_DELAY = 1.5  # the platform takes a report, then answers this much later
#: More slots than filings fit at once, so a batch and a filing always run side by side.
WORKER_SLOTS = 6


def _platform_reports(platform_url: str, url: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{platform_url}/api/v1/reports",
        params={"url": url, "channel": "platform"},
        headers={"Authorization": "Bearer sandbox-token"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


@pytest.mark.reliability
def test_killed_worker_loses_nothing(
    processes: Processes, tracker_on_shared_postgres: Tracker, platform: Any
) -> None:
    tracker = tracker_on_shared_postgres
    with PlatformProxy(platform.base_url) as proxy:
        processes.environment.update(
            {
                "TRACKER_SANDBOX_BASE_URL": proxy.base_url,
                "TRACKER_LEASE_SECONDS": str(LEASE_SECONDS),
                "TRACKER_RECHECK_BATCH_SIZE": "2",
            }
        )
        proxy.behaviour.page_delay = PAGE_DELAY
        proxy.behaviour.post_delay = POST_DELAY
        tracker.prepare()
        tracker.start_api()
        tracker.start_scheduler()
        tracker.start_worker("worker-a", concurrency=WORKER_SLOTS)

        case_id = tracker.new_case()
        stamp = time.monotonic_ns()
        urls = [f"{proxy.base_url}/videos/comply-kill-{stamp}-{n}" for n in range(REPORTS)]
        report_ids = tracker.intake(case_id, urls)
        by_url = dict(zip(urls, report_ids, strict=True))

        # Kill when a re-check batch and a filing are both half-way through.
        def both_in_flight() -> bool:
            # Only requests young enough to still be unanswered when the kill lands: one caught
            # in the last moments of its delay would be answered before the worker dies.
            now = time.time()
            pages = [
                e
                for e in proxy.flying("GET")
                if e.path.startswith("/videos/") and now - e.arrived < PAGE_DELAY / 2
            ]
            posts = [e for e in proxy.flying("POST") if e.url and now - e.arrived < POST_DELAY / 2]
            return bool(pages and posts)

        wait_for(
            both_in_flight,
            timeout=30,
            what="a re-check batch and a filing in flight on worker-a",
            processes=processes,
        )
        caught = proxy.flying("GET") + proxy.flying("POST")
        processes.kill("worker-a")
        killed_at = datetime.now(UTC)
        # Only what was still unanswered when the worker died: it cannot have recorded those.
        dead = [e for e in caught if e.answered is None or e.answered >= killed_at.timestamp()]
        pages_in_flight = {
            proxy.base_url + e.path
            for e in dead
            if e.method == "GET" and e.path.startswith("/videos/")
        }
        posts_in_flight = {e.url for e in dead if e.method == "POST" and e.url}
        assert processes.child("worker-a").returncode == -9
        assert pages_in_flight and posts_in_flight, (pages_in_flight, posts_in_flight)

        # What the dead worker held, as the database says right after the kill.
        leased_checks = {
            row.id: row.check_lease_until
            for row in tracker.rows(
                "SELECT id, check_lease_until FROM reports WHERE id = ANY(:ids)",
                ids=[by_url[url] for url in pages_in_flight],
            )
        }
        assert all(lease is not None and lease > killed_at for lease in leased_checks.values()), (
            leased_checks
        )
        submitting = {
            row.report_id: row.status
            for row in tracker.rows(
                "SELECT report_id, status FROM filings WHERE report_id = ANY(:ids) "
                "AND rung_target = 'platform'",
                ids=[by_url[url] for url in posts_in_flight if url in by_url],
            )
        }
        assert set(submitting.values()) == {"submitting"}, submitting

        # A replacement worker comes up (as a supervisor process would start one).
        tracker.start_worker("worker-b", concurrency=4)
        tracker.wait_all_done(
            report_ids, timeout=60, what="every report checked and filed after the kill"
        )

        for url, report_id in by_url.items():
            report = tracker.report(report_id)
            assert report["checks"], f"report {report_id} was never checked"
            assert report["state"] == "filed", report["transitions"]
            ladder = [filing for filing in report["filings"] if filing["rung_target"] == "platform"]
            assert len(ladder) == 1, report["filings"]
            on_platform = _platform_reports(platform.base_url, url)
            assert len(on_platform) == 1, f"{url} filed {len(on_platform)} times: {on_platform}"
            assert ladder[0]["external_ref"] == on_platform[0]["id"]
            assert ladder[0]["status"] == "submitted"
            successes = [a for a in ladder[0]["attempts"] if a["outcome"] == "succeeded"]
            assert len(successes) == 1, ladder[0]["attempts"]

        # The killed batch: checked again only after its lease expired, by the new worker.
        for report_id, lease in leased_checks.items():
            first = min(
                parse_time(check["checked_at"]) for check in tracker.report(report_id)["checks"]
            )
            assert first >= lease, (report_id, first, lease)

        # The killed filing: the platform had taken it; the retry under the same idempotency
        # key found it instead of filing a second report.
        for url in posts_in_flight:
            assert len(proxy.report_posts(url)) >= 2, proxy.report_posts(url)
            filing = next(
                f for f in tracker.report(by_url[url])["filings"] if f["rung_target"] == "platform"
            )
            assert filing["attempt_count"] >= 2, filing

        assert "tracker.recheck_batch" in processes.log("worker-b")
        assert "tracker.file_filing" in processes.log("worker-b")
