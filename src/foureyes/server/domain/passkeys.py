"""``Passkeys``: reviewers' WebAuthn credentials, signing in with them, and step-up.

The WebAuthn ceremonies are py_webauthn's (``webauthn``): it builds the options a browser needs
and checks what the authenticator answered (origin, relying-party id, signature, flags). What
is ours is where challenges come from and that each is answered at most once: every challenge
is stored under the SHA-256 of a random nonce the browser sends back, and the row is deleted when
the answer is checked, so a replayed answer finds nothing.

Step-up binds an assertion to one decision: its challenge is SHA-256 of the canonical JSON of
the call id, the request's digest (``spec_digest``: the function and arguments, or the
question), the verdict (naming the digest of the arguments too when a reviewer edited them
before approving) and the nonce. The server derives it again from the item as stored when
the answer comes back, so an assertion made for one request, verdict or version of the
arguments is refused for any other.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from foureyes.server.domain.errors import (
    InvalidInputError,
    NotFoundError,
    StepUpRequiredError,
    UnauthorizedError,
)
from foureyes.server.domain.items import canonical_digest
from foureyes.storage import Database, ItemRecord
from foureyes.storage import passkeys as rows
from foureyes.storage.passkeys import ChallengeRecord, PasskeyRecord
from foureyes.storage.people import UserRecord

logger = logging.getLogger(__name__)

# How long a browser has to answer a challenge (the WebAuthn timeout it is given, plus slack).
CHALLENGE_SECONDS = 300
REGISTER, SIGN_IN, STEP_UP = "register", "sign_in", "step_up"
ADD_ONE = "add a passkey on your account page (/inbox/account), then decide it in the inbox"


def step_up_message(item_kind: str) -> str:
    """What a decision without a passkey assertion is told, wherever it came from."""
    what = "request" if item_kind == "function_call" else "question"
    return (
        f"this {what} needs step-up: it can only be decided in the inbox, confirmed with a passkey "
        f"of the person deciding ({ADD_ONE})"
    )


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the host name they are scoped to and the origin pages come from."""

    id: str
    origin: str
    name: str = "foureyes"

    def check(self) -> None:
        """Browsers scope passkeys to a host name, never to an IP address: say so before a
        ceremony starts rather than let the browser fail with a bare SecurityError."""
        try:
            ipaddress.ip_address(self.id.strip("[]"))
        except ValueError:
            if self.id:
                return
        raise InvalidInputError(
            f"passkeys need the inbox at a host name, not {self.id or 'no host'!r}: open it at "
            "http://localhost:<port> on this machine, or set FOUREYES_PUBLIC_URL to its https address"
        )


@dataclass(frozen=True)
class Ceremony:
    """Options for ``navigator.credentials`` (JSON) and the nonce to send back with the answer."""

    nonce: str
    options: str


def step_up_challenge(call_id: str, spec_digest: str, verdict: str, nonce: str) -> bytes:
    digest = canonical_digest(["foureyes step-up", call_id, spec_digest, verdict, nonce])
    return bytes.fromhex(digest)


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


class Passkeys:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    # ------------------------------------------------------------------ the person's own passkeys

    def list_for(self, user_id: int) -> list[PasskeyRecord]:
        with self._db.read() as conn:
            return rows.of_user(conn, user_id)

    def remove(self, user_id: int, passkey_id: int) -> None:
        with self._db.write() as tx:
            if not rows.remove(tx.conn, user_id, passkey_id):
                raise NotFoundError("you have no passkey by that id")
        logger.info("user %d removed passkey %d", user_id, passkey_id)

    def registration_options(self, rp: RelyingParty, user: UserRecord) -> Ceremony:
        rp.check()
        existing = self.list_for(user.id)
        options = generate_registration_options(
            rp_id=rp.id,
            rp_name=rp.name,
            user_id=str(user.id).encode(),
            user_name=user.email,
            user_display_name=user.display_name,
            timeout=(CHALLENGE_SECONDS - 60) * 1000,
            # discoverable, so the sign-in page needs no address typed first
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id)) for p in existing
            ],
        )
        return Ceremony(
            self._remember(REGISTER, options.challenge, user_id=user.id), options_to_json(options)
        )

    def register(
        self, rp: RelyingParty, user: UserRecord, nonce: str, credential: str, name: str
    ) -> PasskeyRecord:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInputError("give the passkey a name of 1 to 200 characters")
        found = self._take(nonce, REGISTER, user.id)
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=found.challenge,
                expected_rp_id=rp.id,
                expected_origin=rp.origin,
                require_user_verification=True,
            )
        except WebAuthnException as exc:
            raise InvalidInputError(f"the passkey could not be registered: {exc}") from exc
        credential_id = bytes_to_base64url(verified.credential_id)
        with self._db.write() as tx:
            if rows.by_credential_id(tx.conn, credential_id) is not None:
                raise InvalidInputError("this passkey is registered already")
            added = rows.add(
                tx.conn,
                user.id,
                credential_id,
                verified.credential_public_key,
                verified.sign_count,
                name,
                self._clock(),
            )
        logger.info("user %d registered passkey %d", user.id, added.id)
        return added

    # ------------------------------------------------------------------ signing in

    def sign_in_options(self, rp: RelyingParty) -> Ceremony:
        rp.check()
        options = generate_authentication_options(
            rp_id=rp.id,
            timeout=(CHALLENGE_SECONDS - 60) * 1000,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return Ceremony(self._remember(SIGN_IN, options.challenge), options_to_json(options))

    def sign_in(self, rp: RelyingParty, nonce: str, credential: str) -> int:
        """The id of the person whose passkey answered the sign-in challenge."""
        try:
            found = self._take(nonce, SIGN_IN, None)
            return self._verify(rp, found.challenge, credential, None).user_id
        except StepUpRequiredError as exc:
            raise UnauthorizedError(f"the passkey did not sign you in: {exc.message}") from exc

    # ------------------------------------------------------------------ step-up

    def step_up_options(self, rp: RelyingParty, user_id: int, item: ItemRecord, verdict: str) -> Ceremony:
        rp.check()
        mine = self.list_for(user_id)
        if not mine:
            raise StepUpRequiredError(f"you have no passkey yet: {ADD_ONE}")
        nonce = secrets.token_urlsafe(32)
        challenge = step_up_challenge(item.call_id, item.spec_digest, verdict, nonce)
        options = generate_authentication_options(
            rp_id=rp.id,
            challenge=challenge,
            timeout=(CHALLENGE_SECONDS - 60) * 1000,
            allow_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id)) for p in mine
            ],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        self._remember(STEP_UP, challenge, user_id=user_id, item_id=item.id, verdict=verdict, nonce=nonce)
        return Ceremony(nonce, options_to_json(options))

    def verify_step_up(
        self, rp: RelyingParty, user_id: int, item: ItemRecord, verdict: str, nonce: str, credential: str
    ) -> str:
        """The credential id of the person's passkey that confirmed this decision (``verdict`` on
        ``item`` as it is stored now); StepUpRequiredError when it did not."""
        found = self._take(nonce, STEP_UP, user_id)
        if found.item_id != item.id or found.verdict != verdict:
            raise StepUpRequiredError(
                "the passkey confirmation was made for another decision: decide again and confirm it"
            )
        # Derived again from the item as it is now: a changed request no longer matches.
        expected = step_up_challenge(item.call_id, item.spec_digest, verdict, nonce)
        used = self._verify(rp, expected, credential, user_id)
        logger.info("step-up by user %d with passkey %d for %r", user_id, used.id, item.call_id)
        return used.credential_id

    # ------------------------------------------------------------------ challenges

    def _remember(
        self,
        purpose: str,
        challenge: bytes,
        *,
        user_id: int | None = None,
        item_id: int | None = None,
        verdict: str | None = None,
        nonce: str | None = None,
    ) -> str:
        nonce = nonce or secrets.token_urlsafe(32)
        now = self._clock()
        with self._db.write() as tx:
            rows.prune_challenges(tx.conn, now)
            rows.add_challenge(
                tx.conn,
                _nonce_hash(nonce),
                purpose,
                challenge,
                now + timedelta(seconds=CHALLENGE_SECONDS),
                user_id=user_id,
                item_id=item_id,
                verdict=verdict,
            )
        return nonce

    def _take(self, nonce: str, purpose: str, user_id: int | None) -> ChallengeRecord:
        with self._db.write() as tx:
            found = rows.take_challenge(tx.conn, _nonce_hash(nonce), self._clock())
        if found is None or found.purpose != purpose or found.user_id != user_id:
            raise StepUpRequiredError("this passkey confirmation was already used or has expired: try again")
        return found

    def _verify(
        self, rp: RelyingParty, challenge: bytes, credential: str, user_id: int | None
    ) -> PasskeyRecord:
        """Check an assertion against ``challenge``: the passkey it came from, its use recorded."""
        try:
            raw_id = _credential_id(credential)
        except ValueError as exc:
            raise StepUpRequiredError("the passkey's answer is not valid WebAuthn JSON") from exc
        with self._db.read() as conn:
            passkey = rows.by_credential_id(conn, raw_id)
        if passkey is None or (user_id is not None and passkey.user_id != user_id):
            raise StepUpRequiredError("this passkey is not one of yours registered here")
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=rp.id,
                expected_origin=rp.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=True,
            )
        except WebAuthnException as exc:
            raise StepUpRequiredError(f"the passkey confirmation was not accepted: {exc}") from exc
        with self._db.write() as tx:
            if not rows.record_use(tx.conn, passkey, verified.new_sign_count, self._clock()):
                raise StepUpRequiredError("this passkey confirmation was already used: try again")
        return passkey


def _credential_id(credential: str) -> str:
    """The credential id (base64url) an assertion names, as its JSON carries it."""
    try:
        parsed = json.loads(credential)
        raw = parsed["rawId"] if "rawId" in parsed else parsed["id"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("not an assertion") from exc
    if not isinstance(raw, str):
        raise ValueError("not an assertion")
    # normalised through bytes, so padding or other spellings of the same id match
    return bytes_to_base64url(base64url_to_bytes(raw))
