"""URL intake canonicalisation: exact canonical forms and every rejection code."""

from __future__ import annotations

import pytest

from tracker.reports.urls import CanonicalUrl, UrlRejected, canonicalise


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        # Scheme, case, whitespace, default ports, empty path.
        ("example.test/x", "https://example.test/x"),
        ("  https://Example.TEST  ", "https://example.test/"),
        ("//example.test/x", "https://example.test/x"),
        ("HTTP://EXAMPLE.test/Path/Keeps/Case", "http://example.test/Path/Keeps/Case"),
        ("https://example.test:443/a", "https://example.test/a"),
        ("http://example.test:80/a", "http://example.test/a"),
        ("http://example.test:443/a", "http://example.test:443/a"),
        ("https://example.test:8443/a", "https://example.test:8443/a"),
        ("example.test:8080/a", "https://example.test:8080/a"),
        ("https://example.test./a", "https://example.test/a"),
        ("http://127.0.0.1:8765/videos/comply-1", "http://127.0.0.1:8765/videos/comply-1"),
        ("http://[2001:DB8::1]:80/", "http://[2001:db8::1]/"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
        # Trailing slashes, dot segments, fragments.
        ("https://x.com/a/status/1/", "https://x.com/a/status/1"),
        ("https://example.test/a//", "https://example.test/a"),
        ("https://example.test/a/./b/../c", "https://example.test/a/c"),
        ("https://example.test/a#comments", "https://example.test/a"),
        ("https://example.test/app#/gallery/7", "https://example.test/app#/gallery/7"),
        ("https://example.test/app#!/gallery/7", "https://example.test/app#!/gallery/7"),
        # Percent-encoding.
        ("https://example.test/%7euser/%2f%41", "https://example.test/~user/%2FA"),
        ("https://example.test/a b?q=a b", "https://example.test/a%20b?q=a%20b"),
        ("https://example.test/caf\u00e9", "https://example.test/caf%C3%A9"),
        ("https://example.test/?q=%e2%82%ac", "https://example.test/?q=%E2%82%AC"),
        # Tracking parameters dropped, others sorted by name (repeated names keep their order).
        (
            "https://example.test/p?b=2&utm_source=x&UTM_Medium=y&a=1&fbclid=z&gclid=w",
            "https://example.test/p?a=1&b=2",
        ),
        ("https://example.test/p?tag=z&id=1&tag=a", "https://example.test/p?id=1&tag=z&tag=a"),
        ("https://example.test/p?si=abc&igshid=1&igsh=2&mibextid=3", "https://example.test/p"),
        ("https://example.test/p?s=20&t=1", "https://example.test/p?s=20&t=1"),
        ("https://example.test/p?", "https://example.test/p"),
        ("https://example.test/p?a=1&&b", "https://example.test/p?a=1&b"),
        # X / Twitter.
        ("https://twitter.com/someone/status/123?s=20&t=abc", "https://x.com/someone/status/123"),
        ("https://www.twitter.com/someone/status/123", "https://x.com/someone/status/123"),
        ("https://mobile.twitter.com/someone/status/123/", "https://x.com/someone/status/123"),
        ("http://mobile.x.com/someone/status/123", "https://x.com/someone/status/123"),
        (
            "https://x.com/someone/status/123?ref_src=twsrc%5Etfw&ref_url=a",
            "https://x.com/someone/status/123",
        ),
        ("https://twitter.com/#!/someone/status/123", "https://x.com/someone/status/123"),
        # Facebook.
        (
            "https://m.facebook.com/permalink.php?story_fbid=111&id=222&__tn__=R&mibextid=x",
            "https://facebook.com/permalink.php?id=222&story_fbid=111",
        ),
        (
            "https://www.facebook.com/story.php?id=222&rdid=q&story_fbid=111",
            "https://facebook.com/story.php?id=222&story_fbid=111",
        ),
        (
            "https://mbasic.facebook.com/some.page/posts/9?_rdr",
            "https://facebook.com/some.page/posts/9",
        ),
        ("https://web.facebook.com/watch?v=55&ref=sharing", "https://facebook.com/watch?v=55"),
        ("https://fb.com/some.page", "https://facebook.com/some.page"),
        (
            "https://www.facebook.com/photo.php?fbid=7&set=a.1&__cft__[0]=AZ",
            "https://facebook.com/photo.php?fbid=7",
        ),
        # YouTube.
        ("https://youtu.be/AbC123xyz_-?si=share&t=42", "https://youtube.com/watch?v=AbC123xyz_-"),
        ("youtu.be/AbC123xyz_-", "https://youtube.com/watch?v=AbC123xyz_-"),
        (
            "https://www.youtube.com/watch?feature=youtu.be&v=AbC&list=PL1&t=5",
            "https://youtube.com/watch?v=AbC",
        ),
        ("https://m.youtube.com/shorts/Sh0rt?feature=share", "https://youtube.com/shorts/Sh0rt"),
        (
            "https://youtube.com/shorts/Sh0rt?feature=other",
            "https://youtube.com/shorts/Sh0rt?feature=other",
        ),
        # Reddit, TikTok, Instagram, Telegram.
        (
            "https://old.reddit.com/r/sub/comments/abc/title/?utm_source=share&context=3",
            "https://reddit.com/r/sub/comments/abc/title?context=3",
        ),
        ("https://www.reddit.com/r/sub/comments/abc/", "https://reddit.com/r/sub/comments/abc"),
        ("https://m.reddit.com/r/sub/comments/abc", "https://reddit.com/r/sub/comments/abc"),
        ("https://vm.tiktok.com/ZMabc123/", "https://vm.tiktok.com/ZMabc123"),
        (
            "https://www.tiktok.com/@someone/video/42?is_from_webapp=1&sender_device=pc",
            "https://tiktok.com/@someone/video/42",
        ),
        ("https://instagr.am/p/Cxyz/", "https://instagram.com/p/Cxyz"),
        (
            "https://www.instagram.com/p/Cxyz/?igsh=abc&img_index=2",
            "https://instagram.com/p/Cxyz?img_index=2",
        ),
        ("telegram.me/somechannel/12", "https://t.me/somechannel/12"),
        # www. stays on hosts that are not known platforms.
        ("https://www.example.test/", "https://www.example.test/"),
    ],
)
def test_canonical_form(raw: str, canonical: str) -> None:
    assert canonicalise(raw).canonical == canonical


def test_result_keeps_original_and_host() -> None:
    result = canonicalise(" https://WWW.Twitter.com/a/status/1/ ")
    assert result == CanonicalUrl(
        original=" https://WWW.Twitter.com/a/status/1/ ",
        canonical="https://x.com/a/status/1",
        host="x.com",
    )


def test_idn_host_is_punycode() -> None:
    result = canonicalise("https://B\u00fccher.example.test/d\u00e9j\u00e0")
    assert result.host == "xn--bcher-kva.example.test"
    assert result.canonical == "https://xn--bcher-kva.example.test/d%C3%A9j%C3%A0"


def test_ipv6_literal_host_without_brackets() -> None:
    result = canonicalise("http://[2001:db8:0:0::7]:8080/v")
    assert result.host == "2001:db8::7"
    assert result.canonical == "http://[2001:db8::7]:8080/v"


def test_spellings_of_one_post_deduplicate() -> None:
    spellings = [
        "https://x.com/a/status/1",
        "https://x.com/a/status/1/",
        "twitter.com/a/status/1?s=20",
        "https://mobile.twitter.com/a/status/1#reply",
        "http://www.twitter.com/a/status/1",
    ]
    assert {canonicalise(spelling).canonical for spelling in spellings} == {
        "https://x.com/a/status/1"
    }


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "url.empty"),
        ("   \t ", "url.empty"),
        ("javascript:alert(1)", "url.scheme_not_allowed"),
        ("JavaScript://%0aalert(1)", "url.scheme_not_allowed"),
        ("ftp://example.test/file", "url.scheme_not_allowed"),
        ("data:text/html,<b>hi</b>", "url.scheme_not_allowed"),
        ("file:///etc/passwd", "url.scheme_not_allowed"),
        ("mailto:someone@example.test", "url.scheme_not_allowed"),
        ("https://user:pw@example.test/", "url.credentials_not_allowed"),
        ("https://user@example.test/", "url.credentials_not_allowed"),
        ("https://" + "a" * 3000 + ".test/", "url.too_long"),
        ("https://example.test/" + "a" * 3000, "url.too_long"),
        ("https://exa mple.test/", "url.host_invalid"),
        ("http://-bad-.test", "url.host_invalid"),
        ("https:///nohost", "url.host_invalid"),
        ("https://a..b.test/", "url.host_invalid"),
        ("https://exa_mple!.test/", "url.host_invalid"),
        ("https://" + "a" * 64 + ".test/", "url.host_invalid"),
        ("http://2130706433/", "url.host_invalid"),
        ("http://0x7f.1/", "url.host_invalid"),
        ("http://127.1/", "url.host_invalid"),
        ("http://0177.0.0.1/", "url.host_invalid"),
        ("http://[::1/", "url.host_invalid"),
        ("http://[fe80::1%25eth0]/", "url.host_invalid"),
        ("https://example.test:99999/", "url.host_invalid"),
        ("https://example.test:http/", "url.host_invalid"),
        ("https://%65xample.test/", "url.host_invalid"),
        ("hello world", "url.not_a_url"),
        ("nodomain", "url.not_a_url"),
        ("http:example.test", "url.not_a_url"),
        ("https://example.test/a\nb", "url.not_a_url"),
    ],
)
def test_rejection_code(raw: str, code: str) -> None:
    with pytest.raises(UrlRejected) as caught:
        canonicalise(raw)
    assert caught.value.code == code
    assert caught.value.message
    assert isinstance(caught.value, ValueError)


def test_too_long_respects_max_length_and_does_not_echo_the_url() -> None:
    raw = "https://example.test/" + "secret-path-" * 20
    with pytest.raises(UrlRejected) as caught:
        canonicalise(raw, max_length=100)
    assert caught.value.code == "url.too_long"
    assert "secret-path" not in caught.value.message
    assert canonicalise(raw, max_length=300).canonical == raw


def test_rejection_messages_stay_short() -> None:
    with pytest.raises(UrlRejected) as caught:
        canonicalise("https://" + "-a" * 120 + ".test/")
    assert caught.value.code == "url.host_invalid"
    assert len(caught.value.message) < 260


# --- every platform host of the channel directory folds www.; parameter order is irrelevant --


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("https://www.pornhub.com/view_video.php?viewkey=fake1", "pornhub.com"),
        ("http://www.youporn.com/watch/1/fake", "youporn.com"),
        ("https://www.discord.com/channels/1/2", "discord.com"),
        ("https://www.bing.com/images/search?q=fake", "bing.com"),
        ("https://www.snapchat.com/add/fakeuser", "snapchat.com"),
        ("https://www.telegram.org/fake", "telegram.org"),
        # Domains whose subdomains are customers' sites keep www.: that is a site of its own.
        ("https://www.pages.dev/leak", "www.pages.dev"),
        ("https://www.cloudfront.net/leak.mp4", "www.cloudfront.net"),
        # Hosts outside the directory keep www.
        ("https://www.leaky-site.example/v/1", "www.leaky-site.example"),
    ],
)
def test_www_folds_for_every_directory_platform_host(raw: str, canonical: str) -> None:
    assert canonicalise(raw).host == canonical


def test_directory_platform_hosts_are_fetched_over_https() -> None:
    assert canonicalise("http://www.youporn.com/watch/1/fake").canonical == (
        "https://youporn.com/watch/1/fake"
    )
    assert canonicalise("http://www.leaky-site.example/v").canonical == (
        "http://www.leaky-site.example/v"
    )


def test_spellings_differing_in_www_and_parameter_order_are_one_url() -> None:
    spellings = [
        "https://www.pornhub.com/view_video.php?viewkey=fake9&pkey=3",
        "https://pornhub.com/view_video.php?pkey=3&viewkey=fake9",
        "http://www.pornhub.com/view_video.php?pkey=3&utm_source=x&viewkey=fake9",
    ]
    assert {canonicalise(spelling).canonical for spelling in spellings} == {
        "https://pornhub.com/view_video.php?pkey=3&viewkey=fake9"
    }


def test_repeated_parameters_keep_their_relative_order() -> None:
    first = canonicalise("https://example.test/s?tag=b&q=1&tag=a").canonical
    second = canonicalise("https://example.test/s?tag=a&q=1&tag=b").canonical
    assert first == "https://example.test/s?q=1&tag=b&tag=a"
    assert second == "https://example.test/s?q=1&tag=a&tag=b"
