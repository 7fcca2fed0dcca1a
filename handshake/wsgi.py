"""The handshake as a lean WSGI route (see `hintpartner.lean`).

A handshake POST is signed by Hint and answered with a line of JSON: it needs none of the pages'
middleware (sessions, CSRF, static files, frame headers, CSP). The answer and its headers come
from the same functions as the Django view's (`services.handshake_answer`,
`services.answer_headers`); the CORS preflight (OPTIONS) still goes to the view.
"""

import logging

from handshake import services
from hintpartner.lean import json_route

receive = json_route(
    services.handshake_answer,
    # What Django answers for an unexpected error, without its page; detail in the log.
    failed=(500, {"error": "The handshake failed; open the app again from Hint."}),
    logger=logging.getLogger("hintpartner.handshake"),
    headers=lambda environ: services.answer_headers(environ.get("HTTP_ORIGIN", "")),
)
