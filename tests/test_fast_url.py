"""The re-check's URL fast path gives exactly httpx's URL, or defers to httpx."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.recheck import fast_url
from workers.recheck.fast_url import parse_url

EXAMPLES = [
    "http://127.0.0.1:8081/p/000123deadbeef.html",
    "https://www.facebook.com/watch/?v=1234567890123456",
    "https://x.com/someone/status/1790000000000000000",
    "https://old.reddit.com/r/sub/comments/abc123/title_here/",
    "https://example.com/",
    "https://example.com/a%20b?q=%E0%A4%85&x=1",
    "https://example.com:8443/path;params?query=a:b@c/d?e",
    "http://example.com:80/default-port",
    "https://example.com:443/default-port",
    "https://EXAMPLE.com/upper",
    "HTTPS://example.com/upper-scheme",
    "https://example.com/a/./b/../c",
    "https://example.com/bad%zzescape",
    "https://example.com/space here",
    "https://user:secret@example.com/",
    "https://[::1]:8080/",
    "https://example.com/frag#part",
    "https://1.2.3/not-a-quad",
    "https://256.1.1.1/bad-quad",
    "https://01.2.3.4/leading-zero",
    "https://example.com",
    "https://example.com/é",
    "https://bücher.example/",
    "https://example.com/?",
    "https://example.com/path?",
    "https://example.com:99999/port",
    "https://example.com/[brackets]",
    "https://a..b.example/",
]


def same(url: str) -> None:
    try:
        expected = httpx.URL(url)
    except httpx.InvalidURL:
        with pytest.raises(httpx.InvalidURL):
            parse_url(url)
        return
    got = parse_url(url)
    assert got._uri_reference == expected._uri_reference, url
    assert got == expected
    assert str(got) == str(expected)
    assert (got.scheme, got.host, got.port, got.raw_path, got.netloc) == (
        expected.scheme,
        expected.host,
        expected.port,
        expected.raw_path,
        expected.netloc,
    )


@pytest.mark.parametrize("url", EXAMPLES)
def test_known_urls_parse_as_httpx_parses_them(url: str) -> None:
    same(url)


def test_the_fast_path_is_taken_for_canonical_urls() -> None:
    # Built directly (no call to httpx's parser) for the common shape of a canonical URL.
    calls: list[str] = []
    original = fast_url.httpx.URL

    class Counting(original):  # type: ignore[misc, valid-type]
        def __init__(self, url: object = "", **kwargs: object) -> None:
            calls.append(str(url))
            super().__init__(url, **kwargs)  # type: ignore[arg-type]

    fast_url.httpx.URL = Counting  # type: ignore[misc]
    try:
        parse_url("http://127.0.0.1:8081/p/1.html")
        parse_url("https://www.facebook.com/watch/?v=1")
        assert calls == []
        parse_url("HTTPS://example.com/")
        assert calls == ["HTTPS://example.com/"]
    finally:
        fast_url.httpx.URL = original  # type: ignore[misc]


ALPHABET = "abcXYZ019-._~!$&'()*+,;=:@/?%#[] é\t"
HOSTS = st.sampled_from(
    ["example.com", "EXAMPLE.com", "127.0.0.1", "256.0.0.1", "a-b.example", "x", "1.2.3", "[::1]"]
)


@settings(max_examples=3000, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "ftp"]),
    host=HOSTS,
    port=st.one_of(st.none(), st.sampled_from(["80", "443", "8081", "0", "65536", "08"])),
    rest=st.text(alphabet=ALPHABET, max_size=40),
)
def test_generated_urls_parse_as_httpx_parses_them(
    scheme: str, host: str, port: str | None, rest: str
) -> None:
    same(f"{scheme}://{host}{':' + port if port is not None else ''}/{rest}")
