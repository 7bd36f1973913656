"""Hashes, the multi-index, signal formats, linked media and the bounded body reader."""

from __future__ import annotations

import asyncio
import gc
import random
import secrets
import tracemalloc

import numpy as np
import pytest

from bench.media_corpus import make_image, transform_image
from tracker.errors import Invalid
from tracker.matching.exchange import BankFormat, export_bank, parse_bank
from tracker.matching.hashing import NotMedia, hash_media, trim_border
from tracker.matching.index import SCAN_BELOW, PdqIndex, VpdqIndex
from tracker.matching.models import BankEntry
from tracker.matching.signals import (
    Frame,
    SignalError,
    SignalType,
    format_vpdq,
    normalise,
    parse_vpdq,
    pdq_distance,
)
from workers.recheck.engine import MediaOptions, build_client, check_batch
from workers.recheck.linked import linked_media


def flipped(pdq: str, bits: int, rng: random.Random) -> str:
    value = int(pdq, 16)
    for bit in rng.sample(range(256), bits):
        value ^= 1 << bit
    return f"{value:064x}"


@pytest.mark.parametrize("size", [SCAN_BELOW // 2, SCAN_BELOW * 3])
def test_the_index_finds_exactly_what_a_scan_finds(size):
    rng = random.Random(size)
    bank = [secrets.token_hex(32) for _ in range(size)]
    index = PdqIndex(31)
    index.add_many(enumerate(bank))
    queries = [flipped(bank[rng.randrange(size)], rng.choice([0, 5, 16, 31, 32, 40]), rng)]
    queries += [flipped(bank[rng.randrange(size)], rng.randrange(0, 48), rng) for _ in range(60)]
    for query in queries:
        scan = sorted(
            (key, pdq_distance(int(query, 16), int(value, 16)))
            for key, value in enumerate(bank)
            if pdq_distance(int(query, 16), int(value, 16)) <= 31
        )
        assert sorted(index.query(query)) == scan


def test_hashes_added_after_a_build_are_found_too():
    index = PdqIndex(31)
    index.add_many((key, secrets.token_hex(32)) for key in range(SCAN_BELOW + 10))
    late = secrets.token_hex(32)
    index.add(99_999, late)
    assert index.query(flipped(late, 20, random.Random(1))) == [(99_999, 20)]


def test_perceptual_hashes_survive_re_encoding_where_exact_ones_do_not():
    original = hash_media(make_image(7))
    for name in ("resize_50", "jpeg_q30", "webp_q30", "border", "mirror"):
        copy = hash_media(transform_image(make_image(7), name))
        assert copy.sha256 != original.sha256 and copy.md5 != original.md5
        best = min(
            pdq_distance(int(original.pdq, 16), int(candidate, 16))
            for candidate in (copy.pdq, copy.pdq_mirror)
        )
        assert best <= 31, name
    other = hash_media(make_image(8))
    assert pdq_distance(int(original.pdq, 16), int(other.pdq, 16)) > 64


def test_a_solid_border_is_trimmed_and_a_picture_without_one_is_kept():
    picture = np.random.default_rng(3).integers(0, 255, (100, 120, 3), dtype=np.uint8)
    framed = np.zeros((140, 160, 3), dtype=np.uint8)
    framed[20:120, 20:140] = picture
    assert np.array_equal(trim_border(framed), picture)
    assert trim_border(picture) is picture
    flat = np.zeros((50, 50, 3), dtype=np.uint8)
    assert trim_border(flat) is flat  # all border: nothing sensible to keep


def test_what_is_not_media_is_refused():
    for data in (b"plain text", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b""):
        with pytest.raises(NotMedia):
            hash_media(data)


def test_vpdq_matches_by_share_of_frames_either_way():
    rng = random.Random(5)
    frames = [Frame(secrets.token_hex(32), 90, float(second)) for second in range(10)]
    index = VpdqIndex(31, 0.8)
    index.add_many([(1, frames)])
    clip = [Frame(flipped(f.pdq, 8, rng), 90, f.seconds) for f in frames[2:6]]
    [match] = index.query(clip)  # a clip of the banked video: all its frames found
    assert (match.key, match.query_share, match.bank_share) == (1, 1.0, 0.4)
    half = clip[:2] + [Frame(secrets.token_hex(32), 90, 9.0) for _ in range(3)]
    assert index.query(half) == []
    dull = [Frame(f.pdq, 10, f.seconds) for f in frames]  # low quality frames say nothing
    assert index.query(dull) == []


def test_vpdq_text_round_trips_and_bad_text_is_refused():
    frames = [Frame("a" * 64, 80, 0.0), Frame("b" * 64, 100, 1.5)]
    assert parse_vpdq(format_vpdq(frames)) == frames
    for bad in ("", "{}", "[]", '["abc,1,0"]', '["' + "a" * 64 + ',101,0"]', '["x"]'):
        with pytest.raises(SignalError):
            parse_vpdq(bad)
    assert normalise(SignalType.PDQ, " " + "A" * 64 + " ") == "a" * 64
    with pytest.raises(SignalError):
        normalise(SignalType.VIDEO_MD5, "a" * 64)


def test_exchange_files_round_trip_and_name_the_bad_line():
    entries = [
        BankEntry(
            organisation_id=1,
            case_id=1,
            signal_type="pdq",
            value="a" * 64,
            digest="x",
            source="pasted",
            label="never exported",
        ),
        BankEntry(
            organisation_id=1,
            case_id=1,
            signal_type="vpdq",
            value=format_vpdq([Frame("b" * 64, 90, 0.0)]),
            digest="y",
            source="pasted",
        ),
    ]
    for form in BankFormat:
        text = export_bank(entries, form)
        assert "never exported" not in text
        assert [(s.signal_type, s.value) for s in parse_bank(text, form)] == [
            (entry.signal_type, entry.value) for entry in entries
        ]
    assert parse_bank("# a comment\n\npdq " + "c" * 64 + "\n", BankFormat.TE)[0].value == "c" * 64
    with pytest.raises(Invalid) as refused:
        parse_bank("pdq " + "c" * 64 + "\nvpdq\n", BankFormat.TE)
    assert "line 2" in str(refused.value)
    with pytest.raises(Invalid):
        parse_bank("signal_type,signal\npdq,a,b\n", BankFormat.CSV)


def test_linked_media_are_found_in_a_page_prefix():
    page = (
        b'<meta property="og:image" content="/i/1.jpg"><meta name="twitter:image" '
        b'content=\'https://cdn.test/2.png\'><meta property="og:title" content="x">'
        b'<video poster="/p.jpg"><source src="/v.mp4"></video><source src="javascript:x">'
        b'<meta property="og:video" content="/i/1.jpg">'
    )
    assert linked_media(page, "http://127.0.0.1/post/9") == [
        "http://127.0.0.1/i/1.jpg",
        "https://cdn.test/2.png",
        "http://127.0.0.1/p.jpg",
        "http://127.0.0.1/v.mp4",
    ]


def test_a_check_reads_a_picture_whole_past_the_page_limit(media_server):
    big = make_image(11, size=(1400, 1000))
    assert len(big) > 3 * 65536
    url = media_server.serve("/big.jpg", big, "image/jpeg", headers={"ETag": '"e1"'})
    page = media_server.page("/page", image=url)

    async def run(items, options):
        client = build_client(allowlist=["127.0.0.1"], timeout=5.0, max_redirects=3)
        async with client:
            return await check_batch(items, client=client, body_limit=65536, media=options)

    [direct, html] = asyncio.run(
        run([(1, url, None), (2, page, None)], MediaOptions(limit=8 << 20, find_linked=True))
    )
    assert direct.media is not None and direct.media.sha256 == hash_media(big).sha256
    assert (direct.media_kind, direct.validator) == ("image", 'etag:"e1"')
    assert html.media is None and html.linked == (url,)
    [again] = asyncio.run(
        run([(1, url, None)], MediaOptions(limit=8 << 20, validators={1: 'etag:"e1"'}))
    )
    assert again.media is None and again.media_kind == "image"  # unchanged: not read again
    [cut] = asyncio.run(run([(1, url, None)], MediaOptions(limit=100_000)))
    assert cut.media is not None and cut.media.truncated and cut.media.size == 100_000


def test_memory_stays_flat_while_hashing_a_thousand_images():
    pictures = [make_image(seed, size=(320, 240)) for seed in range(40)]
    for data in pictures[:20]:
        hash_media(data)  # warm up: imports and first-use allocations
    gc.collect()
    tracemalloc.start()
    try:
        for number in range(1000):
            hash_media(pictures[number % len(pictures)])
            if number == 99:
                gc.collect()
                after_100 = tracemalloc.get_traced_memory()[0]
        gc.collect()
        after_1000, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after_1000 - after_100 < 256 * 1024  # nothing kept per image
    assert peak < 32 * 1024 * 1024
