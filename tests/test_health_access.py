"""Issue 7 item 2: /readyz tells anyone only its status; the detail and /metrics need an admin
or metrics key and count only that key's organisation. The metrics role reads nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import new_case
from sqlmodel import col, update

from tracker.alerts.models import Alert
from tracker.db import utcnow
from tracker.organisations.models import Role
from tracker.reports.models import Report


@pytest.fixture
def metrics_key(db, people) -> dict[str, str]:
    return people.add("scraper", "helpline", Role.METRICS)


def intake(client, people, who: str, urls: list[str]) -> list[int]:
    case_id = new_case(client, people, who=who)
    response = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": urls}, headers=people.auth(who)
    )
    assert response.status_code == 200, response.text
    return [int(result["report_id"]) for result in response.json()["results"]]


def open_alert(db, organisation_id: int, kind: str, subject: str) -> None:
    with db.transaction() as session:
        session.add(
            Alert(
                organisation_id=organisation_id,
                kind=kind,
                subject=subject,
                message="fake alert for a test",
            )
        )


def organisation_of(client, people, who: str) -> int:
    return int(client.get("/api/v1/me", headers=people.auth(who)).json()["organisation_id"])


def test_healthz_stays_public(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_without_a_key_answers_only_the_status(client, people, db):
    assert client.get("/readyz").json() == {"status": "ready"}
    open_alert(db, organisation_of(client, people, "outsider"), "channel.failing", "adapter:x")
    response = client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "degraded"})
    # A key of a role that may not read the detail gets the same short answer.
    assert client.get("/readyz", headers=people.auth("supervisor")).json() == {"status": "degraded"}


def test_readyz_detail_for_admin_and_metrics_keys_is_scoped(client, people, db, metrics_key):
    ours = organisation_of(client, people, "admin")
    open_alert(db, ours, "channel.failing", "adapter:ours")
    open_alert(db, organisation_of(client, people, "outsider"), "host.unreachable", "host:x")
    open_alert(db, ours, "checker.stalled", "checker")
    expected = {
        "status": "degraded",
        "checks": {
            "database": "ok",
            "checker": "ok",
            "open_alerts": ["channel.failing", "checker.stalled"],
        },
    }
    for headers in (people.auth("admin"), metrics_key):
        response = client.get("/readyz", headers=headers)
        assert (response.status_code, response.json()) == (200, expected)


def test_readyz_with_a_bad_key_is_401(client):
    response = client.get("/readyz", headers={"Authorization": "Bearer tk_not-a-real-key-FAKE"})
    assert response.status_code == 401
    assert response.json()["detail"][0]["type"] == "auth.unauthenticated"


def test_readyz_not_ready_is_503_with_only_the_status(client, people, monkeypatch):
    database = client.app.state.database

    def unavailable():
        raise RuntimeError("database down (simulated)")

    monkeypatch.setattr(database, "session", unavailable)
    response = client.get("/readyz")
    assert (response.status_code, response.json()) == (503, {"status": "not_ready"})


def test_readyz_with_a_key_while_the_database_is_away_is_not_ready(client, people, monkeypatch):
    from sqlalchemy.exc import OperationalError

    database = client.app.state.database

    def unavailable():
        raise OperationalError("SELECT 1", {}, Exception("connection refused (simulated)"))

    monkeypatch.setattr(database, "session", unavailable)
    response = client.get("/readyz", headers=people.auth("admin"))
    # The key cannot be checked without the database: the status alone, never a 500.
    assert (response.status_code, response.json()) == (503, {"status": "not_ready"})
    api = client.get("/api/v1/me", headers=people.auth("admin"))
    assert api.status_code == 503 and api.headers["retry-after"] == "5"
    assert api.json()["detail"][0]["type"] == "service.unavailable"


def test_metrics_needs_an_admin_or_metrics_key(client, people, metrics_key):
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing.json()["detail"][0]["loc"] == ["header", "authorization"]
    for who in ("supervisor", "alice", "dashboard"):
        response = client.get("/metrics", headers=people.auth(who))
        assert response.status_code == 403, who
        assert response.json()["detail"][0]["type"] == "auth.forbidden"
    assert client.get("/metrics", headers=people.auth("admin")).status_code == 200
    assert client.get("/metrics", headers=metrics_key).status_code == 200


def test_metrics_count_only_the_keys_organisation(client, people, db, metrics_key):
    ours = intake(client, people, "alice", ["https://example.com/fake-a", "https://example.com/b"])
    intake(client, people, "outsider", ["https://example.org/fake-c"])
    with db.transaction() as session:
        session.exec(
            update(Report)
            .where(col(Report.id) == ours[0])
            .values(deadline_at=utcnow() - timedelta(hours=1), state="filed")
        )
    open_alert(db, organisation_of(client, people, "outsider"), "host.unreachable", "host:x")
    open_alert(db, organisation_of(client, people, "admin"), "channel.failing", "adapter:ours")
    text = client.get("/metrics", headers=metrics_key).text
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    report_samples = [line for line in samples if line.startswith("tracker_reports{")]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in report_samples) == 2.0
    assert "tracker_reports_overdue 1.0" in samples
    assert 'tracker_alerts_open{kind="channel.failing"} 1.0' in samples
    assert not any("host.unreachable" in line for line in samples)
    assert "example.org" not in text and "example.com" not in text
    other = client.get("/metrics", headers=other_admin_key(people)).text
    other_reports = [line for line in other.splitlines() if line.startswith("tracker_reports{")]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in other_reports) == 1.0


def other_admin_key(people) -> dict[str, str]:
    return people.add("other admin", "other", Role.ADMIN)


def test_a_metrics_key_reads_nothing_but_me(client, people, metrics_key):
    me = client.get("/api/v1/me", headers=metrics_key)
    assert me.status_code == 200 and me.json()["role"] == "metrics"
    for path in (
        "/api/v1/cases",
        "/api/v1/reports",
        "/api/v1/summary",
        "/api/v1/alerts",
        "/api/v1/policies",
        "/api/v1/users",
        "/api/v1/notifications",
    ):
        response = client.get(path, headers=metrics_key)
        assert response.status_code == 403, path
        assert response.json()["detail"][0]["type"] == "auth.forbidden"


def test_openapi_documents_readyz(client):
    document = client.get("/openapi.json").json()
    readyz = document["paths"]["/readyz"]["get"]
    assert readyz["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Readiness"
    }
    assert "503" in readyz["responses"]
    schemas = document["components"]["schemas"]
    assert schemas["ReadinessStatus"]["enum"] == ["ready", "degraded", "not_ready"]
    assert schemas["Readiness"]["required"] == ["status"]
