"""Escalation in depth: pause-the-clock, warnings, reminders, the parallel search track,
notifications by e-mail and signed webhook, and the watchdog's alerts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import reset_settings
from smtp_sink import CollectingHandler, LoopbackController
from sqlalchemy import update
from sqlmodel import col, select
from test_filing_flow import filings_of, log_url, report
from test_recheck_flow import check, filed_report

from tracker.alerts.models import Alert
from tracker.alerts.watchdog import run_watchdog
from tracker.db import utcnow
from tracker.notifications.models import Notification, NotificationDelivery
from tracker.reports.models import Report
from tracker.settings import get_settings
from workers import jobs
from workers.scheduler import (
    sweep_parallel,
    sweep_reminders,
    sweep_warnings,
    watchdog,
)

WEBHOOK_SECRET = "fake-webhook-secret-0123456789abcdef"


class WebhookReceiver:
    """A loopback HTTP server that records POSTs and answers the statuses it is told to."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tracker"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    webhook = WebhookReceiver([])
    yield webhook
    webhook.close()


@pytest.fixture
def mailbox():
    handler = CollectingHandler()
    controller = LoopbackController(handler, hostname="127.0.0.1")
    controller.start()
    reset_settings(TRACKER_SMTP_PORT=str(controller.port))
    yield handler
    controller.stop()
    reset_settings(TRACKER_SMTP_PORT="1")


def configure_notifications(client, people, receiver) -> None:
    mine = client.put(
        "/api/v1/me/notifications",
        json={"notification_email": "alice.caseworker@helpline.example"},
        headers=people.auth("alice"),
    )
    assert mine.status_code == 200, mine.text
    hook = client.put(
        "/api/v1/organisation/webhook",
        json={"url": receiver.url, "secret": WEBHOOK_SECRET},
        headers=people.auth("admin"),
    )
    assert hook.status_code == 200 and hook.json() == {"url": receiver.url, "has_secret": True}
    assert WEBHOOK_SECRET not in hook.text


def deliveries(db):
    with db.session() as session:
        return list(
            session.exec(select(NotificationDelivery).order_by(col(NotificationDelivery.id))).all()
        )


def test_pause_stops_the_clock_and_resume_gives_the_time_back(client, people, db, sandbox):
    report_id, _ = filed_report(client, people, db, sandbox, prefix="ignore")
    before = report(db, report_id)
    remaining = (before.deadline_at - utcnow()).total_seconds()
    paused = client.post(
        f"/api/v1/reports/{report_id}/pause",
        json={"reason": "waiting_for_victim"},
        headers=people.auth("alice"),
    )
    assert paused.status_code == 200, paused.text
    body = paused.json()
    assert body["state"] == "paused" and body["deadline_at"] is None
    assert body["pause_reason"] == "waiting_for_victim"
    assert abs(body["paused_remaining_seconds"] - remaining) < 1.5
    with db.transaction() as session:  # paused reports are never escalated
        from tracker.due import claim_due_escalations

        assert claim_due_escalations(session=session, lease_seconds=60, limit=10) == []
    time.sleep(1.0)
    resumed = client.post(f"/api/v1/reports/{report_id}/resume", headers=people.auth("alice"))
    assert resumed.status_code == 200
    after = report(db, report_id)
    assert after.state == "filed" and after.pause_reason is None
    # The deadline moved on by the paused time (about a second), not reset, not lost.
    shift = (after.deadline_at - before.deadline_at).total_seconds()
    assert 0.9 <= shift <= 3.0
    [filing] = filings_of(db, report_id)
    assert filing.deadline_at == after.deadline_at
    again = client.post(f"/api/v1/reports/{report_id}/resume", headers=people.auth("alice"))
    assert again.status_code == 409 and again.json()["detail"][0]["type"] == "report.not_paused"
    bad = client.post(
        f"/api/v1/reports/{report_id}/pause", json={"reason": "bored"}, headers=people.auth("alice")
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "reason"]


def test_a_logged_report_cannot_be_paused(client, people, db):
    report_id = log_url(client, people, "https://fine.example/a", authority_to_act=False)
    response = client.post(
        f"/api/v1/reports/{report_id}/pause",
        json={"reason": "platform_requested_info"},
        headers=people.auth("alice"),
    )
    assert response.status_code == 409
    assert response.json()["detail"][0]["type"] == "report.not_pausable"


def test_deadline_warning_is_emailed_and_posted_signed(
    client, people, db, sandbox, receiver, mailbox
):
    configure_notifications(client, people, receiver)
    report_id, _ = filed_report(client, people, db, sandbox, prefix="ignore")
    current = report(db, report_id)
    assert current.warn_at == filings_of(db, report_id)[0].submitted_at + timedelta(
        seconds=6 * 0.75
    )
    with db.transaction() as session:
        session.execute(
            update(Report)
            .where(col(Report.id) == report_id)
            .values(warn_at=utcnow() - timedelta(seconds=1))
        )
    assert sweep_warnings(db, get_settings()) == 1
    assert sweep_warnings(db, get_settings()) == 0  # a warning is sent once
    for delivery in deliveries(db):
        assert jobs.deliver_notification(delivery.id, db=db) == "delivered"
    assert [(d.channel, d.status) for d in deliveries(db)] == [
        ("email", "delivered"),
        ("webhook", "delivered"),
    ]
    [mail] = mailbox.messages
    assert mail["To"] == "alice.caseworker@helpline.example"
    assert "deadline_warning" in mail["Subject"]
    [(headers, body)] = receiver.requests
    expected = (
        "sha256="
        + hmac.new(
            WEBHOOK_SECRET.encode(),
            headers["x-tracker-timestamp"].encode() + b"." + body,
            hashlib.sha256,
        ).hexdigest()
    )
    assert headers["x-tracker-signature"] == expected
    event = json.loads(body)
    assert event["kind"] == "deadline_warning" and event["report_id"] == report_id
    assert set(event) == {"id", "kind", "report_id", "case_id", "message", "created_at"}
    listing = client.get("/api/v1/notifications", headers=people.auth("alice")).json()
    assert listing["items"][0]["kind"] == "deadline_warning"
    assert {d["status"] for d in listing["items"][0]["deliveries"]} == {"delivered"}


def test_webhook_retries_5xx_then_delivers_and_fails_fast_on_4xx(
    client, people, db, sandbox, receiver
):
    configure_notifications(client, people, receiver)
    client.put(
        "/api/v1/me/notifications", json={"notification_email": None}, headers=people.auth("alice")
    )
    receiver.statuses = [500, 200]
    report_id, _ = filed_report(client, people, db, sandbox, prefix="ignore")
    with db.transaction() as session:
        session.execute(update(Report).where(col(Report.id) == report_id).values(warn_at=utcnow()))
    sweep_warnings(db, get_settings())
    [delivery] = deliveries(db)
    assert jobs.deliver_notification(delivery.id, db=db) == "failed"
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.response_status, delivery.attempt_count) == (
        "pending",
        500,
        1,
    )
    assert delivery.next_attempt_at > utcnow()
    # Not before its retry time, even if the job is delivered again...
    assert jobs.deliver_notification(delivery.id, db=db) == "skipped"
    with db.transaction() as session:
        session.execute(update(NotificationDelivery).values(next_attempt_at=utcnow()))
    # ...and then it goes out.
    assert jobs.deliver_notification(delivery.id, db=db) == "delivered"
    assert len(receiver.requests) == 2
    receiver.statuses = [410]
    with db.transaction() as session:
        session.execute(update(Report).where(col(Report.id) == report_id).values(warn_at=utcnow()))
    sweep_warnings(db, get_settings())
    second = deliveries(db)[-1]
    jobs.deliver_notification(second.id, db=db)
    assert deliveries(db)[-1].status == "failed"  # a 4xx is not retried
    alerts = client.get("/api/v1/alerts", headers=people.auth("supervisor")).json()["items"]
    assert any(alert["kind"] == "notification.webhook_failing" for alert in alerts)


def test_reminders_while_waiting_on_a_person(client, people, db):
    report_id = log_url(client, people, "https://www.facebook.com/fakeprofile/videos/555")
    [filing] = filings_of(db, report_id)
    jobs.file_filing(filing.id, db=db)
    current = report(db, report_id)
    assert current.state == "awaiting_manual"
    assert current.remind_at > utcnow() + timedelta(hours=23)
    with db.transaction() as session:
        session.execute(
            update(Report).where(col(Report.id) == report_id).values(remind_at=utcnow())
        )
    assert sweep_reminders(db, get_settings()) == 1
    assert report(db, report_id).remind_at > utcnow() + timedelta(hours=23)
    with db.session() as session:
        [note] = session.exec(select(Notification)).all()
    assert note.kind == "reminder" and "web-form packet" in note.message


def test_search_delisting_opens_alongside_the_ladder(client, people, db, sandbox):
    report_id, _ = filed_report(client, people, db, sandbox, prefix="ignore")
    current = report(db, report_id)
    [filing] = filings_of(db, report_id)
    assert current.parallel_due_at == filing.submitted_at + timedelta(seconds=2)
    with db.transaction() as session:
        session.execute(
            update(Report).where(col(Report.id) == report_id).values(parallel_due_at=utcnow())
        )
    assert sweep_parallel(db, get_settings()) == 1
    ladder, parallel = filings_of(db, report_id)
    assert (parallel.track, parallel.rung_target, parallel.adapter) == (
        "parallel",
        "search",
        "google_search_webform",
    )
    assert jobs.file_filing(parallel.id, db=db) == "filed"
    assert report(db, report_id).state == "filed"  # the ladder's state is not touched
    confirmed = client.post(
        f"/api/v1/filings/{parallel.id}/confirm",
        json={"reference_id": "GOOGLE-FAKE-1"},
        headers=people.auth("alice"),
    )
    assert confirmed.status_code == 200
    after = report(db, report_id)
    assert after.rung_index == 0 and after.deadline_at == ladder.deadline_at
    assert report(db, report_id).parallel_due_at is None
    # Escalating the ladder supersedes its own filing only.
    with db.transaction() as session:
        session.execute(
            update(Report)
            .where(col(Report.id) == report_id)
            .values(deadline_at=utcnow() - timedelta(seconds=1), last_verdict="live")
        )
    assert jobs.escalate_report(report_id, db=db) is True
    statuses = {(f.track, f.rung_index): f.status for f in filings_of(db, report_id)}
    assert statuses[("ladder", 0)] == "superseded"
    assert statuses[("parallel", 0)] == "submitted"


def test_confirmations_must_be_spaced_in_time(client, people, db, sandbox):
    reset_settings(TRACKER_CONFIRM_INTERVAL_SECONDS="600")
    try:
        report_id, _ = filed_report(client, people, db, sandbox)
        check(db, report_id, "removed")
        burst = check(db, report_id, "removed")
        assert burst.state == "filed" and burst.consecutive_removed == 2
        assert burst.next_check_at >= burst.first_removed_at + timedelta(seconds=599)
    finally:
        reset_settings(TRACKER_CONFIRM_INTERVAL_SECONDS="0")


def test_watchdog_alerts_on_a_stalled_checker_and_resolves(client, people, db, sandbox):
    report_id, _ = filed_report(client, people, db, sandbox)
    with db.transaction() as session:
        session.execute(
            update(Report)
            .where(col(Report.id) == report_id)
            .values(next_check_at=utcnow() - timedelta(hours=2))
        )
    watchdog(db, get_settings())
    ready = client.get("/readyz", headers=people.auth("admin")).json()
    assert ready["status"] == "degraded" and ready["checks"]["checker"] == "stalled"
    assert "checker.stalled" in ready["checks"]["open_alerts"]
    metrics = client.get("/metrics", headers=people.auth("admin")).text
    assert 'tracker_alerts_open{kind="checker.stalled"} 1.0' in metrics
    jobs.recheck_batch([report_id], db=db)
    watchdog(db, get_settings())
    with db.session() as session:
        [alert] = session.exec(select(Alert).where(Alert.kind == "checker.stalled")).all()
    assert alert.resolved_at is not None
    assert client.get("/readyz").json()["status"] == "ready"


def test_watchdog_alerts_on_a_channel_that_keeps_failing(client, people, db, sandbox):
    reset_settings(
        TRACKER_FAILURE_ALERT_THRESHOLD="3", TRACKER_SANDBOX_BASE_URL="http://127.0.0.1:9"
    )
    try:
        for _ in range(3):
            report_id = log_url(client, people, f"http://127.0.0.1:9/videos/x-{time.time_ns()}")
            [filing] = filings_of(db, report_id)
            assert jobs.file_filing(filing.id, db=db) == "transient"
        with db.transaction() as session:
            assert "adapter:sandbox" in run_watchdog(session=session, settings=get_settings())
        alerts = client.get("/api/v1/alerts", headers=people.auth("supervisor")).json()
        alerts = alerts["items"]
        assert ("channel.failing", "adapter:sandbox") in {(a["kind"], a["subject"]) for a in alerts}
    finally:
        reset_settings(
            TRACKER_FAILURE_ALERT_THRESHOLD="5", TRACKER_SANDBOX_BASE_URL=sandbox.base_url
        )
