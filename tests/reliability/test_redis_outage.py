"""Redis dies (kill -9, no persistence: every queued message is lost) and comes back a while
later on the same port. Meanwhile the API keeps taking cases and reports quickly and says the
broker is unavailable; afterwards the sweeps send the backlog again and every report is checked
and filed exactly once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from processes import Processes, wait_for

from .servers import PrivateRedis
from .stack import Tracker, parse_time, timed

OUTAGE_BATCHES = 3
URLS_PER_BATCH = 4
#: What "the API keeps answering" means here: an intake while Redis is down, in seconds.
INTAKE_LIMIT_SECONDS = 3.0
OUTAGE_SECONDS = 8.0  # longer than the lease, so claims expire and are swept again meanwhile


def _platform_reports(platform_url: str, url: str) -> int:
    answer = httpx.get(
        f"{platform_url}/api/v1/reports",
        params={"url": url, "channel": "platform"},
        headers={"Authorization": "Bearer sandbox-token"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["total"])


@pytest.mark.reliability
def test_redis_outage_loses_nothing(
    processes: Processes,
    tracker_on_shared_postgres: Tracker,
    private_redis: PrivateRedis,
    platform: Any,
) -> None:
    tracker = tracker_on_shared_postgres
    processes.environment["TRACKER_SANDBOX_BASE_URL"] = platform.base_url
    tracker.prepare()
    tracker.start_api()
    tracker.start_scheduler()
    tracker.start_worker(concurrency=2)
    stamp = time.monotonic_ns()

    def urls(batch: str, count: int) -> list[str]:
        return [
            f"{platform.base_url}/videos/comply-redis-{stamp}-{batch}-{n}" for n in range(count)
        ]

    # Before: the pipeline works.
    case_id = tracker.new_case()
    before_urls = urls("before", 2)
    before = tracker.intake(case_id, before_urls)
    tracker.wait_all_done(before, timeout=60, what="the first reports, with Redis up")
    assert tracker.readyz()[0] == 200

    private_redis.kill()
    went_down = time.monotonic()
    wait_for(
        lambda: (
            (answer := tracker.readyz())[0] == 503
            and answer[1]["checks"]["broker"] == "unavailable"
        ),
        timeout=10,
        what="/readyz to report the broker unavailable",
        processes=processes,
    )
    status, body = tracker.readyz()
    assert body["status"] == "not_ready" and body["checks"]["database"] == "ok", body

    # During: a new case and several intakes are taken, promptly.
    durations: list[float] = []
    answer, elapsed = timed(
        lambda: tracker.client.post(
            "/api/v1/cases",
            json={"label": "Case REL-OUTAGE", "jurisdictions": ["IN"], "authority_to_act": True},
        )
    )
    assert answer.status_code == 201, answer.text
    durations.append(elapsed)
    outage_case = int(answer.json()["id"])
    outage_urls: list[str] = []
    outage_ids: list[int] = []
    for batch in range(OUTAGE_BATCHES):
        batch_urls = urls(f"down{batch}", URLS_PER_BATCH)
        answer, elapsed = timed(
            lambda batch_urls=batch_urls: tracker.client.post(
                f"/api/v1/cases/{outage_case}/reports", json={"urls": batch_urls}
            )
        )
        assert answer.status_code == 200, answer.text
        durations.append(elapsed)
        results = answer.json()["results"]
        assert [r["outcome"] for r in results] == ["created"] * URLS_PER_BATCH, results
        outage_urls += batch_urls
        outage_ids += [int(r["report_id"]) for r in results]
    assert max(durations) < INTAKE_LIMIT_SECONDS, f"API slow while Redis is down: {durations}"
    assert tracker.report(outage_ids[0])["state"] == "logged"

    # Nothing can be filed or checked while the broker is away.
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - went_down)))
    left = tracker.unfinished(outage_ids)
    assert left["unchecked"] == outage_ids and left["unfiled"] == outage_ids, left
    for name in ("serve", "scheduler", "worker"):
        assert processes.is_running(name), f"{name} died while Redis was down\n{processes.logs()}"

    # After: Redis is back, empty; the sweeps send the backlog again.
    came_back = datetime.now(UTC)
    private_redis.start()
    wait_for(
        lambda: tracker.readyz()[0] == 200,
        timeout=15,
        what="/readyz to be ready again once Redis is back",
        processes=processes,
    )
    assert tracker.readyz()[1]["checks"]["broker"] == "ok"
    tracker.wait_all_done(
        outage_ids, timeout=60, what="the backlog taken while Redis was down to drain"
    )
    for url, report_id in zip(outage_urls, outage_ids, strict=True):
        report = tracker.report(report_id)
        assert report["checks"], f"report {report_id} was never checked"
        assert min(parse_time(c["checked_at"]) for c in report["checks"]) >= came_back
        assert report["state"] == "filed", report["transitions"]
        assert _platform_reports(platform.base_url, url) == 1, url
    for url in before_urls:
        assert _platform_reports(platform.base_url, url) == 1, url
