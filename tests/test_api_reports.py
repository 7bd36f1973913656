"""Report intake through the API: canonical dedupe, per-URL answers, nothing half-written."""

from __future__ import annotations

from conftest import new_case


def add(client, people, case_id, urls, who="alice", **extra):
    return client.post(
        f"/api/v1/cases/{case_id}/reports", json={"urls": urls, **extra}, headers=people.auth(who)
    )


def test_bulk_intake_creates_dedupes_and_detects_platforms(client, people):
    case_id = new_case(client, people, authority_to_act=False)
    response = add(
        client,
        people,
        case_id,
        [
            "https://m.facebook.com/story.php?story_fbid=111&id=222&fbclid=FAKE",
            "https://www.facebook.com/story.php?story_fbid=111&id=222&utm_source=x",
            "https://mobile.twitter.com/fakeuser/status/123?s=20",
            "youtu.be/FAKEVIDEO01?si=abc",
            "https://unknown-host.example/leak/1#frag",
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (4, 1, 0)
    results = body["results"]
    assert [r["outcome"] for r in results] == [
        "created",
        "duplicate",
        "created",
        "created",
        "created",
    ]
    assert results[0]["canonical_url"] == "https://facebook.com/story.php?id=222&story_fbid=111"
    assert results[0]["platform"] == "facebook"
    assert results[1]["reason"] == "same URL as entry 0"
    assert results[2]["canonical_url"] == "https://x.com/fakeuser/status/123"
    assert results[2]["platform"] == "x"
    assert results[3]["canonical_url"] == "https://youtube.com/watch?v=FAKEVIDEO01"
    assert results[4]["platform"] == "web"
    again = add(client, people, case_id, ["https://facebook.com/story.php?story_fbid=111&id=222"])
    assert again.json()["results"][0]["outcome"] == "duplicate"
    assert again.json()["results"][0]["report_id"] == results[0]["report_id"]


def test_one_bad_url_rejects_the_whole_request_and_writes_nothing(client, people):
    case_id = new_case(client, people)
    response = add(
        client,
        people,
        case_id,
        [
            "https://fine.example/a",
            "javascript:alert(1)",
            "https://user:secret@host.example/x",
            "ftp://files.example/leak",
        ],
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [(p["loc"], p["type"]) for p in detail] == [
        (["body", "urls", 1], "url.scheme_not_allowed"),
        (["body", "urls", 2], "url.credentials_not_allowed"),
        (["body", "urls", 3], "url.scheme_not_allowed"),
    ]
    assert "secret" not in response.text
    listing = client.get(f"/api/v1/reports?case_id={case_id}", headers=people.auth("alice"))
    assert listing.json()["total"] == 0


def test_allow_partial_creates_the_valid_ones_and_lists_the_rest(client, people):
    case_id = new_case(client, people)
    response = add(
        client,
        people,
        case_id,
        ["https://fine.example/a", "https://" + "a" * 3000 + ".example/"],
        allow_partial=True,
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0]["outcome"] == "created"
    assert results[1]["outcome"] == "rejected"
    assert results[1]["reason_type"] == "url.too_long"
    assert len(results[1]["url"]) <= 200


def test_empty_and_oversized_url_lists_are_422(client, people):
    case_id = new_case(client, people)
    assert add(client, people, case_id, []).status_code == 422
    too_many = add(client, people, case_id, [f"https://x.example/{n}" for n in range(10_001)])
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["body", "urls"]


def test_caseworker_cannot_add_to_or_read_anothers_reports(client, people):
    case_id = new_case(client, people, who="alice")
    created = add(client, people, case_id, ["https://fine.example/a"]).json()
    report_id = created["results"][0]["report_id"]
    assert add(client, people, case_id, ["https://fine.example/b"], who="bob").status_code == 404
    assert client.get(f"/api/v1/reports/{report_id}", headers=people.auth("bob")).status_code == 404
    assert (
        client.get(f"/api/v1/reports/{report_id}", headers=people.auth("supervisor")).status_code
        == 200
    )


def test_report_detail_has_policy_and_timeline(client, people):
    case_id = new_case(client, people, authority_to_act=False)
    report_id = add(client, people, case_id, ["https://fine.example/a"]).json()["results"][0][
        "report_id"
    ]
    detail = client.get(f"/api/v1/reports/{report_id}", headers=people.auth("alice")).json()
    assert detail["state"] == "logged"
    assert detail["rung_target"] == "platform"
    assert detail["policy"]["id"] == "test-fast"
    assert detail["filings"] == []  # no authority to act yet: nothing is filed
    assert [t["to_state"] for t in detail["transitions"]] == ["logged"]


def test_report_filters(client, people):
    case_id = new_case(client, people, authority_to_act=False)
    add(client, people, case_id, ["https://x.com/a/status/1", "https://fine.example/a"])
    by_platform = client.get("/api/v1/reports?platform=x", headers=people.auth("alice")).json()
    assert by_platform["total"] == 1
    logged = client.get("/api/v1/reports?state=logged", headers=people.auth("alice")).json()
    assert logged["total"] == 2
    overdue = client.get("/api/v1/reports?overdue=true", headers=people.auth("alice")).json()
    assert overdue["total"] == 0
    bad = client.get("/api/v1/reports?state=nonsense", headers=people.auth("alice"))
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "state"]


def test_recheck_request_makes_the_report_due(client, people):
    case_id = new_case(client, people, authority_to_act=False)
    report_id = add(client, people, case_id, ["https://fine.example/a"]).json()["results"][0][
        "report_id"
    ]
    response = client.post(f"/api/v1/reports/{report_id}/recheck", headers=people.auth("alice"))
    assert response.status_code == 202
    assert response.json()["report_id"] == report_id
    missing = client.post("/api/v1/reports/999999/recheck", headers=people.auth("alice"))
    assert missing.status_code == 404


def test_summary_counts_by_state_and_platform(client, people):
    case_id = new_case(client, people, authority_to_act=False)
    add(client, people, case_id, ["https://x.com/a/status/1", "https://fine.example/a"])
    summary = client.get("/api/v1/summary", headers=people.auth("dashboard")).json()
    assert summary["by_state"] == {"logged": 2}
    assert summary["by_platform"] == {"x": 1, "web": 1}
    assert summary["total"] == 2
