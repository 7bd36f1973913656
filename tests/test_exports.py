"""The bundle for police, NCRP and court: its files and hashes, the PDF, reproducibility, access.

Alice's case has two reported URLs filed through web forms (references confirmed through the
API), a run of checks from live to removed, two uploaded evidence files (one purged afterwards)
and contact details without consent to share them.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import People, new_case
from console_client import signed_in
from PIL import Image
from sqlmodel import col, select

from tracker.audit.models import AuditEvent
from tracker.checks.service import record_check
from tracker.db import utcnow
from tracker.filings.models import Filing
from tracker.organisations.models import Role, User
from tracker.organisations.service import Principal
from tracker.settings import get_settings
from workers import jobs

URLS = [
    "https://www.facebook.com/fakeprofile/videos/1234567890",
    "https://x.com/fakeuser/status/4242",
]
REFERENCES = ["FB-FAKE-EXPORT-0001", "X-FAKE-EXPORT-0002"]
CONTACT = {"name": "Fake Person", "email": "fake.person@example.org", "phone": "+91 99999 00000"}
FILES = {
    "SHA256SUMS",
    "certificate-bsa-63.txt",
    "manifest.json",
    "ncrp.txt",
    "report.pdf",
}


def png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def evidence_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    monkeypatch.undo()
    get_settings.cache_clear()


def principal_of(db: Any, people: People, who: str) -> Principal:
    with db.session() as session:
        user = session.get(User, people.ids[who])
        return Principal(
            user_id=user.id, organisation_id=user.organisation_id, role=Role(user.role)
        )


def upload(db: Any, people: People, case_id: int, content: bytes) -> int:
    """Store one evidence file through the evidence service, as Alice."""
    from tracker.evidence.service import store_upload

    with db.transaction() as session:
        evidence = store_upload(
            session=session,
            principal=principal_of(db, people, "alice"),
            case_id=case_id,
            source=io.BytesIO(content),
        )
        return int(evidence.id)


def add_checks(db: Any, report_id: int) -> None:
    start = utcnow() - timedelta(days=2)
    verdicts = ["live"] * 6 + ["removed"] * 2
    for index, verdict in enumerate(verdicts):
        with db.transaction() as session:
            record_check(
                session=session,
                report_id=report_id,
                checked_at=start + timedelta(hours=index),
                verdict=verdict,
                reason="test",
                http_status=200 if verdict == "live" else 404,
                final_url=None,
                fingerprint=None,
                latency_ms=5,
                error=None,
            )


class World:
    """Alice's case with filings, checks and evidence."""

    def __init__(self, client: Any, db: Any, people: People, **fields: Any) -> None:
        self.client, self.db, self.people = client, db, people
        fields.setdefault("contact", CONTACT)
        self.case_id = new_case(client, people, "alice", label="Case FAKE-EXPORT", **fields)
        intake = client.post(
            f"/api/v1/cases/{self.case_id}/reports",
            json={"urls": URLS},
            headers=people.auth("alice"),
        )
        assert intake.status_code == 200, intake.text
        self.report_ids = [item["report_id"] for item in intake.json()["results"]]
        for report_id, reference in zip(self.report_ids, REFERENCES, strict=True):
            with db.session() as session:
                filing = session.exec(select(Filing).where(Filing.report_id == report_id)).one()
            jobs.file_filing(filing.id, db=db)
            confirmed = client.post(
                f"/api/v1/filings/{filing.id}/confirm",
                json={"reference_id": reference},
                headers=people.auth("alice"),
            )
            assert confirmed.status_code == 200, confirmed.text
        add_checks(db, self.report_ids[0])
        self.evidence: dict[int, bytes] = {}

    def add_evidence(self) -> None:
        from tracker.evidence.models import Evidence
        from tracker.evidence.service import discard_stored

        for colour in ("red", "blue"):
            content = png(colour)
            self.evidence[upload(self.db, self.people, self.case_id, content)] = content
        purged_id = max(self.evidence)
        with self.db.transaction() as session:
            row = session.get(Evidence, purged_id)
            discard_stored(evidence=row)
            row.purged_at = utcnow()
            session.add(row)
        self.purged_id = purged_id

    def captures(self) -> list[Any]:
        from tracker.evidence.models import Evidence

        with self.db.session() as session:
            return list(
                session.exec(
                    select(Evidence)
                    .where(Evidence.case_id == self.case_id, Evidence.kind == "capture")
                    .order_by(col(Evidence.id))
                ).all()
            )

    def export(self, who: str = "alice") -> Any:
        return self.client.get(
            f"/api/v1/cases/{self.case_id}/export", headers=self.people.auth(who)
        )


@pytest.fixture
def world(client: Any, db: Any, people: People, evidence_dir: Any) -> World:
    made = World(client, db, people)
    made.add_evidence()
    return made


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == sorted(names)
        return {name: archive.read(name) for name in names}


def test_the_bundle_holds_every_file_with_matching_hashes(world, tmp_path):
    response = world.export()
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="case-{world.case_id}-bundle.zip"'
    )
    assert response.headers["cache-control"] == "no-store"
    files = unzip(response.content)
    evidence_paths = {name for name in files if name.startswith("evidence/")}
    assert set(files) - evidence_paths == FILES
    kept_id = min(world.evidence)
    kept = world.evidence[kept_id]
    # The kept upload is the uploaded bytes; the purged one is listed, not included; the
    # automatic captures of the checks (JSON records) are there with their recorded hashes.
    upload_path = f"evidence/{kept_id}-{hashlib.sha256(kept).hexdigest()[:12]}.png"
    assert files[upload_path] == kept
    captures = world.captures()
    assert len(captures) >= 1
    assert evidence_paths == {upload_path} | {
        f"evidence/{row.id}-{row.sha256[:12]}.json" for row in captures
    }
    for row in captures:
        content = files[f"evidence/{row.id}-{row.sha256[:12]}.json"]
        assert hashlib.sha256(content).hexdigest() == row.sha256
        json.loads(content)

    manifest = json.loads(files["manifest.json"])
    assert manifest["case_number"] == world.case_id
    assert manifest["tracker_version"]
    listed = {item["path"]: item for item in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json", "SHA256SUMS"}
    for path, item in listed.items():
        assert item["sha256"] == hashlib.sha256(files[path]).hexdigest(), path
        assert item["size"] == len(files[path]), path
    states = {item["id"]: item["status"] for item in manifest["evidence"]}
    assert states == {
        kept_id: "included",
        world.purged_id: "purged",
        **{row.id: "included" for row in captures},
    }
    assert any("purged" in note for note in manifest["notes"])

    # SHA256SUMS covers every file but itself, and sha256sum itself agrees.
    lines = files["SHA256SUMS"].decode().splitlines()
    assert sorted(line.split("  ", 1)[1] for line in lines) == sorted(set(files) - {"SHA256SUMS"})
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == len(files) - 1


def test_the_pdf_renders_and_names_every_filing_reference(world, tmp_path):
    files = unzip(world.export().content)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(files["report.pdf"])
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
        capture_output=True,
    )
    [page] = list(tmp_path.glob("page*.png"))
    assert page.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    flat = " ".join(text.split())
    for reference in REFERENCES:
        assert reference in flat
    assert f"Case number: {world.case_id}" in flat
    assert "Legal basis:" in flat and "Test helpline" in flat
    # The checks are summarised: first and last live, then the removals.
    assert "live (HTTP 200" in flat and "removed (HTTP 404" in flat
    assert "4 further check(s) with the verdict live" in flat
    assert "fake.person@example.org" not in flat


def test_the_texts_draft_certificate_and_ncrp(world):
    files = unzip(world.export().content)
    certificate = files["certificate-bsa-63.txt"].decode()
    assert certificate.startswith("DRAFT: to be checked, completed and signed by the organisation")
    assert "63(4)(c)" in certificate and "Part A" in certificate and "unconfirmed" in certificate
    for content in world.evidence.values():
        assert hashlib.sha256(content).hexdigest() in certificate
    assert "Signature:" in certificate and "Designation" in certificate
    ncrp = files["ncrp.txt"].decode()
    assert "cybercrime.gov.in" in ncrp and "1930" in ncrp
    assert "Women/Child related crime: sexually explicit content" in ncrp
    for url in URLS:
        assert url in ncrp
    for reference in REFERENCES:
        assert reference in ncrp
    for section in (
        "Information Technology Act 2000, s66E",
        "Information Technology Act 2000, s67 ",
        "Information Technology Act 2000, s67A",
        "Bharatiya Nyaya Sanhita 2023, s77",
        "Bharatiya Nyaya Sanhita 2023, s79",
    ):
        assert f"  - SUGGESTION: {section}" in ncrp, section
    assert "for the police to decide" in ncrp
    assert "POCSO" not in ncrp
    # No consent to share identity: nothing of the person's contact details.
    for value in CONTACT.values():
        assert value not in ncrp and value not in certificate


def test_re_export_gives_the_same_bytes_and_records_custody(world, db):
    first = world.export("alice")
    second = world.export("supervisor")
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    with db.session() as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "case.exported")
            .order_by(col(AuditEvent.id))
        ).all()
    assert [(event.object_type, event.object_id) for event in events] == [
        ("case", world.case_id)
    ] * 2
    assert [event.actor for event in events] == [
        f"user:{world.people.ids['alice']}",
        f"user:{world.people.ids['supervisor']}",
    ]
    files = len(unzip(first.content))
    digest = hashlib.sha256(first.content).hexdigest()
    for event in events:
        assert event.details["files"] == files and event.details["sha256"] == digest
        assert set(event.details) == {"files", "sha256", "size"}


def test_who_may_export(world, client, people):
    assert world.export("admin").status_code == 200
    for who, status in (("bob", 404), ("outsider", 404), ("dashboard", 403)):
        assert world.export(who).status_code == status, who


def test_exports_can_be_turned_off_and_only_a_supervisor_turns_them_on(world, client, people):
    path = f"/api/v1/cases/{world.case_id}"
    off = client.patch(path, json={"exports_allowed": False}, headers=people.auth("alice"))
    assert off.status_code == 200 and off.json()["exports_allowed"] is False
    refused = world.export()
    assert refused.status_code == 403
    [problem] = refused.json()["detail"]
    assert "exports_allowed" in problem["msg"] and problem["type"] == "case.exports_not_allowed"
    assert world.export("supervisor").status_code == 403
    again = client.patch(path, json={"exports_allowed": True}, headers=people.auth("alice"))
    assert again.status_code == 403
    assert again.json()["detail"][0]["loc"] == ["body", "exports_allowed"]
    assert client.get(path, headers=people.auth("alice")).json()["exports_allowed"] is False
    on = client.patch(path, json={"exports_allowed": True}, headers=people.auth("supervisor"))
    assert on.status_code == 200 and on.json()["exports_allowed"] is True
    assert world.export().status_code == 200
    null = client.patch(path, json={"exports_allowed": None}, headers=people.auth("supervisor"))
    assert null.status_code == 422


def test_a_minor_case_names_the_child_category(client, db, people, evidence_dir):
    world = World(client, db, people, minor_involved=True)
    ncrp = unzip(world.export().content)["ncrp.txt"].decode()
    assert "child category: child sexual abuse material" in ncrp
    assert "POCSO" in ncrp and "s67B" in ncrp
    assert "sexually explicit content shared without consent" not in ncrp


def test_with_consent_the_person_is_the_complainant(client, db, people, evidence_dir):
    world = World(client, db, people, consent_to_share_identity=True)
    ncrp = unzip(world.export().content)["ncrp.txt"].decode()
    for value in CONTACT.values():
        assert value in ncrp


def test_the_console_section_downloads_the_bundle(world, client, people):
    alice = signed_in(client, people, "alice")
    page = alice.get(f"/cases/{world.case_id}")
    assert page.status_code == 200
    assert "Download the bundle for police, NCRP or court" in page.text
    assert f'action="/cases/{world.case_id}/export"' in page.text
    assert "exports-allowed" not in page.text  # the switch is the supervisors'
    download = alice.post(f"/cases/{world.case_id}/export")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.content == world.export().content
    assert (
        alice.post(f"/cases/{world.case_id}/exports-allowed", {"allowed": "no"}).status_code == 403
    )
    refused = alice.client.post(f"/cases/{world.case_id}/export", data={"csrf_token": "wrong"})
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")


def test_the_console_switch_for_supervisors(world, client, people):
    supervisor = signed_in(client, people, "supervisor")
    supervisor.get(f"/cases/{world.case_id}")
    off = supervisor.post(f"/cases/{world.case_id}/exports-allowed", {"allowed": "no"})
    assert off.status_code == 303
    page = supervisor.get(f"/cases/{world.case_id}")
    assert "Exports are turned off for this case (exports_allowed)" in page.text
    assert "Turn exports on for this case" in page.text
    refused = supervisor.post(f"/cases/{world.case_id}/export")
    assert refused.status_code == 403 and "exports_allowed" in refused.text
    assert (
        supervisor.post(f"/cases/{world.case_id}/exports-allowed", {"allowed": "x"}).status_code
        == 400
    )
    on = supervisor.post(f"/cases/{world.case_id}/exports-allowed", {"allowed": "yes"})
    assert on.status_code == 303
    assert supervisor.post(f"/cases/{world.case_id}/export").status_code == 200


def test_check_runs_are_summarised():
    from tracker.checks.models import Check
    from tracker.exports.records import summarise_checks

    start = utcnow()
    verdicts = ["live"] * 5 + ["removed"] * 6 + ["live", "unreachable", "unreachable"]
    checks = [
        Check(
            id=index, report_id=1, checked_at=start + timedelta(hours=index), verdict=v, reason="t"
        )
        for index, v in enumerate(verdicts)
    ]
    lines = summarise_checks(checks)
    shown = [line.check.id if line.check else f"+{line.skipped}" for line in lines]
    assert shown == [0, "+3", 4, 5, 6, 7, "+2", 10, 11, 12, 13]


def test_characters_outside_latin_1_become_question_marks_in_the_pdf(
    client, db, people, evidence_dir, tmp_path
):
    world = World(client, db, people)
    url = "https://x.com/fakeuser/status/4243?q=दिल्ली"
    added = client.post(
        f"/api/v1/cases/{world.case_id}/reports", json={"urls": [url]}, headers=people.auth("alice")
    )
    assert added.status_code == 200, added.text
    files = unzip(world.export().content)
    manifest = json.loads(files["manifest.json"])
    assert any("outside Latin-1" in note for note in manifest["notes"])
    assert "दिल्ली" in files["ncrp.txt"].decode()
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(files["report.pdf"])
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "q=??????" in "".join(text.split())
