"""Answer one delivery from Hint: verify, store once, acknowledge.

Shared by the Django view (`views.webhook_receive`) and the lean WSGI route (`webhooks.wsgi`),
so both give the same answer to the same bytes. No other work happens inside the request.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError

from hintpartner.hint import decode, signing
from webhooks import inbox

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024

Answer = tuple[int, dict[str, Any]]


def _refusal(status: int, message: str) -> Answer:
    return status, {"status": status, "message": message}


# Hint retries any delivery not answered 2xx within about 10 seconds (exponential backoff or
# hourly for 72 hours, muted after 100 failures in a row). So a 4xx here means "Hint will keep
# sending this and it will keep failing": only for deliveries that are not Hint's (forged,
# oversized, malformed). Everything Hint could legitimately send gets a 200. A 5xx means "send it
# again": only for a failure that may pass (the database unreachable), never for the body itself.
def delivery_answer(
    *, declared_length: str | None, read_body: Callable[[int], bytes], signature: str | None
) -> Answer:
    """(status, JSON answer) for one POST; `read_body(n)` reads the body's n bytes."""
    declared = declared_length or "0"
    if not declared.isdigit():
        return _refusal(400, "The Content-Length header is not a number.")
    if int(declared) > MAX_BODY_BYTES:
        # 413 before reading a byte: Hint's events are small, a megabyte is not one of them.
        # Hint would retry it, and it would keep failing; nothing is stored.
        return _refusal(413, "The body is larger than 1 MB.")
    body = read_body(int(declared))
    if len(body) > MAX_BODY_BYTES:
        return _refusal(413, "The body is larger than 1 MB.")
    if not signing.verify(body, signature, settings.HINT_WEBHOOK_SECRET):
        # 401: not signed with our secret. Hint retries; a real Hint delivery failing here
        # means the secret is wrong in our configuration, which the log line helps find.
        logger.warning(
            "webhook signature refused: %s",
            signing.describe_mismatch(body, signature, settings.HINT_WEBHOOK_SECRET),
        )
        return _refusal(401, "The signature does not match.")
    try:
        payload = decode.json_body(body, what="webhook body")
    except decode.BodyRefused as exc:
        # 400: signed but unreadable (not JSON, NaN/Infinity, absurd nesting, not text); Hint's
        # retries would fail the same way.
        return _refusal(400, str(exc))
    try:
        inbox.event_receive(payload=payload, body=body)
    except inbox.EventInvalid as exc:
        # 400: signed JSON that is not an event (not an object, no type) cannot be stored.
        return _refusal(400, str(exc))
    except (OperationalError, InterfaceError):
        # 503: the database is unreachable; nothing was stored, and Hint's retry will store it.
        logger.exception("webhook delivery not stored: the database is unavailable")
        return _refusal(503, "Not stored: the database is unavailable; send it again later.")
    # 200: stored (a repeat is kept once and never handled twice: the worker's sort drops it).
    # Unknown types and unknown or disconnected practices are sorted as ignored or kept apart,
    # and also get 200, or Hint would retry forever.
    return 200, {"received": True}
