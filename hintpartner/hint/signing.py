"""Hint's signatures: `X-Hint-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.

Handshakes and webhooks are signed alike with HINT_WEBHOOK_SECRET. The sandbox imports this
module too, so both sides of every test share one implementation.
"""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hint-Signature"
SIGNATURE_META_KEY = "HTTP_X_HINT_SIGNATURE"
_SCHEME = "sha256="


def sign(body: bytes, secret: str) -> str:
    """The header value Hint sends for `body` signed with `secret`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return _SCHEME + digest


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """True when `header` is the signature of the raw `body`; constant-time comparison."""
    if not header or not secret:
        return False
    header = header.strip()
    if not header.startswith(_SCHEME):
        return False
    expected = sign(body, secret)
    return hmac.compare_digest(header.encode(), expected.encode())


def describe_mismatch(body: bytes, header: str | None, secret: str) -> str:
    """A log line that helps debug a refused signature without leaking the secret."""
    expected = sign(body, secret) if secret else "(no secret configured)"
    received = (header or "(missing)")[:15]
    return f"body {len(body)} bytes, received {received}…, expected {expected[:15]}…"
