"""The shapes the app reads (hintpartner/hint/schemas/) and the fixtures that stand for Hint's
answers agree; a fixture or schema that drifts fails here."""

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.schemas import NAMES, problems, schema

DATA = Path(__file__).resolve().parent.parent / "data"

FIXTURES = [
    ("patient", "sync/patient.json"),
    ("installation", "handshake/installation_active.json"),
    ("interaction", "interactions/interaction_created.json"),
    ("interaction", "interactions/interactions_list_other.json"),
    *[("webhook_event", f"webhooks/{p.name}") for p in sorted((DATA / "webhooks").glob("*.json"))],
]


def _load(path: str) -> object:
    return json.loads((DATA / path).read_text())


@pytest.mark.parametrize("name", NAMES)
def test_every_schema_is_a_valid_json_schema(name):
    Draft202012Validator.check_schema(schema(name))


@pytest.mark.parametrize(("name", "path"), FIXTURES)
def test_every_fixture_has_the_shape_the_app_reads(name, path):
    data = _load(path)
    for item in data if isinstance(data, list) else [data]:
        assert problems(name, item) == [], path


def test_a_patient_value_outside_hints_lists_is_a_drift():
    patient = _load("sync/patient.json")
    assert problems("patient", {**patient, "gender_identity": "female"})
    assert problems("patient", {**patient, "dob": "04/02/1980"})
    assert problems("patient", {key: v for key, v in patient.items() if key != "id"})
    # Unknown fields are allowed (Hint adds them without notice), and both phone shapes pass.
    phones = [
        {"type": "mobile", "number": 2015550100, "us_formattable": True},
        {"type": "home", "number": "555-0100", "us_formattable": "false"},
    ]
    assert problems("patient", {**patient, "brand_new": 1, "phones": phones}) == []


def test_a_patient_event_carries_a_patient():
    event = _load("webhooks/patient_created.json")
    broken = copy.deepcopy(event)
    broken["object"]["sex"] = "f"
    assert problems("webhook_event", broken)
    assert problems("webhook_event", {**event, "type": "invoice.paid", "object": {}}) == []


def test_an_installation_names_its_token_in_either_documented_place():
    installation = _load("handshake/installation_active.json")
    older = {k: v for k, v in installation.items() if k != "api_keys"}
    assert problems("installation", {**older, "status": "connected", "access_token": "t"}) == []
    assert problems("installation", older)  # no token anywhere
