"""Writing the bundle: a ZIP whose bytes depend only on the records (sorted entries, fixed
times and compression), with ``manifest.json`` and ``SHA256SUMS`` over every file."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from tracker.errors import Conflict

#: Deflate at zlib's default level (6): ZipInfo entries written through ``open`` take it.
COMPRESSION = zipfile.ZIP_DEFLATED
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
#: The earliest time a ZIP entry can carry.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of the bundle: its bytes now, or chunks streamed in later with a known hash."""

    path: str
    size: int
    sha256: str
    data: bytes | None = None
    chunks: Callable[[], Iterable[bytes]] | None = None


def text_entry(path: str, data: bytes) -> Entry:
    """A file held in memory (the PDF and the texts, which are small)."""
    return Entry(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data)


def _info(path: str, moment: datetime, size: int) -> zipfile.ZipInfo:
    when = moment.timetuple()
    stamp = (when.tm_year, when.tm_mon, when.tm_mday, when.tm_hour, when.tm_min, when.tm_sec)
    info = zipfile.ZipInfo(path, date_time=max(ZIP_EPOCH, stamp))
    info.compress_type = COMPRESSION
    info.create_system = 3  # Unix, on every platform
    info.external_attr = 0o644 << 16
    info.file_size = size  # lets zipfile choose ZIP64 from the size, the same way each time
    return info


def manifest(entries: list[Entry], *, header: dict[str, object], notes: list[str]) -> bytes:
    """The manifest: the header, every file (path, size, SHA-256), notes."""
    ordered = sorted(entries, key=lambda entry: entry.path)
    files = [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in ordered]
    body = {**header, "files": files, "notes": notes}
    return (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def sums(entries: list[Entry]) -> bytes:
    """``sha256sum`` lines for every entry (text mode: two spaces)."""
    ordered = sorted(entries, key=lambda entry: entry.path)
    return "".join(f"{entry.sha256}  {entry.path}\n" for entry in ordered).encode()


def _copy(entry: Entry, target: IO[bytes]) -> None:
    digest = hashlib.sha256()
    size = 0
    assert entry.chunks is not None
    for chunk in entry.chunks():
        digest.update(chunk)
        size += len(chunk)
        target.write(chunk)
    if digest.hexdigest() != entry.sha256 or size != entry.size:
        # Never hand over a file that is not the one recorded: the certificate names its hash.
        raise Conflict.one(
            ("evidence", entry.path),
            f"{entry.path} does not match the SHA-256 recorded when it was received",
            "export.evidence_mismatch",
        )


def write_zip(target: IO[bytes], entries: Iterable[Entry], *, moment: datetime) -> None:
    """Write the entries, sorted by path, into ``target`` as one reproducible ZIP."""
    with zipfile.ZipFile(target, "w", compression=COMPRESSION) as z:
        for entry in sorted(entries, key=lambda e: e.path):
            info = _info(entry.path, moment, entry.size)
            with z.open(info, "w") as member:
                if entry.data is not None:
                    member.write(entry.data)
                else:
                    _copy(entry, member)


def file_chunks(handle: IO[bytes], *, size: int = 64 * 1024) -> Iterator[bytes]:
    """Read a file from its start in chunks, closing it at the end."""
    try:
        handle.seek(0)
        while chunk := handle.read(size):
            yield chunk
    finally:
        handle.close()
