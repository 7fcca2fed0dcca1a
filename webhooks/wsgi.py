"""The webhook URL as a lean WSGI route (see `hintpartner.lean`).

A delivery needs none of the pages' middleware (sessions, CSRF, static files, frame headers): it
is signed, it is not a browser, and its answer is a line of JSON. Skipping them halves the CPU
each acknowledgement costs. The answer comes from the same function as the Django view's.
"""

import json
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from hintpartner.lean import django_request
from webhooks import receiver

logger = logging.getLogger(__name__)


def receive(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """POST /hint/webhooks."""
    with django_request():
        try:
            stream = environ["wsgi.input"]
            status, answer = receiver.delivery_answer(
                declared_length=environ.get("CONTENT_LENGTH"),
                read_body=lambda size: stream.read(size) if size else b"",
                signature=environ.get("HTTP_X_HINT_SIGNATURE"),
            )
        except Exception:
            # Hint retries anything that is not a 2xx: say so briefly, keep the detail in the log.
            logger.exception("webhook delivery could not be stored")
            status, answer = 500, {"status": 500, "message": "Not stored; send it again later."}
    body = json.dumps(answer).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
        ],
    )
    return [body]
