"""PostgreSQL goes down and comes back while caseworkers keep logging URLs. Requests during the
outage fail fast with the error envelope and write nothing; the API, the scheduler and the
workers reconnect by themselves; every report taken is checked and filed exactly once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from processes import Processes, wait_for

from .servers import PrivatePostgres, PrivateRedis
from .stack import Tracker

OUTAGE_SECONDS = 3.0
REQUEST_INTERVAL_SECONDS = 0.2
#: A request during the outage must fail, not hang: this is "fast".
FAILURE_LIMIT_SECONDS = 5.0


@dataclass
class Intake:
    url: str
    sent_at: float
    status: int | None  # None: no HTTP answer at all
    elapsed: float
    body: Any


class Load:
    """Logs one new URL after another in a background thread, recording every answer."""

    def __init__(self, tracker: Tracker, case_id: int, prefix: str) -> None:
        self.client = httpx.Client(
            base_url=tracker.api,
            headers={"Authorization": f"Bearer {tracker.key}"},
            timeout=30,
        )
        self.path = f"/api/v1/cases/{case_id}/reports"
        self.prefix = prefix
        self.intakes: list[Intake] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exception_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self.client.close()

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            url = f"{self.prefix}-{number}"
            number += 1
            sent_at = time.monotonic()
            try:
                answer = self.client.post(self.path, json={"urls": [url]})
                status, body = answer.status_code, _json(answer)
            except httpx.HTTPError as error:
                status, body = None, repr(error)
            self.intakes.append(Intake(url, sent_at, status, time.monotonic() - sent_at, body))
            self._stop.wait(REQUEST_INTERVAL_SECONDS)


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return answer.text


@pytest.mark.reliability
def test_postgres_restart_under_load(
    processes: Processes,
    private_postgres: PrivatePostgres,
    private_redis: PrivateRedis,
    platform: Any,
) -> None:
    processes.environment["TRACKER_SANDBOX_BASE_URL"] = platform.base_url
    tracker = Tracker(processes, database_url=private_postgres.url, redis_url=private_redis.url)
    try:
        tracker.prepare()
        tracker.start_api()
        tracker.start_scheduler()
        tracker.start_worker(concurrency=2)
        case_id = tracker.new_case()
        prefix = f"{platform.base_url}/videos/comply-pg-{time.monotonic_ns()}"

        with Load(tracker, case_id, prefix) as load:
            time.sleep(2)
            private_postgres.stop()
            down_at = time.monotonic()
            wait_for(
                lambda: (
                    (answer := tracker.readyz())[0] == 503
                    # The key cannot be checked while the database is away: status only.
                    and answer[1] == {"status": "not_ready"}
                ),
                timeout=10,
                what="/readyz to report the database unavailable",
                processes=processes,
            )
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
            private_postgres.start()
            up_at = time.monotonic()
            wait_for(
                lambda: any(i.status == 200 and i.sent_at > up_at for i in load.intakes),
                timeout=30,
                what="intake to succeed again after PostgreSQL came back",
                processes=processes,
            )
            recovered_after = min(
                i.sent_at for i in load.intakes if i.status == 200 and i.sent_at > up_at
            )
            time.sleep(2)  # more load on the recovered database

        for name in ("serve", "scheduler", "worker"):
            assert processes.is_running(name), f"{name} died\n{processes.logs()}"
        assert tracker.readyz()[0] == 200, tracker.readyz()
        assert recovered_after - up_at < 15, "the API took too long to reconnect"

        accepted = {i.url: i for i in load.intakes if i.status == 200}
        refused = [i for i in load.intakes if i.status != 200]
        assert refused, "no request met the outage: the scenario tested nothing"
        assert any(i.sent_at > up_at for i in accepted.values())
        for intake in refused:
            # Failed fast, with the one error envelope; never a hang or a half-written answer.
            assert intake.status == 503, intake
            assert intake.elapsed < FAILURE_LIMIT_SECONDS, intake
            assert isinstance(intake.body, dict), intake
            assert [item["type"] for item in intake.body["detail"]] == ["service.unavailable"]
        # Nothing from a refused request was written; everything accepted was.
        logged = {
            row.canonical_url
            for row in tracker.rows(
                "SELECT canonical_url FROM reports WHERE case_id = :case_id", case_id=case_id
            )
        }
        assert logged == set(accepted), logged ^ set(accepted)

        # The caseworker logs the refused URLs again; everything is then checked and filed.
        retried = tracker.intake(case_id, [intake.url for intake in refused])
        report_ids = [int(i.body["results"][0]["report_id"]) for i in accepted.values()]
        tracker.wait_all_done(
            report_ids + retried, timeout=60, what="every report to be checked and filed"
        )
        for url in [*accepted, *(intake.url for intake in refused)]:
            listed = httpx.get(
                f"{platform.base_url}/api/v1/reports",
                params={"url": url, "channel": "platform"},
                headers={"Authorization": "Bearer sandbox-token"},
                timeout=10,
            ).json()
            assert listed["total"] == 1, (url, listed)
    finally:
        tracker.close()
