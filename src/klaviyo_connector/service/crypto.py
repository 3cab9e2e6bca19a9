"""Encryption of stored secrets and the owner-only files that hold the keys."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from klaviyo_connector.errors import ConfigError

OWNER_ONLY = 0o600
PRIVATE_DIR = 0o700
KEY = "Klaviyo API key"
CREDENTIALS = "destination credentials"


def ensure_private_dir(path: Path) -> None:
    """Creates a folder readable by its owner only; an existing folder is the
    user's, and keeps its mode (the files written into it are owner-only)."""
    if path.is_dir():
        return
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True)
    except FileExistsError:
        # Two connections' first runs may create the warehouse folder at once.
        if path.is_dir():
            return
        raise
    # mkdir's mode passes through the umask; the folder must not be shared.
    os.chmod(path, PRIVATE_DIR)


def new_fernet_key() -> str:
    return Fernet.generate_key().decode()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def read_or_create_secret(
    path: Path, factory: Callable[[], str] = new_fernet_key
) -> str:
    """A random secret kept in `path` with mode 0600, created on first use."""
    if path.exists():
        os.chmod(path, OWNER_ONLY)
        return path.read_text().strip()
    value = factory()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def _fernet_key(secret: str) -> bytes:
    """Accepts a Fernet key as is; derives one from any other passphrase."""
    try:
        Fernet(secret.encode())
        return secret.encode()
    except (ValueError, TypeError):
        digest = hashlib.sha256(b"klaviyo-connector:" + secret.encode()).digest()
        return base64.urlsafe_b64encode(digest)


class Vault:
    """Encrypts the Klaviyo keys and destination credentials at rest."""

    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(_fernet_key(secret))

    @classmethod
    def open(cls, data_dir: Path, env_secret: str | None) -> Vault:
        if env_secret:
            return cls(env_secret)
        return cls(read_or_create_secret(data_dir / "secret.key"))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str, what: str = KEY) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise Undecryptable(what) from exc

    def readable(self, token: str) -> bool:
        try:
            self._fernet.decrypt(token.encode())
        except InvalidToken:
            return False
        return True


class Undecryptable(ConfigError):
    """A stored secret was encrypted with another secret than this one."""

    def __init__(self, what: str = KEY) -> None:
        super().__init__(
            f"The stored {what} cannot be decrypted with this encryption secret.",
            fix="Restore the KLAVIYO_CONNECTOR_SECRET (or the data folder's "
            f"secret.key) it was saved with and restart, or re-enter the {what} "
            "on the connection's Settings tab.",
        )
