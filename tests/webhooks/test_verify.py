"""foureyes.webhooks.verify: the SDK-side check a receiver runs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys

import pytest

from foureyes import WebhookVerificationError
from foureyes.webhooks import generate_secret, sign, verify

BODY = json.dumps({"type": "function_call.completed", "is_test": False, "event": {"call_id": "c"}}).encode()
NOW = 1_800_000_000


def headers_for(secret: str, body: bytes = BODY, timestamp: int = NOW, wid: str = "msg_1") -> dict[str, str]:
    return {
        "webhook-id": wid,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, wid, timestamp, body),
    }


def test_sign_matches_an_independent_hmac() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    assert len(key) == 32
    expected = base64.b64encode(hmac.new(key, b"msg_1.%d." % NOW + BODY, hashlib.sha256).digest()).decode()
    assert sign(secret, "msg_1", NOW, BODY) == f"v1,{expected}"


def test_verify_accepts_and_returns_the_body() -> None:
    secret = generate_secret()
    assert verify(BODY, headers_for(secret), secret, now=NOW + 10)["event"] == {"call_id": "c"}
    # header names are case-insensitive
    upper = {k.upper(): v for k, v in headers_for(secret).items()}
    assert verify(BODY, upper, secret, now=NOW)["type"] == "function_call.completed"


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda h, b: (h, b + b" "), "no webhook signature matches"),
        (lambda h, b: (h | {"webhook-id": "msg_2"}, b), "no webhook signature matches"),
        (lambda h, b: (h | {"webhook-signature": "v1,AAAA"}, b), "no webhook signature matches"),
        (
            lambda h, b: (h | {"webhook-signature": "v2," + h["webhook-signature"][3:]}, b),
            "no webhook signature",
        ),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "webhook-signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), "webhook-id"),
        (lambda h, b: (h | {"webhook-timestamp": "soon"}, b), "not an integer"),
    ],
)
def test_verify_rejects_tampering(mutate: object, match: str) -> None:
    secret = generate_secret()
    headers, body = mutate(headers_for(secret), BODY)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError, match=match):
        verify(body, headers, secret, now=NOW)


def test_verify_rejects_old_and_future_timestamps() -> None:
    secret = generate_secret()
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, headers_for(secret), secret, now=NOW + 301)
    with pytest.raises(WebhookVerificationError, match="future"):
        verify(BODY, headers_for(secret), secret, now=NOW - 301)
    assert verify(BODY, headers_for(secret), secret, now=NOW + 600, tolerance=600)


def test_verify_with_several_secrets_and_several_signatures() -> None:
    old, new, other = generate_secret(), generate_secret(), generate_secret()
    both = headers_for(new)
    both["webhook-signature"] += " " + sign(old, "msg_1", NOW, BODY)
    assert verify(BODY, both, old, now=NOW)
    assert verify(BODY, both, new, now=NOW)
    assert verify(BODY, headers_for(old), [other, old], now=NOW)
    with pytest.raises(WebhookVerificationError):
        verify(BODY, both, other, now=NOW)


def test_verify_is_a_value_error_and_needs_no_server() -> None:
    assert issubclass(WebhookVerificationError, ValueError)
    code = "import sys, foureyes.webhooks; print(any(m.startswith('foureyes.server') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
