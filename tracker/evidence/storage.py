"""Where sealed evidence bytes live: a private folder on disk, or an S3-compatible bucket.

Objects are named by a random id, never by an upload's file name, and hold only ciphertext
(the case key seals them before they reach a store).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from tracker.settings import Settings

READ_BYTES = 64 * 1024 + 16
#: S3 multipart parts (the minimum part is 5 MiB); a smaller object is one PUT.
PART_BYTES = 8 * 1024 * 1024
_KEY = re.compile(r"^[0-9a-f]{32}$")


def new_storage_key() -> str:
    """A random object name."""
    return secrets.token_hex(16)


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError("not an evidence storage key")
    return key


class EvidenceStore(Protocol):
    """Writes, reads and deletes sealed objects by key."""

    name: str

    def write(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the chunks under a new key; returns the bytes written. Nothing stays on error."""

    def read(self, key: str) -> Iterator[bytes]:
        """The stored bytes, in pieces."""

    def delete(self, key: str) -> None:
        """Remove the object (no error if it is gone already)."""


class DiskStore:
    """Sealed objects as 0600 files in a 0700 folder."""

    name = "disk"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self) -> Path:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        return self.root

    def path_of(self, key: str) -> Path:
        """The file of a key."""
        return self.root / _checked(key)

    def write(self, key: str, chunks: Iterable[bytes]) -> int:
        """Write to a temporary file, then rename it into place; removed on any error."""
        folder = self._folder()
        final = self.path_of(key)
        partial = folder / f"{_checked(key)}.part"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        written = 0
        try:
            with os.fdopen(descriptor, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    written += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(partial, final)  # fails rather than replace an existing object
        finally:
            partial.unlink(missing_ok=True)
        return written

    def read(self, key: str) -> Iterator[bytes]:
        """The file's bytes in pieces."""
        with open(self.path_of(key), "rb") as handle:
            while piece := handle.read(READ_BYTES):
                yield piece

    def delete(self, key: str) -> None:
        """Unlink the file."""
        self.path_of(key).unlink(missing_ok=True)


class S3Store:
    """Sealed objects in an S3-compatible bucket (streamed up in parts, down in pieces)."""

    name = "s3"

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def write(self, key: str, chunks: Iterable[bytes]) -> int:
        """One PUT for a small object, a multipart upload (aborted on error) for a large one."""
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        written = 0
        try:
            for chunk in chunks:
                buffer += chunk
                written += len(chunk)
                if len(buffer) >= PART_BYTES:
                    if upload_id is None:
                        upload_id = self.client.create_multipart_upload(
                            Bucket=self.bucket, Key=_checked(key)
                        )["UploadId"]
                    parts.append(self._part(key, upload_id, len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            if upload_id is None:
                self.client.put_object(Bucket=self.bucket, Key=_checked(key), Body=bytes(buffer))
                return written
            if buffer:
                parts.append(self._part(key, upload_id, len(parts) + 1, bytes(buffer)))
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            if upload_id is not None:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return written

    def _part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    def read(self, key: str) -> Iterator[bytes]:
        """The object's bytes in pieces."""
        body = self.client.get_object(Bucket=self.bucket, Key=_checked(key))["Body"]
        try:
            yield from body.iter_chunks(READ_BYTES)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        """Delete the object."""
        self.client.delete_object(Bucket=self.bucket, Key=_checked(key))


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for the evidence settings."""
    import boto3  # imported here: only an S3-configured install needs it loaded
    from botocore.config import Config

    secret = settings.evidence_s3_secret_key
    return boto3.client(
        "s3",
        endpoint_url=settings.evidence_s3_endpoint,
        aws_access_key_id=settings.evidence_s3_access_key,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        region_name=settings.evidence_s3_region,
        config=Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3}),
    )


def store_from_settings(settings: Settings, name: str | None = None) -> EvidenceStore:
    """The store of these settings (or the named one, for an object stored before a change)."""
    if (name or settings.evidence_store) == "s3":
        if not settings.evidence_s3_bucket:
            raise ValueError("TRACKER_EVIDENCE_S3_BUCKET is required when the store is s3")
        return S3Store(s3_client(settings), settings.evidence_s3_bucket)
    return DiskStore(settings.data_dir / "evidence")
