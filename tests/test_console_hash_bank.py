"""The hash bank in the console: the case page section and its own page, hashing an upload,
pasting and importing hashes, the hash-list download, removal; re-upload alerts in the queue;
matches and media on the report page. Every picture here is generated: random shapes."""

from __future__ import annotations

import html
import io
import random
import re
from datetime import timedelta
from typing import Any

from conftest import new_case
from console_client import ConsoleClient, signed_in
from PIL import Image, ImageDraw
from sqlmodel import col, select
from test_evidence import evidence_dir, rows  # noqa: F401

from tracker.audit.models import AuditEvent
from tracker.checks.models import Check
from tracker.db import utcnow
from tracker.matching.hashing import hash_media
from tracker.matching.matcher import Hit, record_matches
from tracker.matching.models import BankEntry, ContentMatch, MediaItem
from tracker.reports.models import Report

PDQ = "f" * 16 + "0" * 16 + "a5" * 16
OTHER_PDQ = "0123456789abcdef" * 4
SHA256 = "ab" * 32
LINKED_URL = "https://cdn.fake-host.example/media/fake-linked-7.jpg"


def fake_picture(seed: int = 7) -> bytes:
    """A PNG of random rectangles and ellipses: obviously not a photograph of anyone."""
    rng = random.Random(seed)
    picture = Image.new("RGB", (320, 240), (rng.randrange(256), 255, rng.randrange(256)))
    draw = ImageDraw.Draw(picture)
    for _ in range(40):
        x, y = rng.randrange(300), rng.randrange(220)
        box = (x, y, x + rng.randrange(10, 120), y + rng.randrange(10, 90))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)(box, fill=colour)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def bank_of(db: Any, case_id: int) -> list[BankEntry]:
    with db.session() as session:
        return list(
            session.exec(
                select(BankEntry).where(BankEntry.case_id == case_id).order_by(col(BankEntry.id))
            ).all()
        )


def actions(db: Any, prefix: str) -> list[str]:
    with db.session() as session:
        found = session.exec(
            select(AuditEvent.action).where(col(AuditEvent.action).startswith(prefix))
        ).all()
    return sorted(found)


def add_url(client: Any, people: Any, case_id: int, url: str, who: str = "alice") -> int:
    answer = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": [url]}, headers=people.auth(who)
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["results"][0]["report_id"])


def paste(console: ConsoleClient, case_id: int, **form: str) -> Any:
    console.get(f"/cases/{case_id}/hash-bank")
    return console.post(f"/cases/{case_id}/hash-bank/paste", form)


def field_error(page: str, form: str, field: str) -> str:
    """The error shown under one field of one form ("" when there is none)."""
    found = re.search(
        rf'<p class="field-error" id="bank-{form}-{field}-error"[^>]*>(.*?)</p>', page
    )
    return text_of(found.group(1)) if found else ""


def test_an_uploaded_picture_is_hashed_and_dropped_and_listed_by_label(
    client,
    people,
    db,
    evidence_dir,  # noqa: F811
):
    case_id = new_case(client, people)
    alice = signed_in(client, people, "alice")
    page = alice.get(f"/cases/{case_id}").text
    assert '<h2 id="hash-bank">Hash bank</h2>' in page and "The bank holds no hash yet." in page
    assert f'action="/cases/{case_id}/hash-bank/files"' in page
    assert 'enctype="multipart/form-data"' in page and 'name="keep_as_evidence"' in page

    picture = fake_picture()
    response = alice.post(
        f"/cases/{case_id}/hash-bank/files",
        {"label": "Fake picture 1 of the set"},
        files={"file": ("secret-name.png", picture, "image/png")},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/cases/{case_id}/hash-bank?done=uploaded&added=3"
    notice = alice.get(response.headers["location"]).text
    assert "The file was hashed in memory: 3 hashes were added to the bank." in notice
    assert "The file itself was not kept." in notice

    hashes = hash_media(picture, seconds=5)
    entries = bank_of(db, case_id)
    assert sorted(entry.signal_type for entry in entries) == ["pdq", "photo_md5", "sha256"]
    assert {entry.source for entry in entries} == {"upload"}
    assert rows(db) == []  # not kept as evidence
    page = alice.get(f"/cases/{case_id}").text
    assert "3 hashes in the bank:" in text_of(page)
    assert "PDQ (image): 1" in text_of(page) and "SHA-256 (file): 1" in text_of(page)
    assert text_of(page).count("Fake picture 1 of the set") == 3
    assert f"{hashes.sha256[:8]}…" in page and f"{hashes.pdq[:8]}…" in page
    # Never a whole hash, never a picture, never the file's name.
    assert hashes.sha256 not in page and hashes.pdq not in page and hashes.md5 not in page
    assert "<img" not in page and "secret-name" not in page
    assert actions(db, "bank.") == ["bank.added"]

    # The same file again, kept as evidence this time: no hash twice, the file stored.
    response = alice.post(
        f"/cases/{case_id}/hash-bank/files",
        {"keep_as_evidence": "yes"},
        files={"file": ("again.png", picture, "image/png")},
    )
    assert response.headers["location"] == f"/cases/{case_id}/hash-bank?done=kept&added=0"
    notice = alice.get(response.headers["location"]).text
    assert "Nothing was added: the bank already holds these hashes." in notice
    assert len(bank_of(db, case_id)) == 3
    [evidence] = rows(db)
    assert evidence.sha256 == hashes.sha256


def test_paste_import_export_and_remove(client, people, db):
    case_id = new_case(client, people)
    alice = signed_in(client, people, "alice")
    response = paste(
        alice, case_id, signal_type="pdq", value=f"{PDQ.upper()}\n\n{OTHER_PDQ}\n", label="Fake 2"
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/cases/{case_id}/hash-bank?done=pasted&added=2"
    assert "2 hashes were added to the bank." in alice.get(response.headers["location"]).text

    alice.get(f"/cases/{case_id}/hash-bank")
    te = f"# a fake list\npdq {PDQ}\nsha256 {SHA256}\n\n"
    response = alice.post(f"/cases/{case_id}/hash-bank/import", {"format": "te", "content": te})
    assert response.headers["location"] == f"/cases/{case_id}/hash-bank?done=imported&added=1"
    # The same list as a file.
    alice.get(f"/cases/{case_id}/hash-bank")
    csv_file = f"signal_type,signal\nvideo_md5,{'c' * 32}\n".encode()
    response = alice.post(
        f"/cases/{case_id}/hash-bank/import",
        {"format": "csv", "content": ""},
        files={"file": ("list.csv", csv_file, "text/csv")},
    )
    assert response.headers["location"] == f"/cases/{case_id}/hash-bank?done=imported&added=1"
    entries = {entry.value: entry for entry in bank_of(db, case_id)}
    assert set(entries) == {PDQ.lower(), OTHER_PDQ, SHA256, "c" * 32}
    assert entries[SHA256].source == "imported" and entries[OTHER_PDQ].source == "pasted"

    page = alice.get(f"/cases/{case_id}/hash-bank").text
    assert "No label" in page and "Fake 2" in page
    assert f'action="/cases/{case_id}/hash-bank/export"' in page and 'value="csv"' in page
    download = alice.post(f"/cases/{case_id}/hash-bank/export", {"format": "csv"})
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"] == (
        f'attachment; filename="hash-bank-case-{case_id}.csv"'
    )
    lines = download.text.splitlines()
    assert lines[0] == "signal_type,signal" and f"pdq,{PDQ.lower()}" in lines and len(lines) == 5
    assert "Fake 2" not in download.text  # hashes and types only
    te_download = alice.post(f"/cases/{case_id}/hash-bank/export")
    assert f"sha256 {SHA256}\n" in te_download.text

    entry = entries[OTHER_PDQ]
    alice.get(f"/cases/{case_id}/hash-bank")
    response = alice.post(f"/cases/{case_id}/hash-bank/{entry.id}/remove")
    assert response.headers["location"] == f"/cases/{case_id}/hash-bank?done=removed"
    assert "The hash was removed from the bank" in alice.get(response.headers["location"]).text
    assert OTHER_PDQ not in {row.value for row in bank_of(db, case_id)}
    assert actions(db, "bank.") == [
        "bank.added",
        "bank.added",
        "bank.added",
        "bank.exported",
        "bank.exported",
        "bank.removed",
    ]


def test_refusals_name_the_field_and_add_nothing(client, people, db):
    case_id = new_case(client, people)
    alice = signed_in(client, people, "alice")
    refused = paste(alice, case_id, signal_type="pdq", value=f"{PDQ}\n\nnot-a-hash\n")
    assert refused.status_code == 400
    assert field_error(refused.text, "paste", "value") == (
        "Hashes: Line 3 is not a hash of the type chosen."
    )
    assert 'aria-invalid="true" aria-describedby="bank-value-hint bank-paste-value-error"' in (
        refused.text
    )
    assert "not-a-hash\n</textarea>" in refused.text  # the text comes back to be corrected
    refused = paste(alice, case_id, signal_type="pdq", value=PDQ, label="x" * 121)
    assert refused.status_code == 400
    assert field_error(refused.text, "paste", "label") == (
        "Label: A label is at most 120 characters."
    )
    refused = paste(alice, case_id, signal_type="sha1", value=PDQ)
    assert field_error(refused.text, "paste", "signal_type").startswith("Signal type: Choose")
    alice.get(f"/cases/{case_id}/hash-bank")
    refused = alice.post(
        f"/cases/{case_id}/hash-bank/import",
        {"format": "te", "content": f"pdq {PDQ}\njust-one-column\n"},
    )
    assert refused.status_code == 400
    assert field_error(refused.text, "import", "content") == (
        "Hash list: Line 2 is not a signal type, a space and a hash."
    )
    refused = alice.post(
        f"/cases/{case_id}/hash-bank/files",
        {},
        files={"file": ("note.txt", b"Fake note, not a picture\n", "text/plain")},
    )
    assert refused.status_code == 400
    assert field_error(refused.text, "upload", "file") == (
        "File: This file is not an image or a video that can be hashed."
    )
    assert bank_of(db, case_id) == []


def test_a_minor_case_takes_hashes_only(client, people, db, evidence_dir):  # noqa: F811
    case_id = new_case(client, people, minor_involved=True)
    alice = signed_in(client, people, "alice")
    page = alice.get(f"/cases/{case_id}").text
    assert "This case involves a minor: no image or video is uploaded here" in page
    assert "/hash-bank/files" not in page and 'name="keep_as_evidence"' not in page
    assert f'action="/cases/{case_id}/hash-bank/paste"' in page

    refused = alice.post(
        f"/cases/{case_id}/hash-bank/files",
        {"keep_as_evidence": "yes"},
        files={"file": ("fake.png", fake_picture(), "image/png")},
    )
    assert refused.status_code == 400
    assert field_error(refused.text, "upload", "file").startswith(
        "File: This case involves a minor: images and video are never hashed or stored here."
    )
    assert bank_of(db, case_id) == [] and rows(db) == []
    assert paste(alice, case_id, signal_type="pdq", value=PDQ).status_code == 303
    assert [entry.value for entry in bank_of(db, case_id)] == [PDQ.lower()]


def test_exports_off_refuses_the_download_and_others_see_nothing(client, people, db):
    case_id = new_case(client, people)
    alice = signed_in(client, people, "alice")
    assert paste(alice, case_id, signal_type="sha256", value=SHA256).status_code == 303
    answer = client.patch(
        f"/api/v1/cases/{case_id}", json={"exports_allowed": False}, headers=people.auth("admin")
    )
    assert answer.status_code == 200, answer.text
    page = alice.get(f"/cases/{case_id}").text
    assert "its hash list cannot be downloaded" in page and "/hash-bank/export" not in page
    refused = alice.post(f"/cases/{case_id}/hash-bank/export", {"format": "te"})
    assert refused.status_code == 409 and SHA256 not in refused.text
    assert "so no hash list was made" in refused.text
    assert actions(db, "bank.exported") == []

    client.cookies.clear()
    bob = signed_in(client, people, "bob")
    assert bob.get(f"/cases/{case_id}/hash-bank").status_code == 404
    bob.get("/")
    refused = bob.post(f"/cases/{case_id}/hash-bank/export", {"format": "csv"})
    assert refused.status_code == 404
    [entry] = bank_of(db, case_id)
    assert bob.post(f"/cases/{case_id}/hash-bank/{entry.id}/remove").status_code == 404
    assert paste(bob, case_id, signal_type="pdq", value=PDQ).status_code == 404
    assert len(bank_of(db, case_id)) == 1


def _bank(db: Any, case_id: int) -> dict[str, int]:
    return {entry.value: int(entry.id or 0) for entry in bank_of(db, case_id)}


def _match(db: Any, report_id: int, entry_id: int, case_id: int, distance: int) -> int:
    """What a re-check records when the report's content matches a bank entry."""
    with db.transaction() as session:
        [match] = record_matches(
            session=session,
            report=session.get(Report, report_id),
            hits=[Hit(entry_id, case_id, "pdq", distance=distance)],
            check_id=None,
            media_item_id=None,
        )
        return int(match.id or 0)


def test_a_reupload_alert_in_the_queue_and_on_the_report(client, people, db):
    # Alice's case banks a picture's PDQ; a report in Bob's case serves the same picture.
    alice_case = new_case(client, people, "alice", label="Case FAKE-BANK")
    bob_case = new_case(client, people, "bob", label="Case FAKE-COPY")
    alice = signed_in(client, people, "alice")
    paste(alice, alice_case, signal_type="pdq", value=PDQ, label="Fake picture 3")
    entry_id = _bank(db, alice_case)[PDQ.lower()]
    report_id = add_url(client, people, bob_case, "https://fake-host.example/p/copy-1", "bob")
    match_id = _match(db, report_id, entry_id, alice_case, distance=6)

    # Alice sees the alert: her case is named, Bob's case and report are not.
    queue = alice.get("/").text
    section = re.search(r'<section[^>]*aria-labelledby="queue-reuploads".*?</section>', queue, re.S)
    assert section, queue
    words = text_of(section.group(0))
    assert "Re-uploads found (1)" in words
    assert f"A report in another case matches the hash bank of case #{alice_case}" in words
    assert f'href="/cases/{alice_case}"' in section.group(0)
    assert f"/reports/{report_id}" not in section.group(0) and f"#{bob_case}" not in words
    assert "Nothing needs you right now." not in queue
    case_page = text_of(alice.get(f"/cases/{alice_case}").text)
    assert "another case (not yours to open)" in case_page

    # Bob's report page names the match but not Alice's case, nor her label.
    client.cookies.clear()
    bob = signed_in(client, people, "bob")
    page = bob.get(f"/reports/{report_id}").text
    assert "Matched a hash in the bank of another case (re-upload)" in text_of(page)
    assert "6 bits of 256 differ" in text_of(page) and "PDQ (image)" in page
    assert f"/cases/{alice_case}" not in page and "Fake picture 3" not in page
    assert "Waiting in the queue" in text_of(page)

    # A supervisor sees both cases linked, and acknowledges.
    client.cookies.clear()
    supervisor = signed_in(client, people, "supervisor")
    section = re.search(
        r'<section[^>]*aria-labelledby="queue-reuploads".*?</section>',
        supervisor.get("/").text,
        re.S,
    )
    assert section
    assert f'href="/reports/{report_id}"' in section.group(0)
    assert f'href="/cases/{bob_case}"' in section.group(0)
    response = supervisor.post(f"/reupload-alerts/{match_id}/acknowledge")
    assert response.status_code == 303
    assert response.headers["location"] == "/?done=acknowledged#queue-reuploads"
    queue = supervisor.get("/?done=acknowledged").text
    assert "The re-upload alert is acknowledged." in queue
    assert 'aria-labelledby="queue-reuploads"' not in queue
    with db.session() as session:
        match = session.get(ContentMatch, match_id)
        assert match is not None and match.acknowledged_by == people.ids["supervisor"]
    assert actions(db, "match.acknowledged") == ["match.acknowledged"]
    linked = supervisor.get(f"/cases/{alice_case}").text
    assert f'<a href="/cases/{bob_case}">Case #{bob_case}</a>' in linked
    notifications = supervisor.get("/notifications").text
    assert "Re-upload found: the content matched another case&#39;s hash bank" in notifications
    assert supervisor.post("/reupload-alerts/999999/acknowledge").status_code == 404


def test_the_report_page_shows_its_matches_media_and_media_checks(client, people, db):
    case_id = new_case(client, people)
    alice = signed_in(client, people, "alice")
    paste(alice, case_id, signal_type="pdq", value=PDQ, label="Fake picture 4")
    entry_id = _bank(db, case_id)[PDQ.lower()]
    report_id = add_url(client, people, case_id, "https://fake-host.example/p/page-2")
    now = utcnow()
    with db.transaction() as session:
        item = MediaItem(
            report_id=report_id,
            url=LINKED_URL,
            role="linked",
            kind="image",
            last_checked_at=now + timedelta(seconds=2),
            last_verdict="live",
        )
        session.add(item)
        session.flush()
        page_check = Check(
            report_id=report_id,
            checked_at=now + timedelta(seconds=1),
            http_status=200,
            verdict="live",
            reason="status 200",
            matches=1,
        )
        media_check = Check(
            report_id=report_id,
            media_item_id=item.id,
            checked_at=now + timedelta(seconds=2),
            http_status=200,
            verdict="live",
            reason="status 200",
            matches=1,
        )
        session.add(page_check)
        session.add(media_check)
        session.flush()
        record_matches(
            session=session,
            report=session.get(Report, report_id),
            hits=[Hit(entry_id, case_id, "pdq", distance=0)],
            check_id=media_check.id,
            media_item_id=item.id,
            seen_at=now + timedelta(seconds=3),
        )
    page = alice.get(f"/reports/{report_id}").text
    words = text_of(page)
    assert "Matched a hash in this case's bank" in words
    assert "Bank label Fake picture 4" in words and "The same hash" in words
    assert "An image or video the page links (listed below)" in words
    assert "Checked a linked image" in words
    assert "Still the same content: it matched 1 hash in the banks." in words
    assert "It matched 1 hash in the banks." in words
    # The linked image is listed by its address as text: never a link, never loaded.
    assert 'id="media"' in page and f'<span class="url">{LINKED_URL}</span>' in page
    assert f'href="{LINKED_URL}"' not in page and f'src="{LINKED_URL}"' not in page
    assert "Linked from the page" in words and "Image" in words
    # Newest first: the match, then the media check, then the page check.
    assert (
        words.index("Matched a hash in this case's bank")
        < words.index("Checked a linked image")
        < words.index("Still the same content")
    )
    # The own case's match raises no alert.
    assert 'aria-labelledby="queue-reuploads"' not in alice.get("/").text
