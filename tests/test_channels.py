"""The channel directory (data, served read-only) and channel credentials (encrypted, masked)."""

from __future__ import annotations

import pytest
from conftest import new_case
from sqlalchemy import text

from platform_adapters.directory import load_directory
from platform_adapters.registry import ADAPTERS
from tracker.reports.urls import canonicalise

DIRECTORY = load_directory()


def test_the_directory_knows_at_least_fifteen_platforms_each_with_source_and_date():
    platforms = [slug for slug in DIRECTORY.platforms if slug != "sandbox"]
    assert len(platforms) >= 15
    for entry in DIRECTORY.platforms.values():
        assert entry.source, entry.slug
        assert entry.checked is not None, entry.slug
        assert entry.confidence in {"confirmed", "secondary", "unconfirmed"}
        assert entry.channels, entry.slug


def test_every_channel_names_a_registered_adapter_and_a_kind():
    routes = [route for entry in DIRECTORY.platforms.values() for _, route in entry.channels]
    routes += list(DIRECTORY.intermediaries.values())
    for route in routes:
        assert route.adapter in ADAPTERS, route
        assert ADAPTERS[route.adapter].channel_kind == route.kind, route
        if route.kind == "webform":
            assert route.params.get("form_url", "").startswith("https://"), route
        if route.kind == "email" and route.adapter != "rdap_email":
            assert "@" in route.params.get("address", ""), route


@pytest.mark.parametrize(
    ("url", "platform"),
    [
        ("https://m.facebook.com/story.php?story_fbid=1&id=2", "facebook"),
        ("https://fb.watch/abcDEF123/", "facebook"),
        ("https://www.facebook.com/share/v/1FakeShare/", "facebook"),
        ("https://web.facebook.com/fakeuser/videos/123", "facebook"),
        ("https://www.instagram.com/reel/FAKEcode1/?igsh=xyz", "instagram"),
        ("https://instagr.am/p/FAKEcode2/", "instagram"),
        ("https://chat.whatsapp.com/FakeInviteCode", "whatsapp"),
        ("https://wa.me/0000000000", "whatsapp"),
        ("https://mobile.twitter.com/fakeuser/status/1", "x"),
        ("https://twitter.com/fakeuser/status/2?s=20", "x"),
        ("https://t.co/FakeCode", "x"),
        ("https://youtu.be/FAKEVIDEO01?si=share", "youtube"),
        ("https://m.youtube.com/watch?v=FAKEVIDEO02", "youtube"),
        ("https://www.youtube.com/shorts/FAKEVIDEO03", "youtube"),
        ("https://old.reddit.com/r/fakesub/comments/abc123/title/", "reddit"),
        ("https://redd.it/abc124", "reddit"),
        ("https://www.reddit.com/r/fakesub/s/FakeShare1", "reddit"),
        ("https://vm.tiktok.com/FAKEcode/", "tiktok"),
        ("https://www.tiktok.com/@fakeuser/video/7000000000000000001", "tiktok"),
        ("https://t.snapchat.com/FakeCode", "snapchat"),
        ("https://story.snapchat.com/p/fake-story", "snapchat"),
        ("https://telegram.me/fakechannel/12", "telegram"),
        ("https://t.me/c/1234/56", "telegram"),
        ("https://www.pornhub.com/view_video.php?viewkey=fake123", "pornhub"),
        ("https://www.youporn.com/watch/123/fake/", "pornhub"),
        ("https://cdn.discordapp.com/attachments/1/2/fake.mp4", "discord"),
        ("https://fake-site.pages.dev/leak", "cloudflare"),
        ("https://fakebucket.s3.amazonaws.com/leak.mp4", "aws"),
        ("https://d111111abcdef8.cloudfront.net/leak.mp4", "aws"),
        ("https://www.bing.com/images/search?q=fake", "bing"),
        ("https://unknown-leak-site.example/v/1", "web"),
    ],
)
def test_platform_detection_of_common_url_shapes(url, platform):
    assert DIRECTORY.platform_for_host(canonicalise(url).host) == platform


def test_routes_fall_back_to_intermediaries_then_to_a_packet_that_says_so():
    assert DIRECTORY.route("facebook", "platform").adapter == "meta_webform"
    assert DIRECTORY.route("facebook", "registrar").adapter == "rdap_email"
    assert DIRECTORY.route("facebook", "registrar").via == "intermediary"
    assert DIRECTORY.route("web", "platform").adapter == "rdap_email"
    fallback = DIRECTORY.route("web", "regulator")
    assert (fallback.adapter, fallback.via) == ("manual", "fallback")
    assert "No channel is recorded" in fallback.params["note"]


def test_directory_is_served_read_only(client, people):
    listing = client.get("/api/v1/channels", headers=people.auth("dashboard"))
    assert listing.status_code == 200
    page = listing.json()
    assert page["total"] == len(page["items"]) and page["limit"] == 50 and page["offset"] == 0
    x = next(item for item in page["items"] if item["slug"] == "x")
    assert x["channels"][0]["details"]["form_url"] == (
        "https://help.x.com/forms/safety-and-sensitive-content/take-it-down"
    )
    one = client.get("/api/v1/channels/telegram", headers=people.auth("alice")).json()
    assert one["channels"][0]["details"]["address"] == "abuse@telegram.org"
    missing = client.get("/api/v1/channels/nope", headers=people.auth("alice"))
    assert missing.status_code == 404
    assert missing.json()["detail"][0]["type"] == "channel.unknown_platform"
    assert client.post("/api/v1/channels", headers=people.auth("admin")).status_code == 405


def test_report_detail_shows_where_each_rung_goes_and_why(client, people):
    case_id = new_case(client, people, authority_to_act=False, jurisdictions=["IN"])
    created = client.post(
        f"/api/v1/cases/{case_id}/reports",
        json={"urls": ["https://www.instagram.com/p/FAKEcode3/"]},
        headers=people.auth("alice"),
    ).json()
    report_id = created["results"][0]["report_id"]
    detail = client.get(f"/api/v1/reports/{report_id}", headers=people.auth("alice")).json()
    ladder = detail["ladder"]
    assert [step["target"] for step in ladder][:3] == ["platform", "grievance_officer", "host"]
    assert ladder[0]["is_current"] and ladder[0]["adapter"] == "meta_webform"
    assert ladder[0]["deadline"] == "PT2H"
    assert ladder[1]["channel"]["address"] == "fbgoindia@support.facebook.com"
    assert ladder[2]["via"] == "intermediary" and ladder[2]["adapter"] == "rdap_email"


def test_credentials_are_validated_stored_encrypted_and_masked(client, people, db):
    secret = "fake-sandbox-token-0123456789"
    bad = client.put(
        "/api/v1/channel-credentials/sandbox",
        json={"values": {"timeout_seconds": "soon"}},
        headers=people.auth("admin"),
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "values", "timeout_seconds"]
    saved = client.put(
        "/api/v1/channel-credentials/sandbox",
        json={"values": {"api_token": secret}},
        headers=people.auth("admin"),
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["is_configured"] and body["stored_fields"] == ["api_token"]
    assert body["config"]["api_token"] == "**********"
    assert secret not in saved.text
    listing = client.get("/api/v1/channel-credentials", headers=people.auth("admin"))
    assert secret not in listing.text
    with db.engine.connect() as connection:
        raw = connection.execute(text('SELECT "values" FROM channel_credentials')).scalar_one()
    assert secret not in raw and raw.startswith("gAAAAA")
    assert (
        client.get("/api/v1/channel-credentials", headers=people.auth("supervisor")).status_code
        == 403
    )
    unknown = client.put(
        "/api/v1/channel-credentials/fax", json={"values": {}}, headers=people.auth("admin")
    )
    assert unknown.status_code == 404
    assert (
        client.delete(
            "/api/v1/channel-credentials/sandbox", headers=people.auth("admin")
        ).status_code
        == 204
    )


def test_stored_credentials_are_what_the_worker_files_with(client, people, db, sandbox):
    import time

    from test_filing_flow import filings_of, log_url

    from workers import jobs

    client.put(
        "/api/v1/channel-credentials/sandbox",
        json={"values": {"api_token": "wrong-token-fake"}},
        headers=people.auth("admin"),
    )
    report_id = log_url(client, people, f"{sandbox.base_url}/videos/comply-cred-{time.time_ns()}")
    [filing] = filings_of(db, report_id)
    assert jobs.file_filing(filing.id, db=db) == "invalid_credentials"
    alerts = client.get("/api/v1/alerts", headers=people.auth("supervisor")).json()["items"]
    assert [(a["kind"], a["subject"]) for a in alerts] == [
        ("adapter.invalid_credentials", "adapter:sandbox")
    ]
