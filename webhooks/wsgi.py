"""The webhook URL as a lean WSGI route (see `hintpartner.lean`).

A delivery needs none of the pages' middleware (sessions, CSRF, static files, frame headers): it
is signed, it is not a browser, and its answer is a line of JSON. Skipping them halves the CPU
each acknowledgement costs. The answer comes from the same function as the Django view's.
"""

import logging

from hintpartner.lean import json_route
from webhooks import receiver

receive = json_route(
    receiver.delivery_answer,
    # Hint retries anything that is not a 2xx: say so briefly, keep the detail in the log.
    failed=(500, {"status": 500, "message": "Not stored; send it again later."}),
    logger=logging.getLogger(__name__),
)
