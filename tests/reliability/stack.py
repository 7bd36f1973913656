"""The distributed tracker as real processes (`tracker serve|worker|scheduler`), driven through
its public API, and read back from its database to check what the API promises."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from conftest import TEST_KEY, TESTS
from processes import Processes, free_port, key_from, wait_for, wait_healthy
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

#: Seconds-scale settings so a crash, an outage and a recovery fit in a test.
FAST_DISTRIBUTED = {
    "PYTHONUNBUFFERED": "1",
    "TRACKER_ENVIRONMENT": "development",
    "TRACKER_RUN_MODE": "distributed",
    "TRACKER_ENCRYPTION_KEYS": TEST_KEY,
    "TRACKER_POLICY_DIRS": str(TESTS / "policies"),
    # Loopback is allowed only because the simulator and the proxy live there.
    "TRACKER_OUTBOUND_ALLOWLIST": "127.0.0.1",
    "TRACKER_SANDBOX_ENABLED": "true",  # the simulated platform exists only when enabled
    "TRACKER_SWEEP_INTERVAL_SECONDS": "0.3",
    "TRACKER_LEASE_SECONDS": "3",
    # One check per report is what the scenarios look for; no re-check storm meanwhile.
    "TRACKER_CHECK_INTERVAL_ACTIVE_SECONDS": "120",
    "TRACKER_CHECK_INTERVAL_ACKNOWLEDGED_SECONDS": "120",
    "TRACKER_POLL_INTERVAL_SECONDS": "120",
    "TRACKER_FILING_RETRY_BASE_SECONDS": "0.2",
    "TRACKER_OUTBOUND_TIMEOUT_SECONDS": "5",
    "TRACKER_SMTP_PORT": "1",  # nothing listens: no e-mail leaves a reliability test
}
#: A jurisdiction whose first deadline is hours away, so no report escalates during a test.
JURISDICTION = "IN"


def base_environment() -> dict[str, str]:
    """This process's environment without any ``TRACKER_`` setting, plus the fast ones."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("TRACKER_")
    }
    environment.update(FAST_DISTRIBUTED)
    return environment


class Tracker:
    """One distributed deployment: its processes, its API, and a read-only look at its database."""

    def __init__(self, processes: Processes, *, database_url: str, redis_url: str) -> None:
        self.processes = processes
        self.database_url = database_url
        processes.environment.update(
            {"TRACKER_DATABASE_URL": database_url, "TRACKER_REDIS_URL": redis_url}
        )
        self.api = ""
        self.key = ""
        self.metrics_key = ""
        self._client: httpx.Client | None = None
        # NullPool: every look opens a fresh connection, so a database restart needs no care.
        self._engine = create_engine(database_url, poolclass=NullPool)

    def prepare(self) -> None:
        """`tracker db upgrade`, then a supervisor and their API key."""
        assert "newest schema" in self.processes.run("db", "upgrade")
        self.key = key_from(
            self.processes.run(
                "users",
                "create",
                "--organisation",
                "Reliability helpline",
                "--name",
                "Reliability supervisor",
                "--role",
                "supervisor",
            )
        )
        # /readyz shows its checks only to an admin or metrics key.
        self.metrics_key = key_from(
            self.processes.run(
                "users",
                "create",
                "--organisation",
                "Reliability helpline",
                "--name",
                "Reliability scraper",
                "--role",
                "metrics",
            )
        )

    def start_api(self) -> None:
        """`tracker serve` on a free port; waits until it answers."""
        port = free_port()
        self.processes.start("serve", "serve", "--port", str(port))
        self.api = f"http://127.0.0.1:{port}"
        wait_healthy(self.api, self.processes)

    def start_worker(self, name: str = "worker", concurrency: int = 2) -> None:
        """A real Celery worker on every queue (prefork pool); waits until it consumes."""
        self.processes.start(name, "worker", "--concurrency", str(concurrency))
        self._wait_logged(name, " ready.", "to connect to Redis")

    def start_scheduler(self) -> None:
        """The one scheduler; waits until its sweeps are scheduled (database read, policies
        recorded), so a scenario never breaks a process that is still starting."""
        self.processes.start("scheduler", "scheduler")
        self._wait_logged("scheduler", "Scheduler started", "to start")

    def _wait_logged(self, name: str, line: str, what: str) -> None:
        wait_for(
            lambda: line in self.processes.log(name),
            timeout=60,
            what=f"{name} {what}",
            processes=self.processes,
        )

    def close(self) -> None:
        """Release the HTTP client and the database engine (the processes stop elsewhere)."""
        if self._client is not None:
            self._client.close()
        self._engine.dispose()

    @property
    def client(self) -> httpx.Client:
        """An API client authenticated as the supervisor."""
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.api,
                headers={"Authorization": f"Bearer {self.key}"},
                timeout=30,
            )
        return self._client

    def new_case(self, label: str = "Case REL-FAKE") -> int:
        """A case with authority to act, so every report is filed."""
        body = {"label": label, "jurisdictions": [JURISDICTION], "authority_to_act": True}
        answer = self.client.post("/api/v1/cases", json=body)
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    def intake(self, case_id: int, urls: list[str]) -> list[int]:
        """Log URLs in a case; every one must be created. Returns report ids in order."""
        answer = self.client.post(f"/api/v1/cases/{case_id}/reports", json={"urls": urls})
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [result["outcome"] for result in results] == ["created"] * len(urls), results
        return [int(result["report_id"]) for result in results]

    def report(self, report_id: int) -> dict[str, Any]:
        """A report's detail (checks, filings with attempts, transitions) from the API."""
        answer = self.client.get(f"/api/v1/reports/{report_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def readyz(self) -> tuple[int, dict[str, Any]]:
        """The readiness answer (status code and body)."""
        answer = httpx.get(
            f"{self.api}/readyz",
            headers={"Authorization": f"Bearer {self.metrics_key}"},
            timeout=10,
        )
        return answer.status_code, dict(answer.json())

    def rows(self, query: str, **parameters: Any) -> list[Any]:
        """Rows of a read-only SQL query on the tracker's database."""
        with self._engine.connect() as connection:
            return list(connection.execute(text(query), parameters).all())

    def unfinished(self, report_ids: list[int]) -> dict[str, list[int]]:
        """Reports still without a check, and reports whose platform filing is not yet made."""
        unchecked = {
            row[0]
            for row in self.rows(
                "SELECT r.id FROM reports r WHERE r.id = ANY(:ids) AND NOT EXISTS "
                "(SELECT 1 FROM checks c WHERE c.report_id = r.id)",
                ids=report_ids,
            )
        }
        filed = {
            row[0]
            for row in self.rows(
                "SELECT report_id FROM filings WHERE report_id = ANY(:ids) "
                "AND rung_target = 'platform' AND external_ref IS NOT NULL "
                "AND status IN ('submitted', 'acknowledged', 'removed')",
                ids=report_ids,
            )
        }
        return {
            "unchecked": sorted(unchecked),
            "unfiled": sorted(set(report_ids) - filed),
        }

    def wait_all_done(self, report_ids: list[int], *, timeout: float, what: str) -> None:
        """Wait until every report has a check and its platform filing made; fail with logs."""
        deadline = time.monotonic() + timeout
        left: Any = None
        while time.monotonic() < deadline:
            try:
                left = self.unfinished(report_ids)
            except Exception as error:  # the database may be restarting: keep waiting
                left = f"database unavailable: {type(error).__name__}"
            else:
                if not any(left.values()):
                    return
            time.sleep(0.25)
        pytest.fail(f"timed out waiting for {what}; still missing: {left}\n{self.processes.logs()}")


def parse_time(value: str) -> datetime:
    """An ISO 8601 timestamp from the API, timezone-aware."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.tzinfo is not None, value
    return moment


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    """The answer and how long it took, in seconds."""
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started
