"""The strict sandbox: Hint's API description as the contract, over real HTTP.

A body field or a query filter the description does not name is answered 422 naming it (in
Hint's error shape); values outside Hint's lists are refused; a lenient switch accepts both, as
Hint may. Our own client, pointed at the strict sandbox, fails on a misnamed field or filter.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.test import override_settings

from hintpartner.hint import api, errors
from tests.e2e.live import PRACTICE_A

pytestmark = pytest.mark.e2e

PATIENT = {"first_name": "Strict", "last_name": "Case"}


def _patients_url(sandbox: Any) -> str:
    return sandbox.sandbox_url + "/api/provider/patients"


def _refusal(response: requests.Response) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"status", "message"} and body["status"] == 422
    return str(body["message"])


@pytest.fixture(autouse=True)
def strict(sandbox: Any) -> None:
    """Strict is the default; say so rather than rely on the tests before."""
    assert sandbox.control("faults").json()["strict"] is True


@pytest.fixture
def lenient(sandbox: Any) -> Iterator[None]:
    sandbox.control("faults", {"strict": False}).raise_for_status()
    try:
        yield
    finally:
        sandbox.control("faults", {"strict": True}).raise_for_status()


@pytest.mark.parametrize("field", ["address_line_1", "gender", "external_link_id", "nickname"])
def test_an_unknown_or_deprecated_body_field_is_refused_naming_it(sandbox, field):
    session = sandbox.provider(PRACTICE_A)
    message = _refusal(session.post(_patients_url(sandbox), json={**PATIENT, field: "x"}))
    assert field in message


@pytest.mark.parametrize("param", ["updated_at[after]", "updated_since", "name"])
def test_an_unknown_query_filter_is_refused_naming_it(sandbox, param):
    session = sandbox.provider(PRACTICE_A)
    message = _refusal(session.get(_patients_url(sandbox), params={param: "2026-01-01"}))
    assert param in message


def test_the_lenient_switch_ignores_unknown_fields_and_filters(sandbox, lenient):
    session = sandbox.provider(PRACTICE_A)
    created = session.post(_patients_url(sandbox), json={**PATIENT, "address_line_1": "1 Main"})
    assert created.status_code == 201
    assert "address_line_1" not in created.json()
    assert session.get(_patients_url(sandbox), params={"updated_since": "x"}).status_code == 200


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"sex": "Female"}, "Sex"),
        ({"gender_identity": "female"}, "Gender identity"),
        ({"gender_identity": "not listed"}, "Gender other"),
        ({"dob": "04/02/1980"}, "Dob"),
        ({"dob": "1980-04-02T00:00:00"}, "Dob"),
        ({"preferred_language": "fr"}, "Preferred language"),
        ({"phones": [{"type": "mobile", "number": "555-0100"}]}, "us_formattable"),
        ({"phones": [{"type": "cell", "number": "2015550100"}]}, "type"),
        ({"phones": [{"number": "2015550100"}]}, "type"),
        ({"phones": [{"type": "home", "number": "2015550100", "us_formattable": "yes"}]}, "us"),
        ({"phones": [{"type": "home", "number": "2015550100", "ext": "2"}]}, "ext"),
    ],
)
def test_values_outside_hints_description_are_refused(sandbox, fields, words):
    session = sandbox.provider(PRACTICE_A)
    assert words in _refusal(session.post(_patients_url(sandbox), json={**PATIENT, **fields}))


def test_values_hint_accepts_are_kept_and_answered(sandbox):
    session = sandbox.provider(PRACTICE_A)
    body = {
        **PATIENT,
        "gender_identity": "not listed",
        "gender_other": "Two-spirit",
        "preferred_language": "es",
        "dob": "1980-04-02",
        "phones": [
            {"type": "mobile", "number": "2015550100", "us_formattable": True},
            {"type": "home", "number": "+44 20 7946 0958", "us_formattable": False},
        ],
    }
    created = session.post(_patients_url(sandbox), json=body)
    assert created.status_code == 201, created.text
    patient = created.json()
    assert (patient["gender_identity"], patient["gender_other"]) == ("not listed", "Two-spirit")
    assert patient["preferred_language"] == "es"
    assert patient["phones"] == body["phones"]
    changed = session.patch(
        f"{_patients_url(sandbox)}/{patient['id']}", json={"gender_identity": "nonbinary"}
    ).json()
    assert (changed["gender_identity"], changed["gender_other"]) == ("nonbinary", None)


def test_partner_interactions_accept_only_the_described_fields(sandbox):
    session = sandbox.provider(PRACTICE_A)
    patient_id = session.get(_patients_url(sandbox), params={"limit": 1}).json()[0]["id"]
    url = f"{_patients_url(sandbox)}/{patient_id}/interactions/partner"
    assert "type" in _refusal(session.post(url, json={"status": "draft", "type": "partner"}))
    created = session.post(url, json={"status": "draft", "title": "Note"})
    assert created.status_code == 201
    # The description requires `status` on an update too.
    assert "Status" in _refusal(session.patch(f"{url}/{created.json()['id']}", json={"title": "x"}))


@pytest.mark.django_db
def test_our_client_fails_on_a_misnamed_field_or_filter(sandbox):
    token = sandbox.install(PRACTICE_A)
    with override_settings(HINT_API_URL=sandbox.sandbox_url, HINT_BUDGET_STORE="process"):
        with pytest.raises(errors.HintBadRequest) as field:
            api.patient_create(token=token, fields={**PATIENT, "address_line_1": "1 Main St"})
        assert "address_line_1" in str(field.value)
        with pytest.raises(errors.HintBadRequest) as param:
            list(api.patients_iter(token=token, params={"updated_since": "2026-01-01"}))
        assert "updated_since" in str(param.value)
        # What the client sends by itself passes: the filter, the paging, a field-map body.
        assert api.patient_create(token=token, fields={**PATIENT, "address_line1": "1 Main St"})
        from django.utils import timezone

        assert isinstance(list(api.patients_iter(token=token, updated_after=timezone.now())), list)
