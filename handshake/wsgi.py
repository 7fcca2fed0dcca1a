"""The handshake as a lean WSGI route (see `hintpartner.lean`).

A handshake POST is signed by Hint and answered with a line of JSON: it needs none of the pages'
middleware (sessions, CSRF, static files, frame headers, CSP). The answer and its headers come
from the same functions as the Django view's (`services.handshake_answer`,
`services.answer_headers`); the CORS preflight (OPTIONS) still goes to the view.
"""

import json
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from handshake import services
from hintpartner.lean import django_request

logger = logging.getLogger("hintpartner.handshake")


def receive(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """POST /hint/handshake."""
    with django_request():
        try:
            stream = environ["wsgi.input"]
            status, answer = services.handshake_answer(
                declared_length=environ.get("CONTENT_LENGTH"),
                read_body=lambda size: stream.read(size) if size else b"",
                signature=environ.get("HTTP_X_HINT_SIGNATURE"),
            )
        except Exception:
            # What Django answers for an unexpected error, without its page; detail in the log.
            logger.exception("handshake could not be answered")
            status, answer = 500, {"error": "The handshake failed; open the app again from Hint."}
    body = json.dumps(answer).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
            *services.answer_headers(environ.get("HTTP_ORIGIN", "")),
        ],
    )
    return [body]
