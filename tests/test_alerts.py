"""Alerts: one organisation's each, read by who may see what they name, closed by their cause.

Issue 7 items 1 (alerts per organisation, no host or error text for roles that may not see the
report) and 15 (every kind closes by itself; supervisors acknowledge or resolve, audited).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from platform_adapters.base import MissingCredentialsError, TransientError
from tracker.alerts.kinds import MESSAGES, AlertKind, message_of
from tracker.alerts.models import Alert
from tracker.alerts.service import raise_alert
from tracker.alerts.watchdog import run_watchdog
from tracker.audit.models import AuditEvent
from tracker.cases.models import Case
from tracker.checks.models import Check
from tracker.db import utcnow
from tracker.filings.models import AttemptOutcome, Filing, FilingAttempt, FilingStatus
from tracker.filings.service import ClaimedFiling, record_error
from tracker.notifications.models import Notification, NotificationDelivery
from tracker.notifications.service import record_delivery
from tracker.organisations.models import Organisation, User
from tracker.policies.models import PolicyVersion
from tracker.reports.models import Report
from tracker.settings import get_settings

LEAKED = "leak.example.invalid"
OTHER = "other.example.invalid"
RDAP_ERROR = f"no abuse contact found by RDAP for {LEAKED}"


def settings(threshold: int = 2) -> Any:
    return get_settings().model_copy(update={"failure_alert_threshold": threshold})


@dataclass
class World:
    """Two organisations; alice and the other organisation both report on LEAKED, bob on OTHER."""

    helpline: int
    other: int
    alice_report: int
    bob_report: int
    outsider_report: int


def add_report(session: Any, organisation_id: int, user_id: int, host: str) -> int:
    policy = session.exec(select(PolicyVersion)).first()
    case = Case(
        organisation_id=organisation_id,
        label="Case FAKE-001",
        jurisdictions=["TEST"],
        assigned_to=user_id,
        authority_to_act=True,
    )
    session.add(case)
    session.flush()
    url = f"https://{host}/v/{case.id}"
    report = Report(
        case_id=case.id,
        organisation_id=organisation_id,
        original_url=url,
        canonical_url=url,
        host=host,
        platform="generic",
        state="filed",
        policy_version_id=policy.id,
        next_check_at=utcnow() + timedelta(hours=1),
    )
    session.add(report)
    session.flush()
    return int(report.id)


@pytest.fixture
def world(db: Any, people: Any) -> World:
    with db.transaction() as session:
        helpline = session.get(User, people.ids["alice"]).organisation_id
        other = session.get(User, people.ids["outsider"]).organisation_id
        return World(
            helpline=helpline,
            other=other,
            alice_report=add_report(session, helpline, people.ids["alice"], LEAKED),
            bob_report=add_report(session, helpline, people.ids["bob"], OTHER),
            outsider_report=add_report(session, other, people.ids["outsider"], LEAKED),
        )


def checks(db: Any, report_id: int, *verdicts: str) -> None:
    with db.transaction() as session:
        for verdict in verdicts:
            session.add(Check(report_id=report_id, verdict=verdict, reason="test"))
            session.flush()


def filing(db: Any, report_id: int, adapter: str = "sandbox") -> Filing:
    with db.transaction() as session:
        report = session.get(Report, report_id)
        row = Filing(
            report_id=report_id,
            organisation_id=report.organisation_id,
            rung_index=0,
            rung_target="platform",
            adapter=adapter,
            channel_kind="api",
            status=FilingStatus.SUBMITTING,
            idempotency_key=f"fake-{report_id}-{time.monotonic_ns()}",
            attempt_count=get_settings().filing_max_attempts,
        )
        session.add(row)
        session.flush()
        return row


def attempts(db: Any, filing_id: int, *outcomes: AttemptOutcome) -> None:
    with db.transaction() as session:
        for outcome in outcomes:
            now = utcnow()
            session.add(
                FilingAttempt(
                    filing_id=filing_id,
                    started_at=now,
                    finished_at=now,
                    outcome=outcome,
                    error=None if outcome == AttemptOutcome.SUCCEEDED else RDAP_ERROR,
                )
            )
            session.flush()


def watch(db: Any, threshold: int = 2) -> list[str]:
    with db.transaction() as session:
        return run_watchdog(session=session, settings=settings(threshold))


def alerts(db: Any, kind: str | None = None) -> list[Alert]:
    with db.session() as session:
        query = select(Alert).order_by(col(Alert.id))
        if kind is not None:
            query = query.where(Alert.kind == kind)
        return list(session.exec(query).all())


def subjects(client: Any, people: Any, who: str, **params: str) -> list[tuple[str, str]]:
    response = client.get("/api/v1/alerts", params=params, headers=people.auth(who))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return sorted((item["kind"], item["subject"]) for item in body["items"])


# --- item 1: every alert is one organisation's, read only by who may see what it names ------


def test_a_host_alert_is_raised_per_organisation_and_read_only_by_who_sees_its_reports(
    client, people, db, world
):
    checks(db, world.alice_report, "unreachable", "unreachable")
    checks(db, world.outsider_report, "unreachable", "unreachable")
    checks(db, world.bob_report, "unreachable", "unreachable")
    failing = filing(db, world.bob_report)
    attempts(db, failing.id, AttemptOutcome.TRANSIENT_ERROR, AttemptOutcome.TRANSIENT_ERROR)
    watch(db)
    assert sorted((a.organisation_id, a.kind, a.subject) for a in alerts(db)) == sorted(
        [
            (world.helpline, "host.unreachable", f"host:{LEAKED}"),
            (world.helpline, "host.unreachable", f"host:{OTHER}"),
            (world.helpline, "channel.failing", "adapter:sandbox"),
            (world.other, "host.unreachable", f"host:{LEAKED}"),
        ]
    )
    with db.transaction() as session:
        raise_alert(
            session=session,
            organisation_id=world.helpline,
            kind="report.ladder_exhausted",
            subject=f"report:{world.bob_report}",
        )
    channel = ("channel.failing", "adapter:sandbox")
    leaked = ("host.unreachable", f"host:{LEAKED}")
    other = ("host.unreachable", f"host:{OTHER}")
    ladder = ("report.ladder_exhausted", f"report:{world.bob_report}")
    assert subjects(client, people, "supervisor") == sorted([channel, leaked, other, ladder])
    # A caseworker: the organisation's channel alerts; host and report alerts only for the
    # reports they may see.
    assert subjects(client, people, "alice") == [channel, leaked]
    assert subjects(client, people, "bob") == [channel, other, ladder]
    assert subjects(client, people, "outsider") == [leaked]
    assert subjects(client, people, "alice", kind="channel.failing") == [channel]


def test_a_dashboard_key_reads_counts_by_kind_and_never_a_subject(client, people, db, world):
    checks(db, world.alice_report, "unreachable", "unreachable")
    checks(db, world.bob_report, "unreachable", "unreachable")
    watch(db)
    listing = client.get("/api/v1/alerts", headers=people.auth("dashboard"))
    assert listing.status_code == 403
    assert listing.json()["detail"][0]["type"] == "auth.forbidden"
    assert "example.invalid" not in listing.text
    counts = client.get("/api/v1/alerts/counts", headers=people.auth("dashboard"))
    assert counts.status_code == 200
    assert counts.json() == {"by_kind": {"host.unreachable": 2}, "total": 2}
    assert client.get("/api/v1/alerts/counts", headers=people.auth("outsider")).json() == {
        "by_kind": {},
        "total": 0,
    }


def test_filing_error_text_never_reaches_an_alert(client, people, db, world):
    for error in (TransientError(RDAP_ERROR), MissingCredentialsError(RDAP_ERROR)):
        row = filing(db, world.alice_report, adapter=f"fake-{type(error).__name__}")
        claim = ClaimedFiling(
            filing_id=row.id,
            organisation_id=row.organisation_id,
            adapter=row.adapter,
            request=None,  # type: ignore[arg-type]  (record_error does not read it)
            started_at=utcnow(),
        )
        with db.transaction() as session:
            record_error(session=session, claim=claim, error=error)
    raised = {alert.kind: alert.message for alert in alerts(db)}
    assert raised == {
        "filing.attempts_exhausted": MESSAGES[AlertKind.FILING_ATTEMPTS_EXHAUSTED],
        "adapter.missing_credentials": MESSAGES[AlertKind.ADAPTER_MISSING_CREDENTIALS],
    }
    # The detail stays on the filing, for those who may see the report.
    with db.session() as session:
        assert LEAKED in session.exec(select(Filing.last_error)).first()
    for who in ("supervisor", "alice", "bob"):
        response = client.get("/api/v1/alerts", headers=people.auth(who))
        assert response.status_code == 200 and len(response.json()["items"]) == 2
        assert LEAKED not in response.text


def test_a_failed_notification_alert_names_the_channel_not_the_target_or_error(
    client, people, db, world
):
    delivery = new_delivery(db, world, "webhook", f"https://{LEAKED}/hook")
    fail(db, delivery, error=f"destination refused: {LEAKED} resolves to 10.0.0.1")
    [alert] = alerts(db)
    assert (alert.organisation_id, alert.kind, alert.subject, alert.message) == (
        world.helpline,
        "notification.webhook_failing",
        "webhook",
        message_of(AlertKind.NOTIFICATION_WEBHOOK_FAILING, {"count": 1}),
    )


def test_one_open_alert_per_organisation_kind_and_subject_is_a_database_rule(db, world):
    key = {"kind": "checker.stalled", "subject": "checker", "message": "m"}
    with db.transaction() as session:
        session.add(Alert(organisation_id=world.helpline, resolved_at=utcnow(), **key))
        session.add(Alert(organisation_id=world.helpline, **key))
        session.add(Alert(organisation_id=world.other, **key))  # another organisation's
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(Alert(organisation_id=world.helpline, **key))


def test_two_watchdogs_racing_open_one_alert(db, world):
    first = db.session()
    won = raise_alert(
        session=first,
        organisation_id=world.helpline,
        kind="checker.stalled",
        subject="checker",
        numbers={"seconds": 900},
    )
    result: dict[str, Any] = {}

    def second() -> None:
        try:
            with db.transaction() as session:
                result["id"] = raise_alert(
                    session=session,
                    organisation_id=world.helpline,
                    kind="checker.stalled",
                    subject="checker",
                    numbers={"seconds": 900},
                ).id
        except Exception as error:  # reported below, with the assertion
            result["error"] = error

    racer = threading.Thread(target=second)
    racer.start()
    time.sleep(0.5)
    assert racer.is_alive()  # its insert waits for the first transaction: it read before
    first.commit()
    first.close()
    racer.join(20)
    assert result == {"id": won.id}
    assert [alert.id for alert in alerts(db)] == [won.id]


def test_migration_moves_existing_alerts(backend, tmp_path):
    from alembic import command
    from conftest import _postgres_database

    from tracker.migrations.config import alembic_config

    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
    else:
        url, drop = _postgres_database()
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0004")
            connection.execute(
                text(
                    "INSERT INTO organisations (id, name, contact_email, created_at) "
                    "VALUES (1, 'Test helpline', 'desk@helpline.example', :now)"
                ),
                {"now": utcnow()},
            )
            rows = [
                (None, "host.unreachable", f"host:{LEAKED}", "all unreachable", None),
                (1, "filing.attempts_exhausted", "adapter:sandbox", RDAP_ERROR, None),
                (1, "notification.email_failing", "email:a@example.invalid", "x", None),
                (1, "notification.email_failing", "email:b@example.invalid", "y", None),
                (1, "adapter.invalid_credentials", "adapter:sandbox", "bad", utcnow()),
            ]
            for organisation_id, kind, subject, message, resolved_at in rows:
                connection.execute(
                    text(
                        "INSERT INTO alerts (organisation_id, kind, subject, message, "
                        "raised_at, resolved_at) VALUES (:o, :k, :s, :m, :now, :r)"
                    ),
                    {
                        "o": organisation_id,
                        "k": kind,
                        "s": subject,
                        "m": message,
                        "now": utcnow(),
                        "r": resolved_at,
                    },
                )
            command.upgrade(alembic_config(connection), "0005")
            moved = connection.execute(
                text(
                    "SELECT organisation_id, kind, subject, message, resolved_at IS NULL, "
                    "resolved_by FROM alerts ORDER BY id"
                )
            ).all()
            assert [tuple(row) for row in moved] == [
                (
                    1,
                    "filing.attempts_exhausted",
                    "adapter:sandbox",
                    MESSAGES[AlertKind.FILING_ATTEMPTS_EXHAUSTED],
                    True,
                    None,
                ),
                (
                    1,
                    "notification.email_failing",
                    "email",
                    "a notification e-mail failed repeatedly; the error is on the delivery",
                    True,
                    None,
                ),
                (
                    1,
                    "notification.email_failing",
                    "email",
                    "a notification e-mail failed repeatedly; the error is on the delivery",
                    False,
                    "migration",
                ),
                (
                    1,
                    "adapter.invalid_credentials",
                    "adapter:sandbox",
                    MESSAGES[AlertKind.ADAPTER_INVALID_CREDENTIALS],
                    False,
                    None,
                ),
            ]
            with pytest.raises(IntegrityError), connection.begin_nested():
                connection.execute(
                    text(
                        "INSERT INTO alerts (organisation_id, kind, subject, message, raised_at)"
                        " VALUES (1, 'notification.email_failing', 'email', 'm', :now)"
                    ),
                    {"now": utcnow()},
                )
            command.downgrade(alembic_config(connection), "0004")
            command.upgrade(alembic_config(connection), "0005")
    finally:
        engine.dispose()
        if drop is not None:
            drop()


# --- item 15: every kind closes by itself when its cause clears -----------------------------


def open_alerts(db: Any) -> list[tuple[int, str, str]]:
    return sorted(
        (alert.organisation_id, alert.kind, alert.subject)
        for alert in alerts(db)
        if alert.resolved_at is None
    )


def test_a_stalled_checker_alert_closes_when_nothing_is_overdue(db, world):
    with db.transaction() as session:
        report = session.get(Report, world.bob_report)
        report.next_check_at = utcnow() - timedelta(hours=2)
        session.add(report)
    assert watch(db) == ["checker"]
    assert open_alerts(db) == [(world.helpline, "checker.stalled", "checker")]
    assert alerts(db)[0].message == message_of(
        AlertKind.CHECKER_STALLED, {"seconds": int(get_settings().checker_stall_seconds)}
    )
    with db.transaction() as session:
        report = session.get(Report, world.bob_report)
        report.next_check_at = utcnow() + timedelta(minutes=5)
        session.add(report)
    assert watch(db) == []
    [alert] = alerts(db)
    assert (alert.resolved_by, alert.resolved_at is not None) == ("watchdog", True)


def test_a_failing_channel_alert_closes_on_the_next_success(db, world):
    failing = filing(db, world.alice_report)
    working = filing(db, world.outsider_report)  # same adapter, the other organisation
    attempts(db, failing.id, *[AttemptOutcome.TRANSIENT_ERROR] * 2)
    attempts(db, working.id, AttemptOutcome.TRANSIENT_ERROR, AttemptOutcome.SUCCEEDED)
    watch(db)
    assert open_alerts(db) == [(world.helpline, "channel.failing", "adapter:sandbox")]
    assert alerts(db)[0].message == "the last 2 filing attempts on this channel failed"
    # Still failing, or no new attempt at all: it stays open.
    attempts(db, failing.id, AttemptOutcome.PERMANENT_ERROR)
    watch(db)
    assert len(open_alerts(db)) == 1
    attempts(db, failing.id, AttemptOutcome.SUCCEEDED)
    watch(db)
    assert open_alerts(db) == []


def test_an_unreachable_host_alert_closes_when_the_host_answers_again(db, world):
    checks(db, world.alice_report, "unreachable", "unreachable")
    watch(db)
    assert open_alerts(db) == [(world.helpline, "host.unreachable", f"host:{LEAKED}")]
    checks(db, world.alice_report, "unreachable")
    watch(db)
    assert len(open_alerts(db)) == 1
    checks(db, world.alice_report, "live")
    watch(db)
    assert open_alerts(db) == []


def test_an_unreachable_host_alert_closes_when_no_report_there_is_checked(db, world):
    checks(db, world.alice_report, "unreachable", "unreachable")
    watch(db)
    with db.transaction() as session:
        report = session.get(Report, world.alice_report)
        report.state = "closed"
        session.add(report)
    watch(db)
    assert open_alerts(db) == []


def test_credentials_and_exhausted_attempts_alerts_close_on_a_later_success(db, world):
    row = filing(db, world.alice_report)
    for kind in ("filing.attempts_exhausted", "adapter.invalid_credentials"):
        with db.transaction() as session:
            raise_alert(
                session=session,
                organisation_id=world.helpline,
                kind=kind,
                subject="adapter:sandbox",
            )
    attempts(db, row.id, AttemptOutcome.CREDENTIALS_ERROR)
    watch(db)
    assert len(open_alerts(db)) == 2
    attempts(db, row.id, AttemptOutcome.SUCCEEDED)
    watch(db)
    assert open_alerts(db) == []


def test_an_exhausted_ladder_alert_closes_when_the_report_moves_on(db, world):
    with db.transaction() as session:
        report = session.get(Report, world.alice_report)
        report.state = "exhausted"
        session.add(report)
        raise_alert(
            session=session,
            organisation_id=world.helpline,
            kind="report.ladder_exhausted",
            subject=f"report:{world.alice_report}",
        )
    watch(db)
    assert len(open_alerts(db)) == 1
    with db.transaction() as session:
        report = session.get(Report, world.alice_report)
        report.state = "closed"
        session.add(report)
    watch(db)
    assert open_alerts(db) == []


def new_delivery(db: Any, world: World, channel: str, target: str) -> int:
    with db.transaction() as session:
        note = Notification(
            organisation_id=world.helpline,
            report_id=world.alice_report,
            kind="reminder",
            message="Report is still waiting",
        )
        session.add(note)
        session.flush()
        delivery = NotificationDelivery(
            notification_id=note.id, channel=channel, target=target, attempt_count=1
        )
        session.add(delivery)
        session.flush()
        return int(delivery.id)


def fail(db: Any, delivery_id: int, error: str = "SMTP 550") -> None:
    with db.transaction() as session:
        record_delivery(
            session=session,
            delivery_id=delivery_id,
            ok=False,
            response_status=None,
            error=error,
            retryable=False,
        )


def deliver(db: Any, delivery_id: int) -> None:
    with db.transaction() as session:
        record_delivery(
            session=session,
            delivery_id=delivery_id,
            ok=True,
            response_status=200,
            error=None,
            retryable=False,
        )


@pytest.mark.parametrize("channel", ["email", "webhook"])
def test_a_failing_notification_channel_closes_on_a_later_delivery(db, world, channel):
    target = "caseworker@example.invalid" if channel == "email" else "https://hook.example.invalid"
    fail(db, new_delivery(db, world, channel, target))
    fail(db, new_delivery(db, world, channel, target))  # the same alert, not a second
    assert open_alerts(db) == [(world.helpline, f"notification.{channel}_failing", channel)]
    deliver(db, new_delivery(db, world, channel, target))
    assert open_alerts(db) == []
    assert alerts(db)[0].resolved_by == "worker"


def test_a_webhook_alert_closes_when_the_webhook_is_removed(db, world):
    with db.transaction() as session:
        organisation = session.get(Organisation, world.helpline)
        organisation.webhook_url = "https://hook.example.invalid"
        session.add(organisation)
    fail(db, new_delivery(db, world, "webhook", "https://hook.example.invalid"))
    watch(db)
    assert len(open_alerts(db)) == 1
    with db.transaction() as session:
        organisation = session.get(Organisation, world.helpline)
        organisation.webhook_url = None
        session.add(organisation)
    watch(db)
    assert open_alerts(db) == []


# --- item 15: supervisors acknowledge or resolve, audited -----------------------------------


def audit_actions(db: Any) -> list[tuple[str, str, int | None, dict[str, Any]]]:
    with db.session() as session:
        return [
            (event.actor, event.action, event.object_id, event.details)
            for event in session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.action).startswith("alert."))
                .order_by(col(AuditEvent.id))
            ).all()
        ]


def test_a_supervisor_acknowledges_then_resolves_an_alert_audited(client, people, db, world):
    checks(db, world.alice_report, "unreachable", "unreachable")
    checks(db, world.outsider_report, "unreachable", "unreachable")
    watch(db)
    [mine, theirs] = sorted(alerts(db), key=lambda alert: alert.organisation_id != world.helpline)
    url = f"/api/v1/alerts/{mine.id}"
    for who in ("alice", "dashboard"):
        assert client.post(f"{url}/acknowledge", headers=people.auth(who)).status_code == 403
        assert client.post(f"{url}/resolve", headers=people.auth(who)).status_code == 403
    elsewhere = client.post(
        f"/api/v1/alerts/{theirs.id}/acknowledge", headers=people.auth("supervisor")
    )
    assert elsewhere.status_code == 404
    assert elsewhere.json()["detail"] == [
        {"loc": ["path", "alert_id"], "msg": "alert not found", "type": "alert.not_found"}
    ]
    too_big = client.post(f"/api/v1/alerts/{2**31}/resolve", headers=people.auth("supervisor"))
    assert too_big.status_code == 422
    assert too_big.json()["detail"][0]["loc"] == ["path", "alert_id"]

    acknowledged = client.post(f"{url}/acknowledge", headers=people.auth("supervisor"))
    assert acknowledged.status_code == 200
    body = acknowledged.json()
    supervisor = f"user:{people.ids['supervisor']}"
    assert (body["state"], body["acknowledged_by"], body["resolved_at"]) == (
        "acknowledged",
        supervisor,
        None,
    )
    again = client.post(f"{url}/acknowledge", headers=people.auth("admin"))
    assert again.status_code == 200 and again.json()["acknowledged_by"] == supervisor
    # Acknowledged is still open: listed as open and as acknowledged, counted, not resolved.
    assert [
        a["id"] for a in client.get("/api/v1/alerts", headers=people.auth("alice")).json()["items"]
    ] == [mine.id]
    assert subjects(client, people, "supervisor", state="acknowledged") == [
        ("host.unreachable", f"host:{LEAKED}")
    ]
    assert subjects(client, people, "supervisor", state="resolved") == []
    assert (
        client.get("/api/v1/alerts/counts", headers=people.auth("dashboard")).json()["total"] == 1
    )

    resolved = client.post(f"{url}/resolve", headers=people.auth("admin"))
    assert resolved.status_code == 200
    assert (resolved.json()["state"], resolved.json()["resolved_by"]) == (
        "resolved",
        f"user:{people.ids['admin']}",
    )
    for action in ("resolve", "acknowledge"):
        conflict = client.post(f"{url}/{action}", headers=people.auth("supervisor"))
        assert conflict.status_code == 409
        assert conflict.json()["detail"][0]["type"] == "alert.resolved"
    assert subjects(client, people, "supervisor") == []
    assert subjects(client, people, "supervisor", state="resolved") == [
        ("host.unreachable", f"host:{LEAKED}")
    ]
    assert audit_actions(db) == [
        (supervisor, "alert.acknowledged", mine.id, {"kind": "host.unreachable"}),
        (f"user:{people.ids['admin']}", "alert.resolved", mine.id, {"kind": "host.unreachable"}),
    ]
    # The cause persists: the next watchdog run opens a new alert.
    watch(db)
    assert len(open_alerts(db)) == 2


def test_alert_filters_are_validated(client, people, db, world):
    for params in ({"state": "closed"}, {"kind": "host.exploded"}, {"offset": str(10**12)}):
        response = client.get("/api/v1/alerts", params=params, headers=people.auth("supervisor"))
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"] == ["query", next(iter(params))]


def test_every_role_without_case_data_is_refused_subjects_in_the_service(world):
    from tracker.alerts.triage import visible_alerts
    from tracker.errors import Forbidden
    from tracker.organisations.models import Role
    from tracker.organisations.service import Principal

    refused = []
    for role in Role:
        principal = Principal(user_id=1, organisation_id=world.helpline, role=role)
        try:
            visible_alerts(principal)
        except Forbidden:
            refused.append(role)
    assert sorted(refused) == sorted(
        role for role in Role if role not in (Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)
    )
    assert Role.DASHBOARD in refused
