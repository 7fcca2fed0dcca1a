"""The signed webhook receiver. Admin pages live in views_admin.py."""

import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from hintpartner.hint import signing
from webhooks import services

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"status": status, "message": message}, status=status)


# Hint retries any delivery not answered 2xx within about 10 seconds (exponential backoff or
# hourly for 72 hours, muted after 100 failures in a row). So a 4xx here means "Hint will keep
# sending this and it will keep failing": only for deliveries that are not Hint's (forged,
# oversized, malformed). Everything Hint could legitimately send gets a 200.
@csrf_exempt  # signed by Hint, not a browser form: the signature is the protection
@require_POST  # 405 otherwise; Hint only POSTs
def webhook_receive(request: HttpRequest) -> HttpResponse:
    """Verify, store once, queue, acknowledge: no other work inside the request."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit():
        return _answer(400, "The Content-Length header is not a number.")
    if int(declared) > MAX_BODY_BYTES:
        # 413 before reading a byte: Hint's events are small, a megabyte is not one of them.
        # Hint would retry it, and it would keep failing; nothing is stored.
        return _answer(413, "The body is larger than 1 MB.")
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return _answer(413, "The body is larger than 1 MB.")
    header = request.headers.get(signing.SIGNATURE_HEADER)
    if not signing.verify(body, header, settings.HINT_WEBHOOK_SECRET):
        # 401: not signed with our secret. Hint retries; a real Hint delivery failing here
        # means the secret is wrong in our configuration, which the log line helps find.
        logger.warning(
            "webhook signature refused: %s",
            signing.describe_mismatch(body, header, settings.HINT_WEBHOOK_SECRET),
        )
        return _answer(401, "The signature does not match.")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        # 400: signed but unreadable; Hint's retries would fail the same way.
        return _answer(400, "The body is not JSON.")
    try:
        created = services.event_receive(payload=payload)
    except services.EventInvalid as exc:
        # 400: a signed event without id, type or practice_id cannot be stored or acted on.
        return _answer(400, str(exc))
    # 200: stored (or stored before: a repeat adds no work). Unknown types and unknown or
    # disconnected practices are stored as ignored and also get 200, or Hint would retry forever.
    return JsonResponse({"received": True, "duplicate": not created})
