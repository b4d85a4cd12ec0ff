"""Reviewers' passwords: how long they may be, and how they are hashed (argon2id)."""

from __future__ import annotations

from argon2 import PasswordHasher

from foureyes.server.domain.errors import InvalidParameterError
from foureyes.server.settings import Settings

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


def password_hasher(settings: Settings) -> PasswordHasher:
    """argon2id; the defaults are argon2-cffi's (RFC 9106's low-memory profile)."""
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParameterError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidParameterError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
