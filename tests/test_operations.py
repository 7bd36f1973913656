"""Operations: the data folder's modes (item 12), the webhook's secret and destination (item
14), failures logged by id (item 17), and the README's settings table and bench set-up (18)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TEST_KEY
from smtp_sink import CollectingHandler, LoopbackController
from sqlalchemy import text
from sqlmodel import col, select
from test_escalation_depth import WebhookReceiver

from tracker.audit.models import AuditEvent
from tracker.notifications.service import ClaimedDelivery
from tracker.organisations.models import Organisation
from tracker.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- item 12: the embedded database's folder and files ---------------------------------------


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common umask (022), under which SQLite would create 0644 files."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def restore_cipher() -> Iterator[None]:
    """open_database installs the development key's cipher; give the suite's back after."""
    from tracker.crypto import FieldCipher
    from tracker.db import configure_cipher

    yield
    configure_cipher(FieldCipher([TEST_KEY]))


def open_embedded(data_dir: Path):
    """The embedded default on ``data_dir``: SQLite file and generated development key."""
    from tracker.runtime import open_database

    settings = Settings(data_dir=data_dir, encryption_keys=[], database_url=None)
    return open_database(settings, upgrade=True)


def test_embedded_data_folder_is_0700_and_its_files_0600(
    tmp_path: Path, loose_umask: None, restore_cipher: None
) -> None:
    data_dir = tmp_path / "new" / "tracker-data"
    database = open_embedded(data_dir)
    try:
        with database.engine.connect() as connection:  # WAL: -wal and -shm exist while open
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            connection.commit()
            files = {path.name: mode(path) for path in data_dir.iterdir()}
    finally:
        database.engine.dispose()
    assert mode(data_dir) == 0o700
    assert files == {
        "tracker.sqlite3": 0o600,
        "tracker.sqlite3-wal": 0o600,
        "tracker.sqlite3-shm": 0o600,
        "encryption.key": 0o600,
    }


def test_an_existing_open_folder_is_kept_with_a_warning_and_new_files_are_0600(
    tmp_path: Path, loose_umask: None, restore_cipher: None, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "shared"
    data_dir.mkdir()
    data_dir.chmod(0o755)  # the operator's folder: not ours to change
    with caplog.at_level(logging.WARNING, logger="tracker.runtime"):
        open_embedded(data_dir).engine.dispose()
    assert mode(data_dir) == 0o755
    assert mode(data_dir / "tracker.sqlite3") == 0o600
    assert mode(data_dir / "encryption.key") == 0o600
    warnings = [record.getMessage() for record in caplog.records]
    assert warnings == [
        f"the data folder {data_dir} is open to group or others (mode 755); "
        f"run: chmod 700 {data_dir}"
    ]


def test_prepare_storage_leaves_postgresql_and_memory_alone(tmp_path: Path) -> None:
    from tracker.runtime import prepare_storage, sqlite_file

    assert sqlite_file("postgresql+psycopg://u@127.0.0.1/x") is None
    assert sqlite_file("sqlite://") is None and sqlite_file("sqlite:///:memory:") is None
    settings = Settings(
        data_dir=tmp_path / "unused",
        encryption_keys=[TEST_KEY],
        database_url="postgresql+psycopg://u@127.0.0.1/x",
    )
    prepare_storage(settings)
    assert not (tmp_path / "unused").exists()


# --- item 14: the organisation webhook --------------------------------------------------------


def audit_of(db, action_prefix: str) -> list[dict]:
    with db.session() as session:
        rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        return [
            {"action": row.action, **row.details}
            for row in rows
            if row.action.startswith(action_prefix)
        ]


def stored_secret(db) -> str | None:
    with db.session() as session:
        organisation = session.exec(
            select(Organisation).where(Organisation.name == "Test helpline")
        ).one()
        return organisation.webhook_secret


def test_a_webhook_without_secret_gets_one_shown_once_and_deliveries_are_signed(
    client, people, db
) -> None:
    from workers.notify import send_webhook

    receiver = WebhookReceiver([])
    try:
        admin = people.auth("admin")
        first = client.put(
            "/api/v1/organisation/webhook", json={"url": receiver.url}, headers=admin
        )
        assert first.status_code == 200, first.text
        body = first.json()
        secret = body.pop("secret")
        assert body == {"url": receiver.url, "has_secret": True}
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
        assert stored_secret(db) == secret
        # Read back: the setting, never the secret.
        read = client.get("/api/v1/organisation/webhook", headers=admin)
        assert read.status_code == 200 and read.json() == {"url": receiver.url, "has_secret": True}
        # Set again without a secret: the stored one is kept and not shown.
        again = client.put(
            "/api/v1/organisation/webhook", json={"url": receiver.url}, headers=admin
        )
        assert again.json() == {"url": receiver.url, "has_secret": True}
        assert stored_secret(db) == secret
        # A delivery is signed with it (it used to fail: "no webhook secret configured").
        claim = ClaimedDelivery(
            delivery_id=7,
            notification_id=5,
            channel="webhook",
            target=receiver.url,
            body=b'{"id":5}',
            subject="",
            text="",
            secret=stored_secret(db),
        )
        result = send_webhook(claim, get_settings())
        assert result.ok, result
        headers, sent = receiver.requests[0]
        expected = hmac.new(
            secret.encode(), headers["x-tracker-timestamp"].encode() + b"." + sent, hashlib.sha256
        ).hexdigest()
        assert headers["x-tracker-signature"] == f"sha256={expected}"
    finally:
        receiver.close()
    # Clearing turns it off and forgets the secret.
    cleared = client.put("/api/v1/organisation/webhook", json={"url": None}, headers=admin)
    assert cleared.json() == {"url": None, "has_secret": False}
    assert audit_of(db, "organisation.webhook") == [
        {"action": "organisation.webhook_set", "enabled": True, "secret": "generated"},
        {"action": "organisation.webhook_set", "enabled": True, "secret": "kept"},
        {"action": "organisation.webhook_cleared", "enabled": False, "secret": "cleared"},
    ]


def test_a_given_secret_replaces_the_stored_one_and_is_never_echoed(client, people, db) -> None:
    admin = people.auth("admin")
    url = "http://127.0.0.1:9/hook"
    client.put("/api/v1/organisation/webhook", json={"url": url}, headers=admin)
    given = "fake-given-secret-0123456789abcdefghij"
    answer = client.put(
        "/api/v1/organisation/webhook", json={"url": url, "secret": given}, headers=admin
    )
    assert answer.json() == {"url": url, "has_secret": True}
    assert stored_secret(db) == given
    assert [event["secret"] for event in audit_of(db, "organisation.webhook_set")] == [
        "generated",
        "given",
    ]
    short = client.put(
        "/api/v1/organisation/webhook", json={"url": url, "secret": "x" * 10}, headers=admin
    )
    assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "secret"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://metadata.google.internal/computeMetadata", "metadata"),
        ("http://127.0.0.2:8080/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://167772161/hook", "private"),  # 10.0.0.1 spelt as one number
        ("http://router.lan/hook", "internal name"),
    ],
)
def test_a_webhook_to_a_non_public_address_is_refused_when_set(
    client, people, db, url: str, reason: str
) -> None:
    answer = client.put(
        "/api/v1/organisation/webhook", json={"url": url}, headers=people.auth("admin")
    )
    assert answer.status_code == 422, answer.text
    assert answer.json() == {
        "detail": [
            {
                "loc": ["body", "url"],
                "msg": "destination refused by policy: the webhook host is not a public address "
                f"({reason})",
                "type": "webhook.destination_refused",
            }
        ]
    }
    assert stored_secret(db) is None and audit_of(db, "organisation.webhook") == []


def test_the_allowlist_admits_a_private_webhook_but_never_a_metadata_address() -> None:
    from tracker.errors import Invalid
    from tracker.notifications.webhooks import check_destination

    check_destination(url="https://hooks.example.org/x", allowlist=[])
    check_destination(url="http://192.168.1.20/x", allowlist=["192.168.0.0/16"])
    with pytest.raises(Invalid):
        check_destination(url="http://192.168.1.20/x", allowlist=[])
    with pytest.raises(Invalid):
        check_destination(url="http://169.254.169.254/x", allowlist=["169.254.0.0/16"])


def test_only_an_admin_reads_the_webhook(client, people) -> None:
    assert (
        client.get("/api/v1/organisation/webhook", headers=people.auth("supervisor")).status_code
        == 403
    )
    assert client.get("/api/v1/organisation/webhook").status_code == 401


# --- item 17: failures are logged with ids, never an address or a URL ----------------------


def claim(target: str, channel: str = "webhook") -> ClaimedDelivery:
    return ClaimedDelivery(
        delivery_id=31,
        notification_id=17,
        channel=channel,
        target=target,
        body=b"{}",
        subject="[Takedown tracker] escalated on report 3",
        text="Report 3 escalated.",
        secret="fake-webhook-secret-0123456789abcdef",
    )


def test_webhook_failures_are_logged_by_id(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers import notify
    from workers.notify import send_webhook

    real_getaddrinfo = socket.getaddrinfo

    def resolver(host: str, *args, **kwargs):  # no DNS query leaves the test
        if host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(notify.socket, "getaddrinfo", resolver)
    settings = get_settings()
    with caplog.at_level(logging.WARNING, logger="workers.notify"):
        refused = send_webhook(claim("http://10.1.2.3/hook"), settings)
        unresolved = send_webhook(claim("https://no-such-host.invalid/hook"), settings)
    assert (refused.error, refused.retryable) == ("destination refused by policy", False)
    assert (unresolved.error, unresolved.retryable) == ("DNS resolution failed (gaierror)", True)
    messages = [r.getMessage() for r in caplog.records if r.name == "workers.notify"]
    assert messages == [
        "notification 17: webhook delivery 31 failed (destination refused: private)",
        "notification 17: webhook delivery 31 failed (DNS error gaierror); will retry",
    ]
    logged = caplog.text
    assert "10.1.2.3" not in logged and "no-such-host" not in logged


@pytest.fixture
def mailbox() -> Iterator[LoopbackController]:
    controller = LoopbackController(CollectingHandler(), hostname="127.0.0.1")
    controller.start()
    yield controller
    controller.stop()


def test_email_failures_are_logged_by_id(mailbox, caplog: pytest.LogCaptureFixture) -> None:
    from workers.notify import send_email

    sink = get_settings().model_copy(update={"smtp_port": mailbox.port})
    closed = get_settings().model_copy(update={"smtp_port": 1})
    with caplog.at_level(logging.WARNING, logger="workers.notify"):
        refused = send_email(claim("refuse-550@helpline.example", "email"), sink)
        deferred = send_email(claim("defer-451@helpline.example", "email"), sink)
        down = send_email(claim("caseworker@helpline.example", "email"), closed)
    assert (refused.response_status, refused.retryable) == (550, False)
    assert (deferred.response_status, deferred.retryable) == (451, True)
    assert (down.error, down.retryable) == ("ConnectionRefusedError", True)
    messages = [r.getMessage() for r in caplog.records if r.name == "workers.notify"]
    assert messages == [
        "notification 17: email delivery 31 failed (SMTP 550 recipient refused)",
        "notification 17: email delivery 31 failed (SMTP 451 recipient refused); will retry",
        "notification 17: email delivery 31 failed (ConnectionRefusedError); will retry",
    ]
    assert "helpline.example" not in caplog.text


def test_email_filing_failures_are_logged_by_reference(
    mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    from platform_adapters.base import FilingRequest, PermanentError
    from platform_adapters.email import EmailAdapter

    adapter = EmailAdapter(
        EmailAdapter.config_from(get_settings().model_copy(update={"smtp_port": mailbox.port}), {})
    )
    request = FilingRequest(
        idempotency_key="fakefiling0042",
        url="https://videos.example/watch/fake-1",
        platform="web",
        rung_target="host",
        legal_basis="Test rule",
        deadline_text="72 hours",
        organisation_name="Test helpline",
        organisation_email="desk@helpline.example",
        channel_params={"address": "refuse-550@host.example"},
    )
    with caplog.at_level(logging.WARNING, logger="platform_adapters.email"):
        with pytest.raises(PermanentError):
            adapter.file(request)
    assert [r.getMessage() for r in caplog.records] == [
        "e-mail filing fakefiling0042 failed (permanent): recipient refused (550)"
    ]
    assert "host.example" not in caplog.text and "videos.example" not in caplog.text


# --- item 18: the README lists every setting; bench uses the checkout's .venv ---------------


def test_the_readme_settings_table_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Settings") :]
    table = table[: table.index("\n## ")] if "\n## " in table else table
    named = {
        name
        for first_cell in re.findall(r"^\|([^|]*)\|", table, re.MULTILINE)
        for name in re.findall(r"`([A-Z0-9_]+)`", first_cell)
    }
    fields = {name.upper() for name in Settings.model_fields}
    assert sorted(fields - named) == []
    assert sorted(named - fields) == []


def test_bench_readme_installs_into_the_checkouts_venv() -> None:
    bench = (ROOT / "bench" / "README.md").read_text()
    assert "/work/" not in bench
    assert ".venv/bin/pip install -e '.[test,bench]'" in bench
    assert re.findall(r"\S*python\b", bench) and all(
        word == ".venv/bin/python" for word in re.findall(r"\S*/python\b", bench)
    )


def test_the_api_socket_answers_without_waiting_for_delayed_acks():
    """`tracker serve` binds its own socket; asyncio sets TCP_NODELAY on the connections it
    accepts only when the socket says it is TCP. Without it, every small answer waited ~40 ms
    for the client's delayed ACK (measured: /api/v1/me 48 ms instead of 2.7 ms)."""
    import asyncio
    import socket

    from tracker.cli import _listening_socket

    listener = _listening_socket("127.0.0.1", 0)
    accepted: list[int] = []

    async def run() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connection = writer.get_extra_info("socket")
            accepted.append(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if accepted:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(run())
    assert accepted and accepted[0] != 0
