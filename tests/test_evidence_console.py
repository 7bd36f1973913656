"""Evidence in the console: the case page section, uploads through the form, downloads."""

from __future__ import annotations

import hashlib

from conftest import new_case
from console_client import signed_in
from sqlmodel import select
from test_evidence import MP4, PNG, evidence_dir, rows, stored_files  # noqa: F401

from tracker.audit.models import AuditEvent

NOTE = b"Fake note: the sharer's profile name was fakeuser\n"


def test_the_case_page_lists_evidence_with_a_download_link_only(
    client,
    people,
    db,
    evidence_dir,  # noqa: F811
):
    case_id = new_case(client, people)
    alice = signed_in(client, people, "alice")
    page = alice.get(f"/cases/{case_id}").text
    assert 'id="evidence"' in page and "No evidence yet." in page
    assert 'enctype="multipart/form-data"' in page
    response = alice.post(
        f"/cases/{case_id}/evidence",
        {"description": "Fake description"},
        files={"file": ("secret-name.png", PNG, "image/png")},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/cases/{case_id}/evidence?done=uploaded"
    notice = alice.get(response.headers["location"]).text
    assert "The file was stored, encrypted." in notice
    [row] = rows(db)
    page = alice.get(f"/cases/{case_id}").text
    assert hashlib.sha256(PNG).hexdigest() in page
    assert f'href="/evidence/{row.id}/download"' in page
    assert "<img" not in page and "secret-name" not in page
    download = alice.get(f"/evidence/{row.id}/download")
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-disposition"] == (
        f'attachment; filename="evidence-{row.id}.png"'
    )
    with db.session() as session:
        actions = session.exec(
            select(AuditEvent.action).where(AuditEvent.object_type == "evidence")
        ).all()
    assert sorted(actions) == ["evidence.downloaded", "evidence.uploaded"]


def test_a_minor_case_says_so_before_and_refuses_media_in_words(
    client,
    people,
    db,
    evidence_dir,  # noqa: F811
):
    case_id = new_case(client, people, minor_involved=True)
    alice = signed_in(client, people, "alice")
    page = alice.get(f"/cases/{case_id}").text
    assert "This case involves a minor: images and video are never stored." in page
    refused = alice.post(
        f"/cases/{case_id}/evidence", {}, files={"file": ("clip.txt", MP4, "text/plain")}
    )
    assert refused.status_code == 400
    assert "images and video are never stored" in refused.text and 'role="alert"' in refused.text
    assert rows(db) == [] and stored_files(evidence_dir) == []
    accepted = alice.post(
        f"/cases/{case_id}/evidence", {}, files={"file": ("note.txt", NOTE, "text/plain")}
    )
    assert accepted.status_code == 303
    refused = alice.post(
        f"/cases/{case_id}/evidence", {}, files={"file": ("x.sh", b"#!/bin/sh\n", "text/plain")}
    )
    assert refused.status_code == 400 and "This kind of file is not accepted." in refused.text


def test_others_cannot_see_upload_or_download(client, people, db, evidence_dir):  # noqa: F811
    case_id = new_case(client, people)
    alice = signed_in(client, people, "alice")
    alice.post(f"/cases/{case_id}/evidence", {}, files={"file": ("n.txt", NOTE, "text/plain")})
    [row] = rows(db)
    client.cookies.clear()
    bob = signed_in(client, people, "bob")
    assert bob.get(f"/cases/{case_id}/evidence").status_code == 404
    assert bob.get(f"/evidence/{row.id}/download").status_code == 404
    bob.get("/account")
    answer = bob.post(
        f"/cases/{case_id}/evidence", {}, files={"file": ("n.txt", NOTE, "text/plain")}
    )
    assert answer.status_code == 404
    assert len(rows(db)) == 1
