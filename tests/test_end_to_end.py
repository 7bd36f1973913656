"""End to end through the public API only, with the real processes:

* embedded default: `tracker serve` on SQLite, no Redis, scheduler and tasks in-process;
* distributed: `tracker serve` + `tracker scheduler` + a real Celery worker (`tracker worker`)
  on the real Redis and the real PostgreSQL.

One URL on the sandbox simulator goes from logged to removed (confirmed by consecutive checks);
another is ignored by the platform and moves past its deadline to the next rung.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from conftest import REDIS_URL, TESTS, _postgres_database
from processes import Processes, free_port, key_from, wait_for, wait_healthy

FAST = {
    "PYTHONUNBUFFERED": "1",
    "TRACKER_ENVIRONMENT": "development",
    "TRACKER_POLICY_DIRS": str(TESTS / "policies"),
    "TRACKER_OUTBOUND_ALLOWLIST": "127.0.0.1",
    "TRACKER_SANDBOX_ENABLED": "true",  # the simulated platform exists only when enabled
    "TRACKER_SWEEP_INTERVAL_SECONDS": "0.3",
    "TRACKER_CHECK_INTERVAL_ACTIVE_SECONDS": "0.5",
    "TRACKER_CHECK_INTERVAL_ACKNOWLEDGED_SECONDS": "0.5",
    "TRACKER_CONFIRM_INTERVAL_SECONDS": "0.3",
    "TRACKER_POLL_INTERVAL_SECONDS": "0.3",
    "TRACKER_LEASE_SECONDS": "20",
}


def drive_the_path(api: str, key: str, sandbox_url: str, processes: Processes) -> None:
    """The caseworker's path, through the public API only."""
    headers = {"Authorization": f"Bearer {key}"}
    client = httpx.Client(base_url=api, headers=headers, timeout=10)
    stamp = time.monotonic_ns()
    case = client.post(
        "/api/v1/cases",
        json={
            "label": "Case E2E-FAKE",
            "jurisdictions": ["TEST"],
            "authority_to_act": True,
        },
    )
    assert case.status_code == 201, case.text
    removed_url = f"{sandbox_url}/videos/comply-e2e-{stamp}"
    ignored_url = f"{sandbox_url}/videos/ignore-e2e-{stamp}"
    intake = client.post(
        f"/api/v1/cases/{case.json()['id']}/reports", json={"urls": [removed_url, ignored_url]}
    )
    assert intake.status_code == 200, intake.text
    removed_id, ignored_id = (item["report_id"] for item in intake.json()["results"])

    def report(report_id: int) -> dict:  # type: ignore[type-arg]
        return client.get(f"/api/v1/reports/{report_id}").json()

    done = wait_for(
        lambda: (r := report(removed_id))["state"] == "removed" and r,
        timeout=60,
        what="the complied URL to be confirmed removed",
        processes=processes,
    )
    states = [t["to_state"] for t in done["transitions"]]
    assert states[:2] == ["logged", "filed"] and states[-1] == "removed"
    assert done["filings"][0]["adapter"] == "sandbox"
    assert done["filings"][0]["external_ref"].startswith("SBX-")
    verdicts = [c["verdict"] for c in done["checks"]]
    assert verdicts[-2:] == ["removed", "removed"]  # never on one check
    assert "live" in verdicts  # it was seen live before the platform removed it

    moved = wait_for(
        lambda: (r := report(ignored_id))["rung_index"] == 1 and r["state"] == "filed" and r,
        timeout=60,
        what="the ignored URL to move past its deadline to the next rung",
        processes=processes,
    )
    assert moved["rung_target"] == "grievance_officer"
    escalation = next(t for t in moved["transitions"] if t["to_state"] == "escalated")
    assert "deadline passed" in escalation["cause"]
    ladder = [(f["rung_target"], f["status"]) for f in moved["filings"] if f["track"] == "ladder"]
    assert ladder == [("platform", "superseded"), ("grievance_officer", "submitted")]
    # Not removed quickly: search delisting was opened alongside, as a packet to submit.
    parallel = [
        (f["rung_target"], f["status"]) for f in moved["filings"] if f["track"] == "parallel"
    ]
    assert parallel == [("search", "awaiting_manual")]
    assert moved["last_verdict"] == "live"
    summary = client.get("/api/v1/summary").json()
    assert summary["by_state"]["removed"] == 1
    assert client.get("/readyz").status_code == 200


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("TRACKER_")
    }
    environment.update(FAST)
    group = Processes(tmp_path, environment)
    yield group
    group.stop()


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[Any]:
    """A sandbox platform that decides 3 s after a report: the first checks see the page live,
    whatever the machine's speed, and removal is confirmed well inside the 6 s deadline."""
    from platform_adapters.simulators.sandbox import SandboxServer

    with SandboxServer(ack_after=0.5, decide_after=3.0) as server:
        yield server


@pytest.mark.e2e
def test_embedded_default_end_to_end(
    processes: Processes, slow_sandbox: Any, tmp_path: Path
) -> None:
    sandbox = slow_sandbox
    processes.environment.update(
        {
            "TRACKER_SANDBOX_BASE_URL": sandbox.base_url,
            "TRACKER_DATA_DIR": str(tmp_path / "data"),
        }
    )
    port = free_port()
    log = processes.start("serve", "serve", "--port", str(port))
    api = f"http://127.0.0.1:{port}"
    wait_healthy(api, processes)
    key = key_from(
        wait_for(
            lambda: "API key" in log.read_text() and log.read_text(),
            timeout=30,
            what="the first admin key",
            processes=processes,
        )
    )
    assert (tmp_path / "data" / "tracker.sqlite3").exists()
    drive_the_path(api, key, sandbox.base_url, processes)


@pytest.mark.e2e
def test_distributed_end_to_end(processes: Processes, slow_sandbox: Any) -> None:
    sandbox = slow_sandbox
    database_url, drop = _postgres_database()
    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    try:
        processes.environment.update(
            {
                "TRACKER_RUN_MODE": "distributed",
                "TRACKER_DATABASE_URL": database_url,
                "TRACKER_REDIS_URL": REDIS_URL,
                "TRACKER_SANDBOX_BASE_URL": sandbox.base_url,
                "TRACKER_ENCRYPTION_KEYS": os.environ["TRACKER_ENCRYPTION_KEYS"],
            }
        )
        assert "newest schema" in processes.run("db", "upgrade")
        key = key_from(
            processes.run(
                "users",
                "create",
                "--organisation",
                "E2E helpline",
                "--name",
                "E2E supervisor",
                "--role",
                "supervisor",
            )
        )
        processes.start("worker", "worker", "--concurrency", "2")
        processes.start("scheduler", "scheduler")
        port = free_port()
        processes.start("serve", "serve", "--port", str(port))
        api = f"http://127.0.0.1:{port}"
        wait_healthy(api, processes)
        drive_the_path(api, key, sandbox.base_url, processes)
        assert "tracker.file_filing" in (processes.directory / "worker.log").read_text()
    finally:
        processes.stop()
        broker.flushdb()
        drop()
