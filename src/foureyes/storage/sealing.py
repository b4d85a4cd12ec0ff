"""Webhook signing secrets sealed at rest, with a key kept in a file apart from the database.

Whoever holds an endpoint's signing secret can forge webhooks that its receiver trusts, so the
database never holds one in the clear: ``webhook_endpoints.secret`` and ``previous_secret`` are
Fernet tokens (AES-128-CBC with an HMAC-SHA256, from the ``cryptography`` package), written as
``sealed:v1:<token>``. The key lives in its own file, created 0600 on first start: beside a SQLite
database (``foureyes.db`` -> ``foureyes.db.key``) unless ``FOUREYES_SECRET_KEY_FILE`` names
another path; on PostgreSQL every replica must be pointed at the same file. A copy of the
database without the key file cannot sign; losing the key file loses the secrets (rotate them).

A value without the prefix is read as it stands: rows written before migration 0005 sealed them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

logger = logging.getLogger(__name__)

PREFIX = "sealed:v1:"
# Used when no path is configured and the database is not a SQLite file.
DEFAULT_KEY_FILE = Path(".foureyes") / "secret.key"


class SealingKeyError(RuntimeError):
    """The key file cannot be read, or it is not the key the stored secrets were sealed with."""


class SecretBox:
    """Seals and opens the secrets stored in the database."""

    def __init__(self, key: bytes, path: Path | None = None) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise SealingKeyError(f"{path or 'the key'} does not hold a valid key") from None
        self.path = path
        self._key = key

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (e.g. signing email links), derived from this one, so
        the same key file serves every replica and no second secret needs keeping."""
        return hmac.new(self._key, b"foureyes/derive/" + purpose.encode("utf-8"), hashlib.sha256).digest()

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        """The key in ``path``, written there first (0600) when the file does not exist."""
        return cls(load_or_create_key(path), path)

    def seal(self, secret: str) -> str:
        return PREFIX + self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SealingKeyError(
                f"a webhook secret was sealed with another key than the one in {self.path}: "
                "point FOUREYES_SECRET_KEY_FILE at the key file this database was used with"
            ) from None


def key_file_for(database: str | None) -> Path:
    """Where the key lives when no path is configured: beside a SQLite database file."""
    if database:
        return Path(database + ".key")
    return DEFAULT_KEY_FILE


def load_or_create_key(path: Path) -> bytes:
    """Read the key; on first use write a new one, 0600, without ever replacing a file: of
    several processes starting together, the first to link its file wins and all read it."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(Fernet.generate_key() + b"\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(scratch, path)
            logger.warning(
                "created the key that seals the server's secrets (webhook secrets, Slack tokens, "
                "signing keys): %s (back it up apart)",
                path,
            )
    finally:
        scratch.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    with path.open("rb") as key_file:
        mode = os.fstat(key_file.fileno()).st_mode
        key = key_file.read().strip()
    if stat.S_IMODE(mode) & 0o077:
        logger.warning("%s can be read by other users; it should be mode 0600", path)
    return key
