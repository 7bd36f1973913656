"""Encryption at rest for victim contact fields (Fernet; key rotation with MultiFernet)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from tracker.settings import Environment, Settings


class FieldCipher:
    """Encrypts and decrypts text fields; the first key encrypts, every key decrypts."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError as error:
            raise ValueError(
                "an encryption key is not a Fernet key (url-safe base64 of 32 bytes)"
            ) from error
        self._root = base64.urlsafe_b64decode(keys[0].encode())

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (e.g. signing cookies), derived from the newest key."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self._root
        )

    def encrypt(self, plaintext: str) -> str:
        """Encrypt one value to a url-safe token."""
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt one token; raises ValueError when no key fits."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as error:
            raise ValueError(
                "encrypted field cannot be decrypted with the configured keys"
            ) from error


def development_key(data_dir: Path) -> str:
    """Read, or create once, the development key file next to the embedded database."""
    path = data_dir / "encryption.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    # Created 0600 so the embedded default does not leave a world-readable key behind.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key


def cipher_from_settings(settings: Settings) -> FieldCipher:
    """The cipher for these settings; a development install gets a generated local key."""
    keys = [key.get_secret_value() for key in settings.encryption_keys]
    if not keys:
        if settings.environment is not Environment.DEVELOPMENT:
            raise ValueError("TRACKER_ENCRYPTION_KEYS is required outside development")
        keys = [development_key(settings.data_dir)]
    return FieldCipher(keys)


def new_key() -> SecretStr:
    """A fresh Fernet key, for `tracker keys generate`."""
    return SecretStr(Fernet.generate_key().decode())
