"""The sandbox platform simulator behaves as its module docstring documents."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from platform_adapters.simulators.sandbox import SandboxServer

ACK_AFTER = 0.1
DECIDE_AFTER = 0.3
TOKEN = "sandbox-token"
SOFT_TITLE = "<title>This content isn't available</title>"
REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(ack_after=ACK_AFTER, decide_after=DECIDE_AFTER) as running:
        yield running


@pytest.fixture()
def client(server: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=httpx.Timeout(5.0)) as http:
        yield http


def unique_slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def report_body(server: SandboxServer, slug: str, channel: str = "platform") -> dict:
    return {
        "url": f"{server.base_url}/videos/{slug}",
        "reason": "non_consensual_intimate_imagery",
        "channel": channel,
        "reporter": {"organisation": "Example Helpline", "email": "cases@helpline.example"},
        "legal_basis": "IT Rules 2021, Rule 3(2)(b)",
    }


def headers(key: str | None = None, token: str | None = TOKEN) -> dict[str, str]:
    result = {"Idempotency-Key": key or uuid.uuid4().hex}
    if token is not None:
        result["Authorization"] = f"Bearer {token}"
    return result


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


def report_status(client: httpx.Client, report_id: str) -> dict:
    response = client.get(f"/api/v1/reports/{report_id}", headers=headers())
    assert response.status_code == 200
    return response.json()


def file_report(client: httpx.Client, server: SandboxServer, slug: str) -> str:
    response = client.post("/api/v1/reports", json=report_body(server, slug), headers=headers())
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_live_video_page_is_served(client: httpx.Client) -> None:
    response = client.get("/videos/comply-demo")

    assert response.status_code == 200
    assert "<title>Sandbox video comply-demo</title>" in response.text


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_reports_need_the_bearer_token(
    client: httpx.Client, server: SandboxServer, token: str | None
) -> None:
    body = report_body(server, unique_slug("comply"))
    response = client.post("/api/v1/reports", json=body, headers=headers(token=token))

    assert response.status_code == 401
    assert response.json()["detail"][0]["loc"] == ["header", "Authorization"]
    assert client.get("/api/v1/reports", headers=headers(token=token)).status_code == 401


def test_idempotency_key_is_required(client: httpx.Client, server: SandboxServer) -> None:
    body = report_body(server, unique_slug("comply"))
    response = client.post(
        "/api/v1/reports", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


def test_validation_errors_name_the_fields(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/reports", json={"url": "x", "channel": "fax"}, headers=headers()
    )

    assert response.status_code == 422
    locations = {tuple(item["loc"]) for item in response.json()["detail"]}
    assert locations == {
        ("body", "reason"),
        ("body", "channel"),
        ("body", "reporter"),
        ("body", "legal_basis"),
    }


@pytest.mark.parametrize(
    "url",
    ["https://elsewhere.example/videos/comply-x", "{base}/profile/comply-x", "{base}/videos/"],
)
def test_urls_off_this_platform_are_refused(
    client: httpx.Client, server: SandboxServer, url: str
) -> None:
    body = report_body(server, "comply-x") | {"url": url.format(base=server.base_url)}
    response = client.post("/api/v1/reports", json=body, headers=headers())

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", "url"], "msg": "url not on this platform", "type": "value_error"}
    ]


def test_same_idempotency_key_returns_the_same_report(
    client: httpx.Client, server: SandboxServer
) -> None:
    body = report_body(server, unique_slug("comply"))
    key = uuid.uuid4().hex

    first = client.post("/api/v1/reports", json=body, headers=headers(key))
    second = client.post("/api/v1/reports", json=body, headers=headers(key))

    assert first.status_code == 201
    assert second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["id"].startswith("SBX-")
    assert first.json()["status"] == "submitted"
    assert datetime.fromisoformat(first.json()["created_at"]).tzinfo is not None
    listed = client.get("/api/v1/reports", params={"url": body["url"]}, headers=headers())
    assert listed.json()["total"] == 1


def test_reusing_a_key_for_another_url_conflicts(
    client: httpx.Client, server: SandboxServer
) -> None:
    key = uuid.uuid4().hex
    first = report_body(server, unique_slug("comply"))
    other = report_body(server, unique_slug("comply"))

    assert client.post("/api/v1/reports", json=first, headers=headers(key)).status_code == 201
    assert client.post("/api/v1/reports", json=other, headers=headers(key)).status_code == 409


def test_compliant_report_progresses_and_video_is_removed(
    client: httpx.Client, server: SandboxServer
) -> None:
    slug = unique_slug("comply")
    report_id = file_report(client, server, slug)
    seen_statuses = [report_status(client, report_id)["status"]]

    def removed() -> bool:
        status = report_status(client, report_id)["status"]
        if status != seen_statuses[-1]:
            seen_statuses.append(status)
        return status == "removed"

    wait_until(removed)

    assert seen_statuses == ["submitted", "acknowledged", "removed"]
    assert client.get(f"/videos/{slug}").status_code == 404


def test_soft_slug_answers_200_with_a_soft_404_page(
    client: httpx.Client, server: SandboxServer
) -> None:
    slug = unique_slug("soft")
    report_id = file_report(client, server, slug)
    assert SOFT_TITLE not in client.get(f"/videos/{slug}").text

    wait_until(lambda: report_status(client, report_id)["status"] == "removed")

    response = client.get(f"/videos/{slug}")
    assert response.status_code == 200
    assert SOFT_TITLE in response.text


def test_ignored_report_stays_acknowledged_and_live(
    client: httpx.Client, server: SandboxServer
) -> None:
    ignored_slug, control_slug = unique_slug("ignore"), unique_slug("comply")
    ignored_id = file_report(client, server, ignored_slug)
    control_id = file_report(client, server, control_slug)

    # The control filed after it being decided proves the decide time has passed for both.
    wait_until(lambda: report_status(client, control_id)["status"] == "removed")

    assert report_status(client, ignored_id)["status"] == "acknowledged"
    assert client.get(f"/videos/{ignored_slug}").status_code == 200


def test_rejected_report_keeps_the_video_live(client: httpx.Client, server: SandboxServer) -> None:
    slug = unique_slug("reject")
    report_id = file_report(client, server, slug)

    wait_until(lambda: report_status(client, report_id)["status"] == "rejected")

    status = report_status(client, report_id)
    assert status["rejection_reason"]
    assert status["channel"] == "platform"
    assert datetime.fromisoformat(status["updated_at"]) > datetime.fromisoformat(
        status["created_at"]
    )
    assert client.get(f"/videos/{slug}").status_code == 200


def test_unreported_video_is_never_removed(client: httpx.Client, server: SandboxServer) -> None:
    unreported_slug, reported_slug = unique_slug("comply"), unique_slug("comply")
    report_id = file_report(client, server, reported_slug)

    wait_until(lambda: report_status(client, report_id)["status"] == "removed")

    assert client.get(f"/videos/{unreported_slug}").status_code == 200


def test_flaky_slug_fails_twice_with_retry_after_then_files(
    client: httpx.Client, server: SandboxServer
) -> None:
    body = report_body(server, unique_slug("flaky"))
    key = uuid.uuid4().hex

    responses = [client.post("/api/v1/reports", json=body, headers=headers(key)) for _ in range(3)]

    assert [response.status_code for response in responses] == [503, 503, 201]
    assert responses[0].headers["Retry-After"] == "1"
    assert client.get("/_sim/stats").json()["report_posts"][body["url"]] == 3


def test_unknown_report_is_404(client: httpx.Client) -> None:
    response = client.get("/api/v1/reports/SBX-999999", headers=headers())

    assert response.status_code == 404
    assert response.json()["detail"][0]["type"] == "report.not_found"


def test_listing_filters_by_channel(client: httpx.Client, server: SandboxServer) -> None:
    slug = unique_slug("comply")
    for channel in ("platform", "grievance_officer"):
        body = report_body(server, slug, channel)
        assert client.post("/api/v1/reports", json=body, headers=headers()).status_code == 201

    url = f"{server.base_url}/videos/{slug}"
    listed = client.get(
        "/api/v1/reports", params={"url": url, "channel": "grievance_officer"}, headers=headers()
    ).json()

    assert listed["total"] == 1
    assert [item["channel"] for item in listed["items"]] == ["grievance_officer"]


def test_server_binds_a_given_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with SandboxServer(port=port) as running:
        assert running.base_url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{running.base_url}/videos/comply-x", timeout=5).status_code == 200


def test_command_line_serves_on_loopback() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "platform_adapters.simulators.sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ack-after",
        "0.1",
        "--decide-after",
        "0.2",
    ]
    process = subprocess.Popen(
        command, cwd=REPOSITORY_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def serving() -> bool:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/videos/comply-cli", timeout=1)
            except httpx.TransportError:
                return False
            return response.status_code == 200

        wait_until(serving, timeout=15)
    finally:
        process.terminate()
        process.wait(timeout=10)
