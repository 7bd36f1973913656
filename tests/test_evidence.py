"""Evidence: uploads sealed with the case key on disk or in S3, type sniffing, the minor rule,
visibility like the case's, custody events, automatic captures, purging."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import new_case
from sqlmodel import select

from tracker.audit.models import AuditEvent
from tracker.checks.service import record_check
from tracker.db import utcnow
from tracker.evidence.models import Evidence
from tracker.evidence.service import evidence_bytes, purge_case_evidence
from tracker.settings import get_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 40
MP4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 4000
NOTE = b"Fake screenshot note: the sharer's profile said fakeuser\n" * 50
DESCRIPTION = "Fake description of the sharer's profile"


@pytest.fixture
def evidence_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Evidence on disk under a fresh data folder."""
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRACKER_EVIDENCE_STORE", "disk")
    get_settings.cache_clear()
    yield tmp_path / "evidence"
    monkeypatch.undo()
    get_settings.cache_clear()


def upload(client, people, case_id, content, *, who="alice", name="photo.txt", **form):
    return client.post(
        f"/api/v1/cases/{case_id}/evidence",
        files={"file": (name, content, "text/plain")},
        data={key: str(value) for key, value in form.items()},
        headers=people.auth(who),
    )


def stored_files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def rows(db) -> list[Evidence]:
    with db.session() as session:
        return list(session.exec(select(Evidence).order_by(Evidence.id)).all())


def events(db, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_an_upload_is_sealed_on_disk_and_downloads_exactly(client, people, db, evidence_dir):
    case_id = new_case(client, people)
    answer = upload(client, people, case_id, PNG, description=DESCRIPTION)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["media_type"] == "image/png"  # sniffed: the name and header said text
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (body["size_bytes"], body["kind"], body["description"]) == (
        len(PNG),
        "upload",
        DESCRIPTION,
    )
    [stored] = stored_files(evidence_dir)
    assert stored.name != "photo.txt" and len(stored.name) == 32
    raw = stored.read_bytes()
    assert b"\x89PNG" not in raw and bytes(range(64)) not in raw
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    assert oct(evidence_dir.stat().st_mode & 0o777) == "0o700"
    download = client.get(f"/api/v1/evidence/{body['id']}/content", headers=people.auth("alice"))
    assert download.status_code == 200
    assert download.content == PNG
    assert hashlib.sha256(download.content).hexdigest() == body["sha256"]
    assert download.headers["content-disposition"] == (
        f'attachment; filename="evidence-{body["id"]}.png"'
    )
    assert download.headers["cache-control"] == "no-store"
    assert download.headers["x-content-type-options"] == "nosniff"
    # The SHA-256 is stable: the same bytes again give the same hash, another sealed file.
    again = upload(client, people, case_id, PNG).json()
    assert again["sha256"] == body["sha256"]
    assert len(stored_files(evidence_dir)) == 2


def test_large_files_stream_in_chunks_and_round_trip(client, people, db, evidence_dir):
    case_id = new_case(client, people)
    content = NOTE * 4000  # about 230 KiB: several sealed chunks
    answer = upload(client, people, case_id, content)
    assert answer.status_code == 201 and answer.json()["media_type"] == "text/plain"
    download = client.get(
        f"/api/v1/evidence/{answer.json()['id']}/content", headers=people.auth("alice")
    )
    assert download.content == content


def test_too_large_is_413_naming_the_file_and_stores_nothing(
    client, people, db, evidence_dir, monkeypatch
):
    case_id = new_case(client, people)
    monkeypatch.setenv("TRACKER_EVIDENCE_MAX_BYTES", "20000")
    get_settings.cache_clear()
    answer = upload(client, people, case_id, NOTE * 10)
    assert answer.status_code == 413, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "file"]
    assert answer.json()["detail"][0]["type"] == "evidence.too_large"
    assert rows(db) == [] and stored_files(evidence_dir) == []
    assert upload(client, people, case_id, NOTE).status_code == 201


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "image/jpeg"),
        (b"GIF89a" + b"\x00" * 100, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 100, "image/webp"),
        (b"%PDF-1.7\n" + b"\x00" * 100, "application/pdf"),
        (b"<!DOCTYPE html><html><body>fake</body></html>", "text/html"),
        (b"From: <Saved by Blink>\r\nSubject: fake\r\nMIME-Version: 1.0\r\n\r\n", "message/rfc822"),
        (MP4, "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 100, "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 50, "video/webm"),
        ("Fake plain note in Hindi: नमस्ते\n".encode(), "text/plain"),
    ],
)
def test_the_type_comes_from_the_first_bytes(client, people, db, evidence_dir, content, expected):
    case_id = new_case(client, people)
    answer = upload(client, people, case_id, content, name="anything.exe")
    assert answer.status_code == 201, answer.text
    assert answer.json()["media_type"] == expected


@pytest.mark.parametrize(
    "content",
    [
        b"#!/bin/sh\nrm -rf /\n",
        b"\x7fELF\x02\x01\x01" + b"\x00" * 100,
        b"MZ\x90\x00" + b"\x00" * 100,
        b"PK\x03\x04" + b"\x00" * 100,
        b"",
    ],
)
def test_other_files_are_refused_naming_the_file(client, people, db, evidence_dir, content):
    case_id = new_case(client, people)
    answer = upload(client, people, case_id, content, name="photo.png")
    assert answer.status_code in (415, 422), answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "file"]
    assert rows(db) == [] and stored_files(evidence_dir) == []


def test_a_case_involving_a_minor_refuses_images_and_video(client, people, db, evidence_dir):
    case_id = new_case(client, people, minor_involved=True)
    for content in (PNG, MP4):
        answer = upload(client, people, case_id, content)
        assert answer.status_code == 422
        [problem] = answer.json()["detail"]
        assert problem["type"] == "evidence.minor_media_refused"
        assert problem["loc"] == ["body", "file"]
        assert "images and video are never stored" in problem["msg"]
    assert rows(db) == [] and stored_files(evidence_dir) == []
    note = upload(client, people, case_id, b"Fake hashes: pdq 0f0f... sha256 ab12...\n")
    assert note.status_code == 201 and note.json()["media_type"] == "text/plain"


def test_visibility_is_the_cases_and_custody_is_recorded(client, people, db, evidence_dir):
    case_id = new_case(client, people)
    evidence_id = upload(client, people, case_id, PNG, description=DESCRIPTION).json()["id"]
    for who in ("bob", "outsider"):
        auth = people.auth(who)
        assert client.get(f"/api/v1/cases/{case_id}/evidence", headers=auth).status_code == 404
        assert client.get(f"/api/v1/evidence/{evidence_id}", headers=auth).status_code == 404
        content = client.get(f"/api/v1/evidence/{evidence_id}/content", headers=auth)
        assert content.status_code == 404
        assert upload(client, people, case_id, PNG, who=who).status_code == 404
    assert (
        client.get(
            f"/api/v1/cases/{case_id}/evidence", headers=people.auth("dashboard")
        ).status_code
        == 403
    )
    listed = client.get(f"/api/v1/cases/{case_id}/evidence", headers=people.auth("supervisor"))
    assert [item["id"] for item in listed.json()["items"]] == [evidence_id]
    assert listed.json()["total"] == 1
    viewed = client.get(f"/api/v1/evidence/{evidence_id}", headers=people.auth("supervisor"))
    assert viewed.status_code == 200 and viewed.json()["description"] == DESCRIPTION
    client.get(f"/api/v1/evidence/{evidence_id}/content", headers=people.auth("alice"))
    [uploaded] = events(db, "evidence.uploaded")
    assert uploaded.object_id == evidence_id and uploaded.actor == f"user:{people.ids['alice']}"
    assert uploaded.details["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert uploaded.details["size_bytes"] == len(PNG)
    assert "photo" not in json.dumps(uploaded.details) and "Fake" not in json.dumps(
        uploaded.details
    )
    assert [event.actor for event in events(db, "evidence.viewed")] == [
        f"user:{people.ids['supervisor']}"
    ]
    assert len(events(db, "evidence.downloaded")) == 1


def test_upload_to_a_report_of_another_case_is_refused(client, people, db, evidence_dir):
    first, second = new_case(client, people), new_case(client, people)
    intake = client.post(
        f"/api/v1/cases/{second}/reports",
        json={"urls": ["https://x.com/fakeuser/status/31"]},
        headers=people.auth("alice"),
    )
    report_id = intake.json()["results"][0]["report_id"]
    answer = upload(client, people, first, PNG, report_id=report_id)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "report_id"]
    assert upload(client, people, second, PNG, report_id=report_id).status_code == 201


def _check(db, report_id, verdict, headers=None):
    with db.transaction() as session:
        record_check(
            session=session,
            report_id=report_id,
            checked_at=utcnow(),
            verdict=verdict,
            reason="test",
            http_status=200 if verdict == "live" else 404,
            final_url="https://x.com/fakeuser/status/77",
            fingerprint="ab" * 32,
            latency_ms=3,
            error=None,
            headers=headers,
        )


def _captures(db) -> list[dict[str, Any]]:
    found = []
    with db.session() as session:
        for row in session.exec(select(Evidence).order_by(Evidence.id)).all():
            assert row.kind == "capture" and row.media_type == "application/json"
            content = b"".join(evidence_bytes(session=session, evidence=row))
            assert hashlib.sha256(content).hexdigest() == row.sha256
            found.append(json.loads(content))
    return found


def test_the_first_live_check_and_each_proven_change_are_captured(client, people, db, evidence_dir):
    case_id = new_case(client, people)
    intake = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": ["https://x.com/fakeuser/status/77"]},
        headers=people.auth("alice"),
    )
    report_id = intake.json()["results"][0]["report_id"]
    headers = {"Content-Type": "text/html", "ETag": '"fake"', "Set-Cookie": "session=fake"}
    _check(db, report_id, "live", headers)
    _check(db, report_id, "live", headers)  # not the first: no capture
    [first] = _captures(db)
    assert first["verdict"] == "live" and first["http_status"] == 200
    assert first["headers"] == {"content-type": "text/html", "etag": '"fake"'}
    assert first["final_url"] == "https://x.com/fakeuser/status/77"
    assert first["fingerprint"] == "ab" * 32 and first["checked_at"]
    _check(db, report_id, "removed")  # one removed check proves nothing yet
    assert len(_captures(db)) == 1
    _check(db, report_id, "removed")
    captures = _captures(db)
    assert len(captures) == 2
    assert (captures[1]["verdict"], captures[1]["state_after"]) == ("removed", "removed")
    assert captures[1]["headers"] is None
    _check(db, report_id, "live")  # reappeared
    assert _captures(db)[2]["state_after"] == "reappeared"
    assert len(events(db, "evidence.captured")) == 3


def test_purge_deletes_files_and_marks_rows(client, people, db, evidence_dir):
    case_id = new_case(client, people)
    ids = [upload(client, people, case_id, PNG).json()["id"] for _ in range(2)]
    assert len(stored_files(evidence_dir)) == 2
    with db.transaction() as session:
        count = purge_case_evidence(
            session=session, case_id=case_id, actor="test", reason="retention"
        )
    assert count == 2
    assert stored_files(evidence_dir) == []
    assert all(row.purged_at is not None for row in rows(db))
    [purged] = events(db, "evidence.purged")
    assert (purged.object_id, purged.details["count"]) == (case_id, 2)
    gone = client.get(f"/api/v1/evidence/{ids[0]}/content", headers=people.auth("alice"))
    assert gone.status_code == 409
    with db.transaction() as session:
        assert purge_case_evidence(session=session, case_id=case_id, actor="t", reason="r") == 0


@pytest.fixture(scope="module")
def moto_server() -> Any:
    """An S3-compatible server (moto) on loopback, a real HTTP server."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_the_s3_store_round_trips_sealed_bytes(client, people, db, moto_server, monkeypatch):
    import boto3

    settings = {
        "TRACKER_EVIDENCE_STORE": "s3",
        "TRACKER_EVIDENCE_S3_ENDPOINT": moto_server,
        "TRACKER_EVIDENCE_S3_BUCKET": f"evidence-{os.getpid()}",
        "TRACKER_EVIDENCE_S3_ACCESS_KEY": "fake-access",
        "TRACKER_EVIDENCE_S3_SECRET_KEY": "fake-secret",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server,
        aws_access_key_id="fake-access",
        aws_secret_access_key="fake-secret",
        region_name="us-east-1",
    )
    bucket = settings["TRACKER_EVIDENCE_S3_BUCKET"]
    if bucket not in [item["Name"] for item in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    try:
        case_id = new_case(client, people)
        big = PNG * 300  # about 3 MiB: one PUT (the next test takes the multipart path)
        answer = upload(client, people, case_id, big)
        assert answer.status_code == 201, answer.text
        [stored] = s3.list_objects_v2(Bucket=bucket)["Contents"]
        raw = s3.get_object(Bucket=bucket, Key=stored["Key"])["Body"].read()
        assert b"\x89PNG" not in raw and bytes(range(64)) not in raw
        download = client.get(
            f"/api/v1/evidence/{answer.json()['id']}/content", headers=people.auth("alice")
        )
        assert download.content == big
        with db.transaction() as session:
            purge_case_evidence(session=session, case_id=case_id, actor="test", reason="test")
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_the_s3_store_streams_large_objects_in_parts(moto_server, monkeypatch):
    import boto3

    from tracker.evidence.storage import PART_BYTES, S3Store, new_storage_key

    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server,
        aws_access_key_id="fake-access",
        aws_secret_access_key="fake-secret",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="evidence-parts")
    store = S3Store(s3, "evidence-parts")
    key = new_storage_key()
    pieces = [bytes([index % 251]) * (1024 * 1024) for index in range(PART_BYTES // 2**20 + 3)]
    assert store.write(key, iter(pieces)) == sum(len(piece) for piece in pieces)
    assert b"".join(store.read(key)) == b"".join(pieces)

    def failing():
        yield b"x" * PART_BYTES
        raise RuntimeError("fake failure mid-upload")

    other = new_storage_key()
    with pytest.raises(RuntimeError):
        store.write(other, failing())
    assert s3.list_multipart_uploads(Bucket="evidence-parts").get("Uploads") in (None, [])
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="evidence-parts")["Contents"]]
    assert keys == [key]
