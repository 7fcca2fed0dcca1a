"""Handshake test fixtures."""

import pytest
from django.test import Client

from tests.handshake.lean import LeanRouteClient


@pytest.fixture(params=["view", "lean"])
def both_routes(request: pytest.FixtureRequest) -> Client:
    """The same case against the Django view and against the lean route (`handshake.wsgi`)."""
    return Client() if request.param == "view" else LeanRouteClient()
