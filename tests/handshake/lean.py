"""A test client whose handshake POSTs go through the project's WSGI application, as gunicorn
calls it (so they take the lean route, `handshake.wsgi`); everything else is Django's client."""

import json
from typing import Any

from django.http import HttpResponse
from django.test import Client

from tests.webhooks.conftest import LeanClient

URL = "/hint/handshake"


class LeanRouteClient(Client):
    def post(self, path: str, data: Any = None, content_type: str = "", **extra: Any) -> Any:
        if path != URL:
            return super().post(path, data, content_type=content_type, **extra)
        lean = LeanClient().post(path, data or b"", content_type=content_type, **extra)
        # Proof that the lean route answered: the pages' middleware adds this header.
        assert "X-Frame-Options" not in lean.headers
        response = HttpResponse(lean.content, status=lean.status_code)
        for name, value in lean.headers.items():
            response[name] = value
        response.json = lambda: json.loads(lean.content)  # type: ignore[attr-defined]
        return response
