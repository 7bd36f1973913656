"""Content matching end to end: banks filled through the API, media served on loopback,
re-checks that hash in memory, follow linked media and find re-uploads across cases."""

from __future__ import annotations

import time

import pytest
from conftest import new_case
from sqlmodel import col, select

from bench.media_corpus import make_image, transform_image
from bench.video_corpus import make_video, transform_video
from tracker.checks.models import Check
from tracker.evidence.models import Evidence
from tracker.matching.models import ContentMatch, MediaItem
from tracker.notifications.models import Notification
from tracker.reports.models import Report
from workers import jobs

BANK = "/api/v1/cases/{}/hash-bank"


def log(client, people, who, case_id, url):
    response = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": [url]}, headers=people.auth(who)
    )
    assert response.status_code == 200, response.text
    return response.json()["results"][0]["report_id"]


def upload(client, people, who, case_id, data, name="file.bin", **form):
    return client.post(
        BANK.format(case_id) + "/files",
        files={"file": (name, data, "application/octet-stream")},
        data=form,
        headers=people.auth(who),
    )


def rows(db, model, *where):
    with db.session() as session:
        return list(session.exec(select(model).where(*where).order_by(col(model.id))).all())


def test_an_altered_copy_at_a_new_url_in_another_case_is_found_and_linked(
    client, people, db, media_server
):
    original = make_image(1001)
    case_a = new_case(client, people, "alice")
    added = upload(client, people, "alice", case_a, original, label="photo 1 (fake)")
    assert added.status_code == 201, added.text
    assert {entry["signal_type"] for entry in added.json()} == {"pdq", "photo_md5", "sha256"}
    assert "photo 1 (fake)" in {entry["label"] for entry in added.json()}

    # Bob's case: a post whose picture is the same photo, halved and re-encoded, on a CDN.
    altered = transform_image(transform_image(original, "resize_50"), "jpeg_q30")
    assert len(altered) > 1000 and altered != original
    cdn = media_server.serve("/cdn/a1.jpg", altered, "image/jpeg", headers={"ETag": '"v1"'})
    page = media_server.page("/post/1", image=cdn)
    case_b = new_case(client, people, "bob")
    report_id = log(client, people, "bob", case_b, page)
    assert jobs.recheck_batch([report_id], db=db) == 1

    [item] = rows(db, MediaItem, MediaItem.report_id == report_id)
    assert (item.role, item.kind, item.last_verdict, item.url) == ("linked", "image", "live", cdn)
    assert item.pdq is not None and item.md5 != added.json()[0]["signal"]
    [match] = rows(db, ContentMatch, ContentMatch.report_id == report_id)
    assert (match.cross_case, match.case_id, match.bank_case_id) == (True, case_b, case_a)
    assert match.signal_type == "pdq" and match.distance is not None and match.distance <= 31
    media_check = rows(db, Check, Check.media_item_id == item.id)[0]
    assert media_check.matches == 1 and match.first_check_id == media_check.id
    [page_check] = rows(db, Check, Check.report_id == report_id, col(Check.media_item_id).is_(None))
    assert (page_check.verdict, page_check.matches) == ("live", 1)  # still the same content
    [notice] = rows(db, Notification, Notification.kind == "reupload_found")
    assert f"case {case_a}" in notice.message and notice.report_id == report_id

    # Both caseworkers see the alert (one owns the bank, one the report); another
    # organisation's supervisor sees nothing.
    for who in ("alice", "bob"):
        listed = client.get("/api/v1/reupload-alerts", headers=people.auth(who)).json()
        assert [alert["id"] for alert in listed] == [match.id]
    assert client.get("/api/v1/reupload-alerts", headers=people.auth("outsider")).json() == []
    seen = client.post(
        f"/api/v1/reupload-alerts/{match.id}/acknowledge", headers=people.auth("alice")
    )
    assert seen.status_code == 200 and seen.json()["acknowledged_at"]
    assert client.get("/api/v1/reupload-alerts", headers=people.auth("bob")).json() == []
    found = client.get(f"/api/v1/reports/{report_id}/matches", headers=people.auth("bob")).json()
    assert [entry["bank_case_id"] for entry in found] == [case_a]
    [medium] = client.get(f"/api/v1/reports/{report_id}/media", headers=people.auth("bob")).json()
    assert (medium["role"], medium["kind"], medium["url"], medium["pdq"]) == (
        "linked",
        "image",
        cdn,
        item.pdq,
    )
    checks = client.get(f"/api/v1/reports/{report_id}", headers=people.auth("bob")).json()["checks"]
    assert sorted((c["media_item_id"] or 0, c["matches"]) for c in checks) == [(0, 1), (item.id, 1)]

    # The next re-check: the CDN answers the same ETag, so the picture is not read again, and
    # its stored hashes still match (the match is seen again, not recorded twice).
    hashed_at = item.hashed_at
    jobs.recheck_batch([report_id], db=db)
    [item] = rows(db, MediaItem, MediaItem.report_id == report_id)
    assert item.hashed_at == hashed_at and item.last_checked_at > hashed_at
    assert len(rows(db, ContentMatch, ContentMatch.report_id == report_id)) == 1
    assert media_server.hits["/cdn/a1.jpg"] == 2


def test_a_page_gone_while_its_cdn_media_serve_is_not_removed(client, people, db, media_server):
    picture = media_server.serve("/cdn/b1.png", make_image(1002), "image/jpeg")
    page = media_server.page("/post/2", image=picture)
    case_id = new_case(client, people, "alice")
    report_id = log(client, people, "alice", case_id, page)
    jobs.recheck_batch([report_id], db=db)

    media_server.remove("/post/2")  # the platform took the post down; the CDN did not
    for _ in range(3):
        jobs.recheck_batch([report_id], db=db)
    with db.session() as session:
        report = session.get(Report, report_id)
        assert report.state != "removed" and report.last_verdict == "live"
    page_checks = rows(db, Check, Check.report_id == report_id, col(Check.media_item_id).is_(None))
    assert page_checks[-1].http_status == 404
    assert page_checks[-1].reason.startswith("linked media still live")

    media_server.remove("/cdn/b1.png")  # now the file is gone too
    for _ in range(2):
        jobs.recheck_batch([report_id], db=db)
    with db.session() as session:
        assert session.get(Report, report_id).state == "removed"


def test_a_minor_case_takes_hashes_only_and_never_keeps_bytes(client, people, db, media_server):
    case_id = new_case(client, people, "alice", minor_involved=True)
    picture = make_image(1003)
    for form in ({}, {"keep_as_evidence": "true"}):
        refused = upload(client, people, "alice", case_id, picture, **form)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "file"]
    pdq = "f" * 16 + "0" * 48
    pasted = client.post(
        BANK.format(case_id),
        json={"entries": [{"signal_type": "pdq", "value": pdq, "label": "from her phone"}]},
        headers=people.auth("alice"),
    )
    assert pasted.status_code == 201, pasted.text

    # A re-check of the case's reported picture hashes it in memory; nothing but hashes stays.
    url = media_server.serve("/m/c1.jpg", picture, "image/jpeg")
    report_id = log(client, people, "alice", case_id, url)
    jobs.recheck_batch([report_id], db=db)
    [item] = rows(db, MediaItem, MediaItem.report_id == report_id)
    assert item.role == "page" and item.sha256 is not None
    kinds = {row.media_type for row in rows(db, Evidence, Evidence.case_id == case_id)}
    assert not {kind for kind in kinds if kind.startswith(("image/", "video/"))}


def test_export_then_import_round_trips_a_bank(client, people, db):
    case_a = new_case(client, people, "alice")
    assert upload(client, people, "alice", case_a, make_image(1004)).status_code == 201
    frames = '["' + "a" * 64 + ',80,0.000","' + "b" * 64 + ',90,1.000"]'
    pasted = client.post(
        BANK.format(case_a),
        json={
            "entries": [
                {"signal_type": "vpdq", "value": frames, "label": "clip"},
                {"signal_type": "video_md5", "value": "0123456789abcdef" * 2},
            ]
        },
        headers=people.auth("alice"),
    )
    assert pasted.status_code == 201, pasted.text
    banked = {
        (e["signal_type"], e["signal"])
        for e in client.get(BANK.format(case_a), headers=people.auth("alice")).json()
    }
    assert len(banked) == 5
    for form in ("te", "csv"):
        exported = client.get(
            BANK.format(case_a) + f"/export?format={form}", headers=people.auth("alice")
        )
        assert (
            exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
        )
        assert "clip" not in exported.text  # labels never leave
        case_b = new_case(client, people, "alice")
        imported = client.post(
            BANK.format(case_b) + "/import",
            json={"format": form, "content": exported.text},
            headers=people.auth("alice"),
        )
        assert imported.status_code == 201, imported.text
        assert {(e["signal_type"], e["signal"]) for e in imported.json()} == banked
        assert {e["source"] for e in imported.json()} == {"imported"}
    whole = client.get("/api/v1/hash-bank/export", headers=people.auth("supervisor"))
    assert whole.status_code == 200 and len(whole.text.splitlines()) == 15
    assert client.get("/api/v1/hash-bank/export", headers=people.auth("alice")).status_code == 403


def test_a_trimmed_re_encoded_video_at_another_frame_rate_matches_by_vpdq(
    client, people, db, media_server
):
    original = make_video(1005, seconds=4.0)
    case_a = new_case(client, people, "alice")
    added = upload(client, people, "alice", case_a, original, name="clip.mp4")
    assert added.status_code == 201, added.text
    assert {e["signal_type"] for e in added.json()} == {"vpdq", "video_md5", "sha256"}
    copy = transform_video(transform_video(original, "trim"), "fps_10")
    url = media_server.serve("/v/d1.mp4", copy, "video/mp4")
    case_b = new_case(client, people, "bob")
    report_id = log(client, people, "bob", case_b, url)
    jobs.recheck_batch([report_id], db=db)
    [match] = rows(db, ContentMatch, ContentMatch.report_id == report_id)
    assert (match.signal_type, match.bank_case_id) == ("vpdq", case_a)
    assert match.share is not None and match.share >= 0.8


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"entries": [{"signal_type": "pdq", "value": "abc"}]}, ["body", "entries", 0, "value"]),
        (
            {"entries": [{"signal_type": "tmk", "value": "a" * 64}]},
            ["body", "entries", 0, "signal_type"],
        ),
        ({"entries": [{"signal_type": "vpdq", "value": "[1]"}]}, ["body", "entries", 0, "value"]),
        (
            {"entries": [{"signal_type": "pdq", "value": "a" * 64, "label": "x\x00"}]},
            ["body", "entries", 0, "label"],
        ),
        ({"entries": []}, ["body", "entries"]),
    ],
)
def test_bad_hashes_are_refused_naming_the_field(client, people, db, body, loc):
    case_id = new_case(client, people, "alice")
    refused = client.post(BANK.format(case_id), json=body, headers=people.auth("alice"))
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == loc


def test_bad_files_and_imports_are_refused(client, people, db):
    case_id = new_case(client, people, "alice")
    text = upload(client, people, "alice", case_id, b"just some text, not a picture")
    assert text.status_code == 422 and text.json()["detail"][0]["loc"] == ["body", "file"]
    bad = client.post(
        BANK.format(case_id) + "/import",
        json={"format": "te", "content": "pdq\n"},
        headers=people.auth("alice"),
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "content"]
    assert "line 1" in bad.json()["detail"][0]["msg"]
    other = client.get(BANK.format(case_id), headers=people.auth("bob"))
    assert other.status_code == 404


def test_withdrawal_deletes_the_bank_and_its_matches(client, people, db, media_server):
    case_a = new_case(client, people, "alice")
    original = make_image(1006)
    upload(client, people, "alice", case_a, original)
    url = media_server.serve("/m/e1.jpg", transform_image(original, "mirror"), "image/jpeg")
    case_b = new_case(client, people, "bob")
    report_id = log(client, people, "bob", case_b, url)
    jobs.recheck_batch([report_id], db=db)
    assert rows(db, ContentMatch, ContentMatch.report_id == report_id)
    withdrawn = client.post(
        f"/api/v1/cases/{case_a}/withdraw", json={"confirm": True}, headers=people.auth("alice")
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert client.get(BANK.format(case_a), headers=people.auth("alice")).json() == []
    assert rows(db, ContentMatch, ContentMatch.report_id == report_id) == []
    time.sleep(0)  # the other case's own report and media stay
    assert rows(db, MediaItem, MediaItem.report_id == report_id)
