"""Finding every bank hash within a Hamming distance of a PDQ, without scanning the bank.

Multi-index hashing (Norouzi, Punjani and Fleet, 2012): a 256-bit PDQ is cut into 16 words of
16 bits. If two hashes differ in at most ``t`` bits, then by the pigeonhole principle at least one
of their words differs in at most ``t // 16`` bits. Each word position keeps its values sorted
(numpy), so a lookup enumerates, per word, the values within that small radius (17 for the
default threshold of 31), collects the few candidates that share one, and verifies only those
with a popcount. HMA reaches for faiss for the same job; at the bank sizes of a helpline
(thousands to a few million hashes) this stays in milliseconds with numpy alone (BENCHMARKS.md).

vPDQ is matched the HMA way: every frame of every banked video goes into the same kind of
index; a query video matches a banked one when enough of its frames find a frame of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from tracker.matching.signals import PDQ_BITS, VPDQ_QUALITY_THRESHOLD, Frame

WORDS = 16
WORD_BITS = PDQ_BITS // WORDS
#: Below this many hashes a plain scan is as fast as the words' lookups.
SCAN_BELOW = 2048
#: Hashes added since the last build are scanned; past this many the index is rebuilt.
PENDING_LIMIT = 4096


def pdq_rows(hexes: Sequence[str]) -> np.ndarray:
    """PDQ hex strings as an (n, 4) array of uint64, most significant word first."""
    if not hexes:
        return np.zeros((0, 4), dtype=np.uint64)
    raw = np.frombuffer(bytes.fromhex("".join(hexes)), dtype=">u8").reshape(len(hexes), 4)
    return raw.astype(np.uint64)


def _words(rows: np.ndarray) -> np.ndarray:
    """(n, 16) uint16 words of (n, 4) uint64 rows."""
    big_endian = rows.astype(">u8")
    return np.frombuffer(big_endian.tobytes(), dtype=">u2").reshape(len(rows), WORDS)


def _flips(radius: int) -> np.ndarray:
    """Every 16-bit mask with at most ``radius`` bits set."""
    masks = [0]
    for count in range(1, radius + 1):
        for bits in combinations(range(WORD_BITS), count):
            masks.append(sum(1 << bit for bit in bits))
    return np.array(masks, dtype=np.uint16)


class PdqIndex:
    """PDQ hashes with a key each; ``query`` returns the keys within ``threshold`` bits."""

    def __init__(self, threshold: int = 31) -> None:
        if not 0 <= threshold < PDQ_BITS:
            raise ValueError("threshold is 0-255 bits")
        self.threshold = threshold
        self._flips = _flips(threshold // WORDS)
        # Built: keys and rows as numpy arrays; added since: hex strings, scanned until the
        # next build (no hex string is kept once built).
        self._keys = np.zeros(0, dtype=np.int64)
        self._rows = np.zeros((0, 4), dtype=np.uint64)
        self._pending_keys: list[int] = []
        self._pending: list[str] = []
        self._sorted: list[np.ndarray] = []
        self._order: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._keys) + len(self._pending_keys)

    def add(self, key: int, pdq: str) -> None:
        self._pending_keys.append(key)
        self._pending.append(pdq)
        if len(self._pending) > PENDING_LIMIT:
            self.build()

    def add_many(self, items: Iterable[tuple[int, str]]) -> None:
        for key, pdq in items:
            self._pending_keys.append(key)
            self._pending.append(pdq)
        self.build()

    def build(self) -> None:
        """Index everything added so far (called by add_many and when enough is pending)."""
        if self._pending:
            self._rows = np.concatenate([self._rows, pdq_rows(self._pending)])
            self._keys = np.concatenate([self._keys, np.array(self._pending_keys, dtype=np.int64)])
            self._pending, self._pending_keys = [], []
        self._sorted, self._order = [], []
        if len(self._keys) < SCAN_BELOW:
            return
        words = _words(self._rows)
        for position in range(WORDS):
            order = np.argsort(words[:, position], kind="stable").astype(np.int32)
            self._order.append(order)
            self._sorted.append(np.ascontiguousarray(words[order, position]))

    def query(self, pdq: str) -> list[tuple[int, int]]:
        """(key, distance) of every hash within the threshold, nearest first."""
        return self.query_rows(pdq_rows([pdq]))[0]

    def query_rows(self, queries: np.ndarray) -> list[list[tuple[int, int]]]:
        results: list[list[tuple[int, int]]] = []
        pending = pdq_rows(self._pending)
        pending_keys = np.array(self._pending_keys, dtype=np.int64)
        query_words = _words(queries) if self._sorted else None
        for number, query in enumerate(queries):
            if self._sorted:
                assert query_words is not None
                candidates = self._candidates(query_words[number])
                found = self._verified(query, self._rows[candidates], self._keys[candidates])
            else:
                found = self._verified(query, self._rows, self._keys)
            if len(pending):
                found += self._verified(query, pending, pending_keys)
            found.sort(key=lambda item: item[1])
            results.append(found)
        return results

    def _candidates(self, words: np.ndarray) -> np.ndarray:
        parts = []
        for position in range(WORDS):
            values = np.bitwise_xor(self._flips, words[position])
            column = self._sorted[position]
            starts = np.searchsorted(column, values, side="left")
            ends = np.searchsorted(column, values, side="right")
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
                if end > start:
                    parts.append(self._order[position][start:end])
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(parts))

    def _verified(
        self, query: np.ndarray, rows: np.ndarray, keys: np.ndarray
    ) -> list[tuple[int, int]]:
        if not len(rows):
            return []
        distances = np.bitwise_count(np.bitwise_xor(rows, query)).sum(axis=1)
        close = np.nonzero(distances <= self.threshold)[0]
        return [(int(keys[i]), int(distances[i])) for i in close]


@dataclass(frozen=True)
class VideoMatch:
    key: int
    #: Share of the query's frames that found a frame of the banked video.
    query_share: float
    #: Share of the banked video's seconds in which some query frame found a frame.
    bank_share: float


class VpdqIndex:
    """Banked videos (vPDQ frames) with a key each."""

    def __init__(self, threshold: int = 31, share: float = 0.8) -> None:
        self.share = share
        self._frames = PdqIndex(threshold)
        # frame key -> (video key, the second it falls in): a bank hashed at several frames a
        # second still counts its share of matched frames per second of video.
        self._owner: list[tuple[int, int]] = []
        self._frame_counts: dict[int, int] = {}  # video key -> its seconds with usable frames

    def __len__(self) -> int:
        return len(self._frame_counts)

    def add_many(self, videos: Iterable[tuple[int, Sequence[Frame]]]) -> None:
        items = []
        for key, frames in videos:
            usable = _usable(frames)
            self._frame_counts[key] = len({int(frame.seconds) for frame in usable})
            for frame in usable:
                items.append((len(self._owner), frame.pdq))
                self._owner.append((key, int(frame.seconds)))
        self._frames.add_many(items)

    def query(self, frames: Sequence[Frame]) -> list[VideoMatch]:
        """Banked videos that share enough frames with the query, either way round."""
        usable = _usable(frames)
        if not usable:
            return []
        found = self._frames.query_rows(pdq_rows([frame.pdq for frame in usable]))
        query_hits: dict[int, int] = {}
        bank_hits: dict[int, set[int]] = {}
        for matches in found:
            videos = set()
            for frame_key, _distance in matches:
                video, second = self._owner[frame_key]
                videos.add(video)
                bank_hits.setdefault(video, set()).add(second)
            for video in videos:
                query_hits[video] = query_hits.get(video, 0) + 1
        results = []
        for video, hits in query_hits.items():
            query_share = hits / len(usable)
            bank_share = len(bank_hits[video]) / max(self._frame_counts[video], 1)
            if query_share >= self.share or bank_share >= self.share:
                results.append(VideoMatch(video, round(query_share, 3), round(bank_share, 3)))
        results.sort(key=lambda match: -max(match.query_share, match.bank_share))
        return results


def _usable(frames: Sequence[Frame]) -> list[Frame]:
    """Frames with enough detail to match, each distinct hash once (HMA's filter and dedupe)."""
    seen: set[str] = set()
    usable = []
    for frame in frames:
        if frame.quality >= VPDQ_QUALITY_THRESHOLD and frame.pdq not in seen:
            seen.add(frame.pdq)
            usable.append(frame)
    return usable
