"""Two organisations, every role, every endpoint that takes an id or lists data.

Organisation A's caseworker Alice has a case with two reports, a web-form filing awaiting her,
a notification and two alerts; A's admin stored channel credentials. Every other reader (Bob,
A's other caseworker; the supervisor and admin of organisation B; A's dashboard and metrics
keys) is sent to every operation the API documents, with Alice's ids in the path and a valid
body, and must neither read nor change any of it. Whatever a dashboard or metrics key receives
names no reported host, URL or case. The operations are read from the OpenAPI document, so a
new endpoint with an id fails this test until it is added to the table below.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import People, new_case
from sqlmodel import select

from tracker.alerts.service import raise_alert
from tracker.filings.models import Filing, FilingStatus
from tracker.notifications.models import Notification, NotificationKind
from tracker.organisations.models import Role
from tracker.settings import get_settings
from workers import jobs

LEAKED_HOST = "leaked-host.example"
URLS = ["https://x.com/fakeuser/status/777", f"https://{LEAKED_HOST}/v/matrix"]
LABEL = "Case FAKE-MATRIX"
# What no reader outside Alice's case may ever receive.
MARKERS = (LEAKED_HOST, "x.com/fakeuser", LABEL, "host:", "report:")

# A valid body for every operation that takes one, so a refusal is about access, not shape.
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/api/v1/cases/{case_id}"): {"label": "Case HIJACKED"},
    ("POST", "/api/v1/cases/{case_id}/reports"): {"urls": ["https://x.com/fakeuser/status/9"]},
    ("POST", "/api/v1/reports/{report_id}/pause"): {"reason": "waiting_for_victim"},
    ("POST", "/api/v1/filings/{filing_id}/confirm"): {"reference_id": "HIJACK-1"},
    ("POST", "/api/v1/cases"): {"label": "Case FAKE-OTHER", "jurisdictions": ["TEST"]},
    ("POST", "/api/v1/users"): {"display_name": "Test new", "role": "caseworker"},
    ("PUT", "/api/v1/me/notifications"): {"notification_email": "desk@other.example"},
    ("PUT", "/api/v1/organisation/webhook"): {"url": None},
    ("POST", "/api/v1/cases/{case_id}/status-links"): {"language": "en", "show_platforms": True},
    ("POST", "/api/v1/cases/{case_id}/withdraw"): {"confirm": True},
    ("POST", "/api/v1/cases/{case_id}/hash-bank"): {
        "entries": [{"signal_type": "pdq", "value": "c" * 64, "label": "HIJACK"}]
    },
    ("POST", "/api/v1/cases/{case_id}/hash-bank/import"): {
        "format": "te",
        "content": "pdq " + "d" * 64 + "\n",
    },
    ("PUT", "/api/v1/channel-credentials/{adapter}"): {
        "values": {
            "client_id": "other",
            "client_secret": "other-secret-0000",
            "username": "u",
            "password": "other-password",
        }
    },
}
# Path parameters that name an organisation's object, and ones that name shared reference data
# (the channel directory; an adapter, whose credentials are always the caller's own).
OBJECT_PARAMS = {
    "case_id",
    "report_id",
    "filing_id",
    "user_id",
    "key_id",
    "alert_id",
    "evidence_id",
    "status_link_id",
    "entry_id",
    "match_id",
}
NAME_PARAMS = {"platform": "x", "adapter": "reddit"}


class World:
    """Organisation A's objects, made through the API and the workers."""

    def __init__(self, client: Any, db: Any) -> None:
        self.people = People(db)
        self.people.add("metrics", "helpline", Role.METRICS)
        self.people.add("outsider_admin", "other", Role.ADMIN)
        auth = self.people.auth
        self.case_id = new_case(client, self.people, who="alice", label=LABEL)
        intake = client.post(
            f"/api/v1/cases/{self.case_id}/reports", json={"urls": URLS}, headers=auth("alice")
        )
        assert intake.status_code == 200, intake.text
        self.report_ids = [item["report_id"] for item in intake.json()["results"]]
        with db.session() as session:
            filing = session.exec(
                select(Filing).where(Filing.report_id == self.report_ids[0])
            ).one()
        assert jobs.file_filing(filing.id, db=db) == "filed"
        self.filing_id = filing.id
        with db.transaction() as session:
            helpline_id = self.people_organisation(session, "alice")
            self.alert_ids = [
                raise_alert(
                    session=session,
                    organisation_id=helpline_id,
                    kind="host.unreachable",
                    subject=f"host:{LEAKED_HOST}",
                    numbers={"count": 5},
                ).id,
                raise_alert(
                    session=session,
                    organisation_id=helpline_id,
                    kind="report.ladder_exhausted",
                    subject=f"report:{self.report_ids[1]}",
                ).id,
            ]
            session.add(
                Notification(
                    organisation_id=helpline_id,
                    user_id=self.people.ids["alice"],
                    case_id=self.case_id,
                    report_id=self.report_ids[0],
                    kind=NotificationKind.REMINDER,
                    message=f"Report {self.report_ids[0]} of {LABEL} waits on you",
                )
            )
        stored = client.put(
            "/api/v1/channel-credentials/reddit",
            json=BODIES[("PUT", "/api/v1/channel-credentials/{adapter}")],
            headers=auth("admin"),
        )
        assert stored.status_code == 200, stored.text
        new_key = client.post(f"/api/v1/users/{self.people.ids['bob']}/keys", headers=auth("admin"))
        assert new_key.status_code == 201, new_key.text
        self.key_id = new_key.json()["id"]
        evidence = client.post(
            f"/api/v1/cases/{self.case_id}/evidence",
            files={"file": ("note.txt", b"Fake evidence note\n", "text/plain")},
            headers=auth("alice"),
        )
        assert evidence.status_code == 201, evidence.text
        self.evidence_id = evidence.json()["id"]
        link = client.post(
            f"/api/v1/cases/{self.case_id}/status-links", json={}, headers=auth("alice")
        )
        assert link.status_code == 201, link.text
        self.status_link_id = link.json()["id"]
        # A hash in the case's bank, and a re-upload alert: the report matched the bank of
        # Alice's other case.
        other_case = new_case(client, self.people, who="alice", label=f"{LABEL} 2")
        banked = client.post(
            f"/api/v1/cases/{other_case}/hash-bank",
            json={"entries": [{"signal_type": "pdq", "value": "e" * 64, "label": "photo"}]},
            headers=auth("alice"),
        )
        assert banked.status_code == 201, banked.text
        self.entry_id = banked.json()[0]["id"]
        with db.transaction() as session:
            from tracker.matching.matcher import Hit, record_matches
            from tracker.reports.models import Report

            [match] = record_matches(
                session=session,
                report=session.get(Report, self.report_ids[0]),
                hits=[Hit(self.entry_id, other_case, "pdq", distance=3)],
                check_id=None,
                media_item_id=None,
            )
            self.match_id = match.id
        self.other_case = other_case

    def people_organisation(self, session: Any, who: str) -> int:
        from tracker.organisations.models import User

        user = session.get(User, self.people.ids[who])
        return int(user.organisation_id)

    def path_values(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "report_id": self.report_ids[0],
            "filing_id": self.filing_id,
            "user_id": self.people.ids["bob"],
            "key_id": self.key_id,
            "alert_id": self.alert_ids[0],
            "evidence_id": self.evidence_id,
            "status_link_id": self.status_link_id,
            "entry_id": self.entry_id,
            "match_id": self.match_id,
            **NAME_PARAMS,
        }

    def snapshot(self, client: Any) -> dict[str, Any]:
        """What Alice and A's admin see of A's objects (compared before and after)."""
        auth = self.people.auth
        case = client.get(f"/api/v1/cases/{self.case_id}", headers=auth("alice")).json()
        report = client.get(f"/api/v1/reports/{self.report_ids[0]}", headers=auth("alice")).json()
        users = client.get("/api/v1/users", headers=auth("admin")).json()["items"]
        keys = client.get(
            f"/api/v1/users/{self.people.ids['bob']}/keys", headers=auth("admin")
        ).json()["items"]
        alerts = client.get("/api/v1/alerts", headers=auth("admin")).json()["items"]
        credentials = client.get("/api/v1/channel-credentials?limit=200", headers=auth("admin"))
        links = client.get(
            f"/api/v1/cases/{self.case_id}/status-links", headers=auth("alice")
        ).json()["items"]
        return {
            "case": {key: case[key] for key in ("label", "status", "report_count")},
            "report": (report["state"], report["next_check_at"], report["pause_reason"]),
            "filing": [(f["id"], f["status"], f["external_ref"]) for f in report["filings"]],
            "users": [(user["id"], user["is_active"]) for user in users],
            "keys": [(key["id"], key["revoked_at"]) for key in keys],
            "alerts": [(alert["id"], alert.get("acknowledged_at")) for alert in alerts],
            "status_links": [(link["id"], link["revoked_at"]) for link in links],
            "reddit": next(
                item["stored_fields"]
                for item in credentials.json()["items"]
                if item["adapter"] == "reddit"
            ),
        }


def _operations(client: Any) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    return [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1")
        for method in item
    ]


def _fill(path: str, values: dict[str, Any]) -> str:
    names = re.findall(r"{(\w+)}", path)
    unknown = set(names) - OBJECT_PARAMS - set(NAME_PARAMS)
    assert not unknown, f"add {unknown} of {path} to the access matrix"
    return re.sub(r"{(\w+)}", lambda match: str(values[match.group(1)]), path)


def _call(client: Any, method: str, path: str, values: dict[str, Any], who: str, people: People):
    body = BODIES.get((method, path))
    if method in ("POST", "PUT", "PATCH") and body is None:
        assert "{" in path or path.endswith(("/recheck", "/resume")), f"add a body for {path}"
    return client.request(method, _fill(path, values), json=body, headers=people.auth(who))


@pytest.fixture
def world(client: Any, db: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path))  # evidence files go to a fresh folder
    get_settings.cache_clear()
    yield World(client, db)
    monkeypatch.undo()
    get_settings.cache_clear()


def test_the_matrix_covers_every_operation(client, world):
    for method, path in _operations(client):
        _fill(path, world.path_values())
        if method in ("POST", "PUT", "PATCH") and "{" not in path:
            assert (method, path) in BODIES, f"add a body for {method} {path}"


@pytest.mark.parametrize("reader", ["bob", "outsider", "outsider_admin"])
def test_no_one_else_reads_or_changes_alices_objects(client, world, reader):
    before = world.snapshot(client)
    values = world.path_values()
    for method, path in _operations(client):
        params = set(re.findall(r"{(\w+)}", path))
        response = _call(client, method, path, values, reader, world.people)
        where = f"{reader} {method} {path}"
        if params & OBJECT_PARAMS:
            # Alice's object: not found (or a role refusal), never an answer about it.
            assert response.status_code in (403, 404), (where, response.status_code)
            assert "HIJACK" not in response.text
        elif response.status_code < 300 and method == "GET":
            for marker in MARKERS:
                assert marker not in response.text, (where, marker)
        else:
            assert response.status_code < 500, (where, response.text)
    assert world.snapshot(client) == before


@pytest.mark.parametrize("reader", ["dashboard", "metrics"])
def test_aggregate_keys_receive_no_host_url_or_case(client, world, reader):
    before = world.snapshot(client)
    values = world.path_values()
    answered = []
    for method, path in _operations(client):
        response = _call(client, method, path, values, reader, world.people)
        where = f"{reader} {method} {path}"
        assert response.status_code < 500, where
        if method != "GET" and path != "/api/v1/me/notifications":
            assert response.status_code in (403, 404), (where, response.status_code)
        for marker in MARKERS:
            assert marker not in response.text, (where, marker)
        if response.status_code == 200 and method == "GET":
            answered.append(path)
    assert world.snapshot(client) == before
    if reader == "dashboard":
        assert {"/api/v1/summary", "/api/v1/alerts/counts", "/api/v1/me"} <= set(answered)
        counts = client.get("/api/v1/alerts/counts", headers=world.people.auth(reader)).json()
        assert counts["total"] == 2
    # Case data is refused outright, not filtered to nothing.
    for path in (
        "/api/v1/cases",
        "/api/v1/reports",
        "/api/v1/alerts",
        "/api/v1/filings",
        "/api/v1/audit",
        "/api/v1/audit/verify",
    ):
        assert client.get(path, headers=world.people.auth(reader)).status_code == 403, path


def test_alices_own_readers_do_see_it(client, world):
    """The matrix proves something: the same requests succeed for those who may see them."""
    auth = world.people.auth
    for who in ("alice", "supervisor", "admin"):
        assert client.get(f"/api/v1/cases/{world.case_id}", headers=auth(who)).status_code == 200
        report = client.get(f"/api/v1/reports/{world.report_ids[0]}", headers=auth(who))
        assert report.status_code == 200 and "x.com/fakeuser" in report.text
        bundle = client.get(f"/api/v1/cases/{world.case_id}/export", headers=auth(who))
        assert bundle.status_code == 200 and bundle.content[:2] == b"PK", who
        alerts = client.get("/api/v1/alerts", headers=auth(who)).json()
        assert {alert["id"] for alert in alerts["items"]} == set(world.alert_ids), who
    filings = client.get("/api/v1/filings", headers=auth("alice")).json()
    assert [item["id"] for item in filings["items"]] == [world.filing_id]
    assert filings["items"][0]["status"] == FilingStatus.AWAITING_MANUAL
    notifications = client.get("/api/v1/notifications", headers=auth("alice")).json()
    assert notifications["total"] == 2  # the reminder and the re-upload found
    alerts = client.get("/api/v1/reupload-alerts", headers=auth("alice")).json()
    assert [alert["id"] for alert in alerts] == [world.match_id]
    bank = client.get(f"/api/v1/cases/{world.other_case}/hash-bank", headers=auth("alice"))
    assert [entry["id"] for entry in bank.json()] == [world.entry_id]
    bob = client.get(f"/api/v1/users/{world.people.ids['bob']}", headers=auth("admin"))
    assert bob.status_code == 200
