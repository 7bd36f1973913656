"""The console's alerts and notifications pages: who may open them, what they show, the actions.

Issue 8 (supervisor pages): the same visibility and changes as ``/api/v1/alerts`` and
``/api/v1/notifications``; another organisation's rows never appear.
"""

from __future__ import annotations

from typing import Any

from conftest import new_case
from console_client import signed_in
from fastapi.testclient import TestClient

from tracker.alerts.kinds import AlertKind
from tracker.alerts.models import Alert
from tracker.alerts.service import raise_alert
from tracker.notifications.models import (
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    NotificationKind,
)
from tracker.organisations.models import User


def organisation_of(people: Any, who: str) -> int:
    with people.db.session() as session:
        user = session.get(User, people.ids[who])
        assert user is not None
        return int(user.organisation_id)


def add_alerts(people: Any) -> dict[str, int]:
    """Two alerts of the helpline and one of the other organisation; their ids by name."""
    helpline, other = organisation_of(people, "admin"), organisation_of(people, "outsider")
    with people.db.transaction() as session:
        channel = raise_alert(
            session=session,
            organisation_id=helpline,
            kind=AlertKind.CHANNEL_FAILING,
            subject="adapter:sandbox",
            numbers={"count": 7},
        )
        host = raise_alert(
            session=session,
            organisation_id=helpline,
            kind=AlertKind.HOST_UNREACHABLE,
            subject="host:slow-site.example.invalid",
            numbers={"count": 4},
        )
        outsider = raise_alert(
            session=session,
            organisation_id=other,
            kind=AlertKind.HOST_UNREACHABLE,
            subject="host:outsider-only.example.invalid",
            numbers={"count": 4},
        )
        session.flush()
        return {"channel": channel.id, "host": host.id, "outsider": outsider.id}  # type: ignore[dict-item]


def test_only_supervisors_and_admins_open_alerts_and_notifications(
    client: TestClient, people: Any
) -> None:
    alice = signed_in(client, people, "alice")
    for path in ("/alerts", "/notifications"):
        response = alice.get(path)
        assert response.status_code == 403, path
        assert "Your role does not include this page." in response.text
    supervisor = signed_in(TestClient(client.app), people, "supervisor")
    for path in ("/alerts", "/notifications"):
        assert supervisor.get(path).status_code == 200, path
    admin = signed_in(TestClient(client.app), people, "admin")
    assert admin.get("/alerts").status_code == 200


def test_the_alerts_page_lists_the_organisations_open_alerts_in_words(
    client: TestClient, people: Any
) -> None:
    ids = add_alerts(people)
    supervisor = signed_in(client, people, "supervisor")
    page = supervisor.get("/alerts")
    assert page.status_code == 200
    html = page.text
    assert f'id="alert-{ids["channel"]}"' in html and f'id="alert-{ids["host"]}"' in html
    assert "The last 7 filing attempts on this channel failed." in html
    assert "Channel sandbox" in html
    # A supervisor sees every alert of the organisation, hosts included, as in the API.
    assert "slow-site.example.invalid" in html
    assert "found it unreachable (4 or more)" in html
    assert "outsider-only" not in html and f'id="alert-{ids["outsider"]}"' not in html
    assert "2 alerts" in html
    # The same set as the API lists for the supervisor.
    api = client.get("/api/v1/alerts", headers=people.auth("supervisor")).json()
    assert sorted(item["id"] for item in api["items"]) == sorted([ids["channel"], ids["host"]])
    # Filters: by kind, and the resolved ones (none yet).
    only_hosts = supervisor.get("/alerts?kind=host.unreachable").text
    assert f'id="alert-{ids["host"]}"' in only_hosts
    assert f'id="alert-{ids["channel"]}"' not in only_hosts
    assert "No resolved alerts." in supervisor.get("/alerts?state=resolved").text


def test_acknowledge_and_resolve_change_the_alert_as_the_api_would(
    client: TestClient, people: Any
) -> None:
    ids = add_alerts(people)
    supervisor = signed_in(client, people, "supervisor")
    supervisor.get("/alerts")
    response = supervisor.post(
        f"/alerts/{ids['channel']}/acknowledge", {"state": "open", "kind": ""}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/alerts?state=open&done=acknowledged"
    page = supervisor.get(response.headers["location"])
    assert "The alert is acknowledged." in page.text
    assert "by Test supervisor" in page.text
    api = client.get("/api/v1/alerts?state=acknowledged", headers=people.auth("supervisor")).json()
    assert [item["id"] for item in api["items"]] == [ids["channel"]]
    assert api["items"][0]["acknowledged_by"] == f"user:{people.ids['supervisor']}"

    response = supervisor.post(
        f"/alerts/{ids['channel']}/resolve", {"state": "acknowledged", "kind": "channel.failing"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/alerts?state=acknowledged&kind=channel.failing&done=resolved"
    )
    with people.db.session() as session:
        alert = session.get(Alert, ids["channel"])
        assert alert is not None and alert.resolved_at is not None
        assert alert.resolved_by == f"user:{people.ids['supervisor']}"
    assert f'id="alert-{ids["channel"]}"' in supervisor.get("/alerts?state=resolved").text
    # Resolving twice is refused, as in the API, with a calm notice.
    again = supervisor.post(f"/alerts/{ids['channel']}/resolve", {"state": "open"})
    assert again.status_code == 409
    assert "This alert is already resolved." in again.text


def test_a_caseworker_or_another_organisation_cannot_act_on_an_alert(
    client: TestClient, people: Any
) -> None:
    ids = add_alerts(people)
    alice = signed_in(client, people, "alice")
    alice.get("/account")
    assert alice.post(f"/alerts/{ids['channel']}/acknowledge").status_code == 403
    outsider = signed_in(TestClient(client.app), people, "outsider")
    assert outsider.post(f"/alerts/{ids['channel']}/resolve").status_code == 404
    assert f'id="alert-{ids["outsider"]}"' in outsider.get("/alerts").text
    with people.db.session() as session:
        alert = session.get(Alert, ids["channel"])
        assert alert is not None
        assert alert.acknowledged_at is None and alert.resolved_at is None


def test_an_action_without_the_form_token_changes_nothing(client: TestClient, people: Any) -> None:
    ids = add_alerts(people)
    supervisor = signed_in(client, people, "supervisor")
    response = client.post(
        f"/alerts/{ids['host']}/resolve", data={"state": "open"}, follow_redirects=False
    )
    assert response.status_code == 403
    with people.db.session() as session:
        alert = session.get(Alert, ids["host"])
        assert alert is not None and alert.resolved_at is None
    assert supervisor.get("/alerts").status_code == 200


def add_notifications(client: TestClient, people: Any) -> dict[str, int]:
    """A notification on a report of Alice's with two deliveries; one of the other organisation."""
    case_id = new_case(client, people, "alice", authority_to_act=False)
    added = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": ["https://leak-host.example/v/1"]},
        headers=people.auth("alice"),
    )
    assert added.status_code == 200, added.text
    report_id = added.json()["results"][0]["report_id"]
    helpline, other = organisation_of(people, "admin"), organisation_of(people, "outsider")
    with people.db.transaction() as session:
        mine = Notification(
            organisation_id=helpline,
            user_id=people.ids["alice"],
            case_id=case_id,
            report_id=report_id,
            kind=NotificationKind.ESCALATED,
            message=f"Report {report_id} escalated to rung 1 (host)",
        )
        theirs = Notification(
            organisation_id=other,
            kind=NotificationKind.REMOVED,
            message="Report 999999: removal confirmed; watching for reappearance",
        )
        session.add(mine)
        session.add(theirs)
        session.flush()
        assert mine.id is not None and theirs.id is not None
        session.add(
            NotificationDelivery(
                notification_id=mine.id,
                channel="email",
                target="alice@helpline.example",
                status=DeliveryStatus.DELIVERED,
                attempt_count=1,
            )
        )
        session.add(
            NotificationDelivery(
                notification_id=mine.id,
                channel="webhook",
                target="https://hooks.example/secret-path",
                status=DeliveryStatus.FAILED,
                attempt_count=5,
                response_status=500,
                last_error="HTTP 500 from hooks.example",
            )
        )
        return {"mine": mine.id, "theirs": theirs.id, "report": report_id}


def test_the_notifications_page_lists_the_organisations_with_delivery_status(
    client: TestClient, people: Any
) -> None:
    ids = add_notifications(client, people)
    supervisor = signed_in(client, people, "supervisor")
    html = supervisor.get("/notifications").text
    assert f'id="notification-{ids["mine"]}"' in html
    assert f'id="notification-{ids["theirs"]}"' not in html and "999999" not in html
    assert f'href="/reports/{ids["report"]}"' in html
    assert "Escalated to the next step" in html and "Test alice" in html
    assert 'E-mail: <span class="delivery-delivered">Delivered</span>' in html
    assert 'Webhook: <span class="delivery-failed">Failed</span>' in html
    assert "5 attempts" in html and "answer 500" in html
    # Neither the delivery targets nor their errors reach the page.
    for hidden in ("alice@helpline.example", "secret-path", "HTTP 500 from"):
        assert hidden not in html
    assert "1 notification" in html
    # The same notifications as the API gives the supervisor.
    api = client.get("/api/v1/notifications", headers=people.auth("supervisor")).json()
    assert [item["id"] for item in api["items"]] == [ids["mine"]]
    outsider = signed_in(TestClient(client.app), people, "outsider")
    theirs = outsider.get("/notifications").text
    assert f'id="notification-{ids["theirs"]}"' in theirs
    assert f'id="notification-{ids["mine"]}"' not in theirs


def test_the_admin_pages_answer_in_hindi_too(client: TestClient, people: Any) -> None:
    add_alerts(people)
    add_notifications(client, people)
    admin = signed_in(client, people, "admin")
    with people.db.transaction() as session:
        user = session.get(User, people.ids["admin"])
        assert user is not None
        user.language = "hi"
        session.add(user)
    for path in (
        "/alerts",
        "/alerts?state=resolved",
        "/notifications",
        "/users",
        f"/users/{people.ids['bob']}",
        "/settings",
        "/settings/channels/email",
    ):
        response = admin.get(path)
        assert response.status_code == 200, path
        assert '<html lang="hi">' in response.text, path
