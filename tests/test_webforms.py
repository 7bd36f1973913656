"""Web-form adapters: each packet exactly, and each platform's page rules."""

from __future__ import annotations

import pytest
from harnesses import FAKE_VICTIM_NAME, ORGANISATION_EMAIL, ORGANISATION_NAME, make_request, new_key

from platform_adapters.base import FetchedPage, Verdict
from platform_adapters.manual import TO_FILL, VOCABULARY, ManualConfig
from platform_adapters.registry import ADAPTERS
from platform_adapters.webforms import WebFormAdapter
from workers.recheck.classify import classify_page

SLUGS = (
    "meta_webform",
    "google_search_webform",
    "youtube_webform",
    "x_webform",
    "tiktok_webform",
    "snapchat_webform",
    "aylo_webform",
    "bing_webform",
)

#: slug → (sample URL, form URL, policy category, field names in order)
EXPECTED = {
    "meta_webform": (
        "https://www.facebook.com/fake.page/posts/1",
        "https://www.facebook.com/help/contact/567360146613371",
        "Non-consensual intimate imagery",
        ["Your full name", "Contact email address", "Who is in the image?", "Country",
         "Links (URLs) to the content", "Please provide additional information", "Reference"],
    ),
    "google_search_webform": (
        "https://leaky.example/p/1",
        "https://support.google.com/websearch/answer/6302812",
        "Remove non-consensual explicit or intimate personal images from Google",
        ["Are you the person depicted or their representative?", "Your full name",
         "Name of the person you represent", "Country of residence", "Contact email address",
         "Explain your authority to act on their behalf",
         "URLs of the web pages or images to remove", "Additional information", "Signature"],
    ),
    "youtube_webform": (
        "https://www.youtube.com/watch?v=fakeid",
        "https://support.google.com/youtube/answer/142443",
        "Privacy complaint: sexually explicit or intimate content",
        ["Your relationship to the person in the video", "Your full legal name", "Email address",
         "Country", "Video URL", "Timestamp where the person appears",
         "Describe the privacy violation", "Explain your authority to act on their behalf",
         "Signature"],
    ),
    "x_webform": (
        "https://x.com/fakeaccount/status/1",
        "https://help.x.com/forms/safety-and-sensitive-content/take-it-down",
        "Report content under the US Take It Down Act",
        ["Full name", "Email address", "Relationship to the person depicted", "Country",
         "Link(s) to the content", "Description of the content", "Statement of authority",
         "Good-faith statement", "Electronic signature"],
    ),
    "tiktok_webform": (
        "https://www.tiktok.com/@fakeaccount/video/1",
        "https://www.tiktok.com/legal/report/privacy",
        "Non-consensual intimate imagery",
        ["Your full name", "Email address", "I am reporting on behalf of", "Country/region",
         "Link(s) to the content", "Description", "Statement of authority", "Signature"],
    ),
    "snapchat_webform": (
        "https://story.snapchat.com/s/fake",
        "https://help.snapchat.com/hc/en-us/requests/new",
        "Sexual content involving me shared without consent",
        ["Your email", "Your name", "Username of the account that shared it",
         "Link to the content", "Country", "Please describe the issue", "Reference"],
    ),
    "aylo_webform": (
        "https://www.pornhub.com/view_video.php?viewkey=fake",
        "https://www.pornhub.com/content-removal",
        "Non-consensual content",
        ["URL(s) of the content", "Reason", "Email address", "Your name",
         "Relationship to the person depicted", "Additional information", "Signature"],
    ),
    "bing_webform": (
        "https://leaky.example/p/1",
        "https://www.microsoft.com/en-us/concern/revengeporn",
        "Non-consensual intimate imagery (Report a Concern)",
        ["Your name", "Email address", "Relationship to the person depicted",
         "URL of the content",
         "Did the person depicted ever agree to the distribution of this content?",
         "Additional information", "Reference"],
    ),
}  # fmt: skip


#: Fields only the caseworker can fill, even when the country is known.
TO_FILL_WITH_COUNTRY = {
    "youtube_webform": ["Timestamp where the person appears"],
    "snapchat_webform": ["Username of the account that shared it"],
}


def adapter(slug: str) -> WebFormAdapter:
    built = ADAPTERS[slug](ManualConfig())
    assert isinstance(built, WebFormAdapter)
    return built


def values(packet: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {field["name"]: field["value"] for field in packet["fields"]}


@pytest.mark.parametrize("slug", SLUGS)
def test_packet_is_exact(slug: str) -> None:
    url, form_url, category, names = EXPECTED[slug]
    key = new_key()

    receipt = adapter(slug).file(make_request(key, url, urls=[f"{url}#copy"], country="India"))

    packet = receipt.packet
    assert receipt.awaiting_manual and packet is not None and receipt.external_ref is None
    assert (packet["form_url"], packet["policy_category"]) == (form_url, category)
    assert [field["name"] for field in packet["fields"]] == names
    assert packet["reference"] == key
    assert packet["to_fill"] == TO_FILL_WITH_COUNTRY.get(slug, [])
    assert packet["category_path"] and packet["after_submission"] and packet["source"]
    assert ORGANISATION_NAME in packet["statement_of_authority"]
    assert f'Choose the policy category "{category}"' in packet["instructions"]
    filled = values(packet)
    url_field = next(name for name in names if "URL" in name or "Link" in name)
    assert filled[url_field] == f"{url}\n{url}#copy"
    for name, value in filled.items():
        if "mail" in name:
            assert value == ORGANISATION_EMAIL
        if name in ("Country", "Country of residence", "Country/region"):
            assert value == "India"


def test_every_field_draws_on_the_vocabulary() -> None:
    for slug in SLUGS:
        form = adapter(slug).form
        assert all(spec.source in VOCABULARY for spec in form.fields), slug


def test_x_packet_carries_every_take_it_down_element() -> None:
    filled = values(
        adapter("x_webform")
        .file(make_request("k", "https://x.com/a/status/1", signatory="Case Worker Fake"))
        .packet  # type: ignore[arg-type]
    )

    assert filled["Electronic signature"] == (
        f"/s/ Case Worker Fake, authorised representative, for {ORGANISATION_NAME}"
    )
    assert "good-faith belief" in filled["Good-faith statement"]
    assert filled["Link(s) to the content"] == "https://x.com/a/status/1"
    assert filled["Email address"] == ORGANISATION_EMAIL


def test_missing_country_is_flagged_for_the_caseworker() -> None:
    packet = (
        adapter("google_search_webform").file(make_request("k", "https://leaky.example/p")).packet
    )

    assert packet is not None
    assert values(packet)["Country of residence"] == TO_FILL
    assert packet["to_fill"] == ["Country of residence"]


def test_the_person_is_named_only_when_required_and_consented() -> None:
    google = adapter("google_search_webform")
    url = "https://leaky.example/p"

    withheld = google.file(make_request("k", url, identity=FAKE_VICTIM_NAME)).packet
    named = google.file(
        make_request("k", url, identity=FAKE_VICTIM_NAME, requires_identity=True)
    ).packet

    assert withheld is not None and named is not None
    assert FAKE_VICTIM_NAME not in repr(withheld)
    assert values(withheld)["Name of the person you represent"].startswith("[withheld")
    assert values(named)["Name of the person you represent"] == FAKE_VICTIM_NAME
    assert FAKE_VICTIM_NAME in named["statement_of_authority"]


def test_the_directory_overrides_form_url_and_category() -> None:
    filing = make_request(
        "k",
        "https://x.com/a/status/1",
        form_url="https://x.example/new-form",
        policy_category="New",
    )

    packet = adapter("x_webform").file(filing).packet

    assert packet is not None
    assert (packet["form_url"], packet["policy_category"]) == ("https://x.example/new-form", "New")


def test_meta_chooses_the_instagram_form_for_instagram_urls() -> None:
    packet = (
        adapter("meta_webform").file(make_request("k", "https://www.instagram.com/p/fake/")).packet
    )

    assert packet is not None
    assert packet["form_url"] == "https://help.instagram.com/contact/567360146613371"


# --- page rules ---------------------------------------------------------------------------------


def page(url: str, body: str, status: int = 200, final_url: str | None = None) -> FetchedPage:
    return FetchedPage(
        url=url, final_url=final_url or url, status_code=status, headers={}, body_prefix=body
    )


def titled(title: str, text: str = "") -> str:
    return f"<html><head><title>{title}</title></head><body><p>{text}</p></body></html>"


FB = "https://www.facebook.com/fake.page/posts/1"
IG = "https://www.instagram.com/p/fake/"
X = "https://x.com/fakeaccount/status/1"
YT = "https://www.youtube.com/watch?v=fakeid"
TT = "https://www.tiktok.com/@fakeaccount/video/1"
SC = "https://story.snapchat.com/s/fake"
PH = "https://www.pornhub.com/view_video.php?viewkey=fake"

#: (slug, URL, page text, verdict); the page's title is the platform's name, as when it is up.
CASES = [
    ("meta_webform", FB, "This content isn't available right now", Verdict.REMOVED),
    ("meta_webform", FB, "The link you followed may be broken", Verdict.REMOVED),
    ("meta_webform", IG, "Sorry, this page isn't available.", Verdict.REMOVED),
    ("meta_webform", IG, "This account is private", Verdict.PRIVATE),
    ("meta_webform", FB, "You must log in to continue.", Verdict.LOGIN_REQUIRED),
    ("meta_webform", FB, "A post", None),
    ("x_webform", X, "This Tweet is unavailable.", Verdict.REMOVED),
    ("x_webform", X, "This post is unavailable.", Verdict.REMOVED),
    ("x_webform", X, "Hmm...this page doesn\u2019t exist. Try searching.", Verdict.REMOVED),
    ("x_webform", X, "Account suspended", Verdict.REMOVED),
    ("x_webform", X, "These posts are protected", Verdict.PRIVATE),
    ("x_webform", X, "Post withheld in India in response to a legal demand.", Verdict.GEO_WITHHELD),
    ("x_webform", "https://twitter.com/a/status/1", "This Tweet is unavailable.", Verdict.REMOVED),
    ("youtube_webform", YT, "This video isn't available anymore", Verdict.REMOVED),
    ("youtube_webform", YT, "This video has been removed by the uploader", Verdict.REMOVED),
    ("youtube_webform", "https://youtu.be/fakeid", "Video unavailable", Verdict.REMOVED),
    ("youtube_webform", YT, "Video unavailable. This video is private.", Verdict.PRIVATE),
    ("youtube_webform", YT, "Sign in to confirm your age", Verdict.LOGIN_REQUIRED),
    ("youtube_webform", YT, "Sign in to confirm you\u2019re not a bot", Verdict.BLOCKED),
    ("youtube_webform", YT, "The uploader has not made this video available in your country",
     Verdict.GEO_WITHHELD),
    ("tiktok_webform", TT, "This video is no longer available", Verdict.REMOVED),
    ("tiktok_webform", TT, "Video currently unavailable", Verdict.REMOVED),
    ("tiktok_webform", TT, "This account is private", Verdict.PRIVATE),
    ("snapchat_webform", SC, "This story is no longer available", Verdict.REMOVED),
    ("aylo_webform", PH, "This video has been disabled", Verdict.REMOVED),
    ("aylo_webform", PH, "Video has been removed at the request of", Verdict.REMOVED),
    ("aylo_webform", PH, "This video is private", Verdict.PRIVATE),
    ("aylo_webform", PH, "This content is not available in your country", Verdict.GEO_WITHHELD),
    ("aylo_webform", PH, "Please verify your age to continue", Verdict.LOGIN_REQUIRED),
    ("aylo_webform", PH, "A video", None),
]  # fmt: skip


@pytest.mark.parametrize(("slug", "url", "text", "expected"), CASES)
def test_platform_verdicts(slug: str, url: str, text: str, expected: Verdict | None) -> None:
    assert adapter(slug).classify(page(url, titled("Platform", text))) is expected


@pytest.mark.parametrize(("slug", "url", "text", "expected"), [c for c in CASES if c[3]])
def test_403_is_never_removal(slug: str, url: str, text: str, expected: Verdict) -> None:
    forbidden = page(url, titled("Platform", text), status=403)

    assert adapter(slug).classify(forbidden) is None
    assert classify_page(forbidden, adapter(slug).classify)[0] is Verdict.BLOCKED


@pytest.mark.parametrize(
    ("slug", "url", "text", "expected"), [c for c in CASES if c[3] is Verdict.REMOVED]
)
def test_a_long_page_quoting_a_gone_string_stays_live(
    slug: str, url: str, text: str, expected: Verdict
) -> None:
    long_page = page(url, titled("A live post", f"someone wrote: {text} " + "words " * 900))

    assert adapter(slug).classify(long_page) is None
    assert classify_page(long_page, adapter(slug).classify)[0] is Verdict.LIVE


def test_the_title_counts_even_on_a_long_page() -> None:
    long_page = page(X, titled("This post is unavailable", "words " * 900))

    assert adapter("x_webform").classify(long_page) is Verdict.REMOVED


def test_hard_404_is_left_to_the_generic_rules() -> None:
    gone = page(PH, titled("Page Not Found"), status=404)

    assert adapter("aylo_webform").classify(gone) is None
    assert classify_page(gone, adapter("aylo_webform").classify)[0] is Verdict.REMOVED


@pytest.mark.parametrize("slug", SLUGS)
def test_pages_of_other_hosts_are_left_alone(slug: str) -> None:
    elsewhere = page("https://mirror.example/p/1", titled("This video has been removed"))
    # Redirected off the platform: the page we got is not the platform's.
    redirected = page(
        YT, titled("This video has been removed"), final_url="https://consent.example/"
    )

    assert adapter(slug).classify(elsewhere) is None
    assert adapter(slug).classify(redirected) is None


@pytest.mark.parametrize("slug", ["google_search_webform", "bing_webform"])
def test_search_engines_classify_nothing(slug: str) -> None:
    results = page("https://www.google.com/search?q=fake", titled("Video unavailable"))

    assert adapter(slug).classify(results) is None
