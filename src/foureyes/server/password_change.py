"""A signed-in person changes their own password.

The current password is required (a session left open on a shared screen must not be enough to
take the account over), checked with argon2 and throttled like a sign-in, so the form cannot be
used to guess it. The new one must meet the same rules as at sign-up. Every other session of the
person ends with the change, and their open live streams with it (``announce``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from argon2.exceptions import InvalidHashError, VerificationError

from foureyes.server.domain.errors import LockedOutError, UnauthorizedError
from foureyes.server.passwords import check_password
from foureyes.server.people import People, hash_secret

logger = logging.getLogger(__name__)


def change_password(
    people: People,
    announce: Callable[[], None],
    *,
    user_id: int,
    session_token: str,
    current: str,
    new: str,
    address: str,
) -> None:
    """Raise ``UnauthorizedError`` for a wrong current password, ``LockedOutError`` while
    throttled, ``InvalidParameterError`` for a new password that breaks the rules."""
    user = people.get_user(user_id)
    if user is None or user.password_hash is None:
        raise UnauthorizedError("sign in again to change your password")
    wait = people.throttle.reserve(user.email, address)
    if wait > 0:
        raise LockedOutError(wait)
    try:
        people.hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        logger.info("password change of user %d refused: wrong current password", user.id)
        raise UnauthorizedError("the current password is wrong") from None
    people.throttle.succeeded(user.email, address)
    check_password(new)
    people.store.change_password(user.id, people.hasher.hash(new), hash_secret(session_token))
    logger.info("user %d changed their password; their other sessions ended", user.id)
    announce()
