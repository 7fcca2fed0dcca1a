"""Connecting a practice starts its first pull of patients, so the mirror fills without a click."""

import json
from pathlib import Path

import pytest
from django.test import Client

from handshake.models import Practice
from sync.models import BackfillRun, Patient
from tests.webhooks.conftest import load_event

pytestmark = pytest.mark.django_db

INSTALLATION = (
    Path(__file__).resolve().parent.parent / "data" / "handshake" / "installation_active.json"
)


@pytest.fixture(autouse=True)
def _product(settings) -> None:
    settings.HINT_PRODUCT_ID = "ppro-sandbox"


def test_connecting_pulls_every_patient_of_the_practice_once(
    client: Client, mocked_hint, hint_url: str, django_capture_on_commit_callbacks
) -> None:
    mocked_hint.post(
        hint_url + "/api/partner/installations/connect",
        json=json.loads(INSTALLATION.read_text()),
    )
    patient = {**load_event("patient_created")["object"], "id": "pat-first"}
    mocked_hint.get(hint_url + "/api/provider/patients", json=[patient])

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/hint/connect/code-1").status_code == 200
    practice = Practice.objects.get(hint_id="pra-cccc")
    assert Patient.objects.for_practice(practice).filter(hint_id="pat-first").exists()
    assert BackfillRun.objects.for_practice(practice).count() == 1
    sent = [c.request for c in mocked_hint.calls if "/api/provider/" in c.request.url]
    assert sent[0].headers["Authorization"] == "Bearer practice-c-token"

    # Connecting again (Hint repeats the code post) starts no second full pull.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/hint/connect/code-1").status_code == 200
    assert BackfillRun.objects.for_practice(practice).count() == 1
