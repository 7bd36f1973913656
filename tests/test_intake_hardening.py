"""Intake hardening (issue 7): refusals that reveal nothing, targets that can never be fetched,
the sandbox only where enabled, plausible manual submission times, visible hold reasons."""

from __future__ import annotations

import logging
import socket
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import new_case, reset_settings
from harnesses import make_request
from harnesses.rdap_email import rdap_email_adapter
from sqlmodel import col, select

from platform_adapters.base import MissingCredentialsError, PermanentError
from platform_adapters.directory import load_directory
from platform_adapters.rdap import Bootstrap, RdapClient
from platform_adapters.registry import build_adapter, enabled_adapters
from tracker.channels import directory
from tracker.checks.models import Check
from tracker.checks.service import record_check
from tracker.db import utcnow
from tracker.filings.models import Filing
from tracker.reports.models import Report
from tracker.settings import Settings, get_settings
from workers import jobs

REPORTS = "/api/v1/cases/{}/reports"
NO_AUTHORITY_MESSAGE = (
    "Not filed: the case has no authority to act. Set authority_to_act on the case "
    "(PATCH /api/v1/cases/{id}) and its waiting reports are filed."
)


def add(client, people, case_id: int, urls: list[str], **extra: Any):
    return client.post(
        REPORTS.format(case_id), json={"urls": urls, **extra}, headers=people.auth("alice")
    )


def filings_of(db, report_id: int) -> list[Filing]:
    with db.session() as session:
        return list(
            session.exec(
                select(Filing).where(Filing.report_id == report_id).order_by(col(Filing.id))
            ).all()
        )


def report_count(db) -> int:
    with db.session() as session:
        return len(session.exec(select(Report.id)).all())


# --- item 5: a refused check says "destination refused by policy", the log has no host --------


def test_refused_check_shows_only_the_policy_sentence(client, people, db, sandbox, caplog):
    # "localhost" resolves (through the system resolver) to a loopback address: an internal
    # DNS answer the old reason printed ("localhost resolves to non-public address 127.0.0.1").
    reset_settings(TRACKER_OUTBOUND_ALLOWLIST="localhost")
    try:
        case_id = new_case(client, people)
        logged = add(client, people, case_id, [f"http://localhost:{sandbox.port}/videos/fake-1"])
        assert logged.status_code == 200, logged.text
        report_id = logged.json()["results"][0]["report_id"]
        reset_settings(TRACKER_OUTBOUND_ALLOWLIST="")
        with caplog.at_level(logging.INFO):
            assert jobs.recheck_batch([report_id], db=db) == 1
    finally:
        reset_settings(TRACKER_OUTBOUND_ALLOWLIST="127.0.0.1")
    with db.session() as session:
        [check] = session.exec(select(Check).where(Check.report_id == report_id)).all()
    assert (check.verdict, check.reason) == ("unknown", "destination_refused")
    assert check.error == "destination refused by policy"
    detail = client.get(f"/api/v1/reports/{report_id}", headers=people.auth("alice"))
    [shown] = detail.json()["checks"]
    assert shown["reason"] == "destination_refused"
    assert shown["error"] == "destination refused by policy"
    assert "127.0.0.1" not in detail.text and "::1" not in detail.text
    lines = [record.getMessage() for record in caplog.records]
    assert f"report {report_id}: re-check refused by the outbound policy" in lines
    assert "outbound request refused by policy: loopback destination" in lines
    assert not [line for line in lines if "localhost" in line or "127.0.0.1" in line]


# --- item 6: targets that can never be fetched are refused at intake, naming the entry --------

NEVER_FETCHABLE = [
    ("http://169.254.169.254/latest/meta-data/", "a cloud metadata service"),
    ("http://metadata.google.internal/computeMetadata/v1/", "a cloud metadata service"),
    ("http://10.0.0.1/fake", "a private network address"),
    ("https://192.168.1.20/fake", "a private network address"),
    ("http://172.16.5.4:8080/fake", "a private network address"),
    ("http://127.0.0.2:8765/videos/fake", "a loopback address (this server itself)"),
    ("http://[::1]/fake", "a loopback address (this server itself)"),
    ("http://[::ffff:10.0.0.1]/fake", "a private network address"),
    ("http://[::ffff:169.254.169.254]/", "a cloud metadata service"),
    ("http://169.254.10.10/fake", "a link-local address"),
    ("http://[fe80::1]/fake", "a link-local address"),
    ("http://100.64.0.1/fake", "a carrier-grade NAT address"),
    ("http://224.0.0.1/fake", "a multicast address"),
    ("http://0.0.0.0/fake", "an unspecified address"),
    ("http://240.0.0.1/fake", "a reserved or documentation address"),
    ("http://localhost:8000/fake", "a loopback address (this server itself)"),
    ("http://app.localhost/fake", "a loopback address (this server itself)"),
    ("http://db.internal/fake", "an internal host name"),
    ("http://printer.local/fake", "an internal host name"),
    ("http://intranet/fake", "an internal host name"),
    ("http://fakeleaks.onion/fake", "an internal host name"),
    ("http://foo.invalid/fake", "an internal host name"),
    ("http://kubernetes.default.svc/fake", "an internal host name"),
    ("http://1.0.0.127.in-addr.arpa/fake", "an internal host name"),
]


def test_intake_refuses_every_target_that_can_never_be_fetched(client, people, db):
    case_id = new_case(client, people)
    # An error answer lists at most 20 problems: send the refusals in groups under that.
    for start in range(0, len(NEVER_FETCHABLE), 15):
        group = NEVER_FETCHABLE[start : start + 15]
        urls = ["https://leaky-fake.example/v/1"] + [url for url, _ in group]
        response = add(client, people, case_id, urls)
        assert response.status_code == 422, response.text
        problems = response.json()["detail"]
        assert [problem["loc"] for problem in problems] == [
            ["body", "urls", index] for index in range(1, len(urls))
        ]
        assert {problem["type"] for problem in problems} == {"url.not_public"}
        for problem, (_url, description) in zip(problems, group, strict=True):
            assert f" is {description}, not on the public internet" in problem["msg"]
    assert report_count(db) == 0  # all or nothing


def test_partial_intake_lists_the_refused_entries_and_logs_the_rest(client, people, db):
    case_id = new_case(client, people)
    response = add(
        client,
        people,
        case_id,
        ["http://169.254.169.254/", "https://leaky-fake.example/v/2"],
        allow_partial=True,
    )
    assert response.status_code == 200, response.text
    refused, created = response.json()["results"]
    assert (refused["outcome"], refused["reason_type"]) == ("rejected", "url.not_public")
    assert refused["reason"] == (
        "169.254.169.254 is a cloud metadata service, not on the public internet: "
        "it can never be checked or reported"
    )
    assert created["outcome"] == "created"
    assert report_count(db) == 1


def test_the_outbound_allowlist_admits_internal_targets_but_never_metadata(client, people, db):
    reset_settings(TRACKER_OUTBOUND_ALLOWLIST="127.0.0.1,10.0.0.0/8,169.254.0.0/16,db.internal")
    try:
        case_id = new_case(client, people)
        admitted = add(client, people, case_id, ["http://10.0.0.1/fake", "http://db.internal/x"])
        assert admitted.status_code == 200, admitted.text
        assert [result["outcome"] for result in admitted.json()["results"]] == ["created"] * 2
        metadata = add(client, people, case_id, ["http://169.254.169.254/latest/meta-data/"])
        assert metadata.status_code == 422
        assert metadata.json()["detail"][0]["type"] == "url.not_public"
        still_private = add(client, people, case_id, ["http://192.168.0.1/fake"])
        assert still_private.status_code == 422
    finally:
        reset_settings(TRACKER_OUTBOUND_ALLOWLIST="127.0.0.1")


def test_intake_resolves_no_names(client, people, db, monkeypatch):
    asked: list[str] = []
    real = socket.getaddrinfo

    def recording(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    case_id = new_case(client, people)
    response = add(client, people, case_id, ["https://dns-fake-intake.example/v/1"])
    assert response.status_code == 200, response.text
    assert [host for host in asked if "dns-fake-intake" in host] == []


def test_rdap_is_never_asked_about_a_non_public_address(rdap_server):
    client = RdapClient(
        Bootstrap({"services": []}, {"services": []}, {"services": []}),
        base_url_override=rdap_server.base_url,
        timeout=2,
    )
    before = len(rdap_server.paths)
    for address in ("10.0.0.1", "127.0.0.1", "169.254.169.254", "::ffff:192.168.0.1", "fd00::1"):
        with pytest.raises(PermanentError, match="RDAP is not asked about"):
            client.abuse_contact_for_ip(address)
    with pytest.raises(PermanentError, match="it is an internal name"):
        client.abuse_contact_for_domain("files.corp-fake.internal")
    assert len(rdap_server.paths) == before


def test_rdap_email_refuses_internal_targets_before_any_lookup(rdap_server):
    resolved: list[str] = []

    def resolver(host: str) -> list[str]:
        resolved.append(host)
        return {"leak-fake.example": ["10.0.0.7"]}.get(host, [])

    adapter = rdap_email_adapter(1, rdap_server.base_url, resolver=resolver)
    before = len(rdap_server.paths)
    with pytest.raises(PermanentError, match=r"RDAP is not asked about 10\.0\.0\.1"):
        adapter.find_contact(make_request("key-1", "http://10.0.0.1/v", rung_target="host"))
    with pytest.raises(PermanentError, match="it is an internal name"):
        adapter.find_contact(make_request("key-2", "http://db.internal/v", rung_target="host"))
    with pytest.raises(PermanentError) as refused:
        adapter.find_contact(make_request("key-3", "https://leak-fake.example/v", lookup="ip"))
    assert str(refused.value) == (
        "no abuse contact found by RDAP for leak-fake.example "
        "(RDAP was not asked about its non-public addresses)"
    )
    assert "10.0.0.7" not in str(refused.value)
    assert resolved == ["leak-fake.example"]  # the internal name was not even resolved
    assert len(rdap_server.paths) == before


# --- item 7: the sandbox exists only where the demo or a test enables it ----------------------


def test_the_sandbox_is_off_by_default(client, people, db, sandbox):
    assert Settings.model_fields["sandbox_enabled"].default is False
    assert load_directory().platforms.get("sandbox") is None
    reset_settings(TRACKER_SANDBOX_ENABLED="false")
    try:
        settings = get_settings()
        assert settings.sandbox_enabled is False
        assert directory().platform_for_host("127.0.0.1") == "web"
        assert "sandbox" not in directory().platforms
        assert "sandbox" not in enabled_adapters(settings)
        with pytest.raises(MissingCredentialsError, match="TRACKER_SANDBOX_ENABLED"):
            build_adapter("sandbox", settings)

        case_id = new_case(client, people)
        url = f"{sandbox.base_url}/videos/comply-off-{time.monotonic_ns()}"
        [result] = add(client, people, case_id, [url]).json()["results"]
        assert result["platform"] == "web"
        assert [filing.adapter for filing in filings_of(db, result["report_id"])] == [
            "rdap_email"
        ]

        listing = client.get("/api/v1/channels", headers=people.auth("alice")).json()
        items = listing["items"] if isinstance(listing, dict) else listing
        assert "sandbox" not in {item["slug"] for item in items}
        one = client.get("/api/v1/channels/sandbox", headers=people.auth("alice"))
        assert one.status_code == 404
        stored = client.put(
            "/api/v1/channel-credentials/sandbox",
            json={"values": {"api_token": "fake-token-000"}},
            headers=people.auth("admin"),
        )
        assert stored.status_code == 422
        assert stored.json()["detail"][0]["type"] == "channel.missing_credentials"
    finally:
        reset_settings(TRACKER_SANDBOX_ENABLED="true")
    assert directory().platform_for_host("127.0.0.1") == "sandbox"
    assert "sandbox" in enabled_adapters(get_settings())


# --- item 11: a manual submission time lies between the packet and now ------------------------


def awaiting_manual_filing(client, people, db) -> Filing:
    case_id = new_case(client, people)
    [result] = add(
        client, people, case_id, ["https://www.tiktok.com/@fakeuser/video/7000000000000000042"]
    ).json()["results"]
    [filing] = filings_of(db, result["report_id"])
    jobs.file_filing(filing.id, db=db)
    [filing] = filings_of(db, result["report_id"])
    assert filing.status == "awaiting_manual"
    return filing


@pytest.mark.parametrize(
    "submitted_at", ["1970-01-01T00:00:00Z", "2000-06-01T12:00:00+02:00", "far_future"]
)
def test_manual_submission_time_outside_packet_to_now_is_refused(
    client, people, db, submitted_at
):
    filing = awaiting_manual_filing(client, people, db)
    if submitted_at == "far_future":
        submitted_at = (utcnow() + timedelta(minutes=6)).isoformat()
    response = client.post(
        f"/api/v1/filings/{filing.id}/confirm",
        json={"reference_id": "TT-FAKE-70", "submitted_at": submitted_at},
        headers=people.auth("alice"),
    )
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "submitted_at"]
    assert problem["type"] in {"filing.time_before_filing", "filing.future_time"}
    [unchanged] = [row for row in filings_of(db, filing.report_id) if row.id == filing.id]
    assert (unchanged.status, unchanged.submitted_at) == ("awaiting_manual", None)


def test_manual_submission_time_before_the_packet_names_the_reason(client, people, db):
    filing = awaiting_manual_filing(client, people, db)
    response = client.post(
        f"/api/v1/filings/{filing.id}/confirm",
        json={"reference_id": "TT-FAKE-71", "submitted_at": "1970-01-01T00:00:00Z"},
        headers=people.auth("alice"),
    )
    [problem] = response.json()["detail"]
    assert problem["type"] == "filing.time_before_filing"
    assert problem["msg"].startswith("the submission time is before the filing was prepared")


def test_manual_submission_time_within_the_window_sets_the_deadline_from_it(client, people, db):
    filing = awaiting_manual_filing(client, people, db)
    stated = utcnow() - timedelta(seconds=1)
    response = client.post(
        f"/api/v1/filings/{filing.id}/confirm",
        json={"reference_id": "TT-FAKE-72", "submitted_at": stated.isoformat()},
        headers=people.auth("alice"),
    )
    assert response.status_code == 200, response.text
    [confirmed] = filings_of(db, filing.report_id)
    assert abs(confirmed.submitted_at - stated) < timedelta(milliseconds=1)
    with db.session() as session:
        report = session.get(Report, filing.report_id)
    # The test policy's first rung gives 6 s, counted from the stated time.
    assert report.deadline_at == confirmed.submitted_at + timedelta(seconds=6)


# --- item 16: a held report says why, and granting authority files it --------------------------


def test_a_report_without_authority_says_why_and_files_once_authority_is_granted(
    client, people, db, sandbox
):
    case_id = new_case(client, people, authority_to_act=False)
    url = f"{sandbox.base_url}/videos/comply-held-{time.monotonic_ns()}"
    answer = add(client, people, case_id, [url]).json()
    [result] = answer["results"]
    assert (result["outcome"], result["hold_reason"]) == ("created", "no_authority_to_act")
    assert result["hold_message"] == NO_AUTHORITY_MESSAGE
    assert (answer["held"], answer["hold_reason"]) == (1, "no_authority_to_act")
    assert answer["hold_message"] == NO_AUTHORITY_MESSAGE
    report_id = result["report_id"]
    assert filings_of(db, report_id) == []

    shown = client.get(f"/api/v1/reports/{report_id}", headers=people.auth("alice")).json()
    assert (shown["state"], shown["hold_reason"]) == ("logged", "no_authority_to_act")
    assert shown["hold_message"] == NO_AUTHORITY_MESSAGE
    listed = client.get(f"/api/v1/reports?case_id={case_id}", headers=people.auth("alice")).json()
    assert [item["hold_reason"] for item in listed["items"]] == ["no_authority_to_act"]
    [again] = add(client, people, case_id, [url]).json()["results"]
    assert (again["outcome"], again["hold_reason"]) == ("duplicate", "no_authority_to_act")

    granted = client.patch(
        f"/api/v1/cases/{case_id}", json={"authority_to_act": True}, headers=people.auth("alice")
    )
    assert granted.status_code == 200, granted.text
    [filing] = filings_of(db, report_id)
    assert (filing.status, filing.adapter) == ("pending", "sandbox")
    shown = client.get(f"/api/v1/reports/{report_id}", headers=people.auth("alice")).json()
    assert (shown["hold_reason"], shown["hold_message"]) == (None, None)
    assert jobs.file_filing(filing.id, db=db) == "filed"
    shown = client.get(f"/api/v1/reports/{report_id}", headers=people.auth("alice")).json()
    assert (shown["state"], shown["hold_reason"]) == ("filed", None)


def test_a_case_with_authority_holds_nothing(client, people, db, sandbox):
    case_id = new_case(client, people)
    url = f"{sandbox.base_url}/videos/comply-free-{time.monotonic_ns()}"
    answer = add(client, people, case_id, [url]).json()
    assert (answer["held"], answer["hold_reason"], answer["results"][0]["hold_reason"]) == (
        0,
        None,
        None,
    )


def test_reappearance_without_authority_is_held_not_silently_logged(client, people, db, sandbox):
    case_id = new_case(client, people)
    url = f"{sandbox.base_url}/videos/comply-back-{time.monotonic_ns()}"
    report_id = add(client, people, case_id, [url]).json()["results"][0]["report_id"]
    [filing] = filings_of(db, report_id)
    jobs.file_filing(filing.id, db=db)
    for verdict in ("removed", "removed"):
        with db.transaction() as session:
            record_check(
                session=session,
                report_id=report_id,
                checked_at=utcnow(),
                verdict=verdict,
                reason="test",
                http_status=None,
                final_url=None,
                fingerprint=None,
                latency_ms=1,
                error=None,
            )
    revoked = client.patch(
        f"/api/v1/cases/{case_id}", json={"authority_to_act": False}, headers=people.auth("alice")
    )
    assert revoked.status_code == 200
    with db.transaction() as session:
        record_check(
            session=session,
            report_id=report_id,
            checked_at=utcnow(),
            verdict="live",
            reason="test",
            http_status=200,
            final_url=None,
            fingerprint=None,
            latency_ms=1,
            error=None,
        )
    shown = client.get(f"/api/v1/reports/{report_id}", headers=people.auth("alice")).json()
    assert (shown["state"], shown["hold_reason"]) == ("reappeared", "no_authority_to_act")
    assert [row.status for row in filings_of(db, report_id)] == ["removed"]


def test_a_paused_report_shows_its_hold_reason(client, people, db, sandbox):
    case_id = new_case(client, people)
    url = f"{sandbox.base_url}/videos/comply-pause-{time.monotonic_ns()}"
    report_id = add(client, people, case_id, [url]).json()["results"][0]["report_id"]
    [filing] = filings_of(db, report_id)
    jobs.file_filing(filing.id, db=db)
    paused = client.post(
        f"/api/v1/reports/{report_id}/pause",
        json={"reason": "waiting_for_victim"},
        headers=people.auth("alice"),
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["hold_reason"] == "clock_paused"
    assert paused.json()["hold_message"] == (
        "The clock is paused (waiting for victim); resume the report to go on."
    )
    resumed = client.post(f"/api/v1/reports/{report_id}/resume", headers=people.auth("alice"))
    assert (resumed.json()["hold_reason"], resumed.json()["hold_message"]) == (None, None)


def _insert(connection, table_name: str, **values: Any) -> int:
    """Insert a row with ``values``, filling other required columns with plain fake values."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=connection)
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.name in values or column.primary_key or column.nullable:
            continue
        if column.server_default is not None:
            continue
        try:
            kind = column.type.python_type
        except NotImplementedError:
            kind = str
        row[column.name] = {
            int: 1,
            bool: False,
            float: 0.0,
            str: "fake",
            list: [],
            dict: {},
        }.get(kind, utcnow())
    row.update(values)
    return connection.execute(table.insert().values(**row)).inserted_primary_key[0]


def test_the_migration_gives_waiting_reports_of_cases_without_authority_their_reason(tmp_path):
    from alembic import command

    from tracker.migrations.config import alembic_config

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0005")
        reports: dict[str, int] = {}
        for name, authority, state, filing_status in [
            ("held", False, "logged", None),
            ("held_escalated", False, "escalated", "superseded"),
            ("has_authority", True, "logged", None),
            ("already_filed", False, "filed", "submitted"),
            ("open_filing", False, "logged", "pending"),
        ]:
            case_id = _insert(
                connection, "cases", label="Case FAKE-001", jurisdictions=["TEST"],
                status="open", authority_to_act=authority,
            )
            reports[name] = _insert(
                connection, "reports", case_id=case_id, state=state,
                canonical_url=f"https://leak-fake.example/{name}",
            )
            if filing_status is not None:
                _insert(
                    connection, "filings", report_id=reports[name], track="ladder",
                    status=filing_status, idempotency_key=name,
                )
        command.upgrade(alembic_config(connection), "0006")
        held = dict(connection.execute(sa.text("SELECT id, hold_reason FROM reports")).all())
    engine.dispose()
    assert {name: held[report_id] for name, report_id in reports.items()} == {
        "held": "no_authority_to_act",
        "held_escalated": "no_authority_to_act",
        "has_authority": None,
        "already_filed": None,
        "open_filing": None,
    }
