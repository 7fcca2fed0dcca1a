"""The sandbox's Provider API over real HTTP: Hint's list shape, filters, tokens, limits."""

import concurrent.futures
import json

import pytest
import requests

from tests.e2e.live import PRACTICE_A, PRACTICE_B

pytestmark = pytest.mark.e2e


def _url(sandbox, path: str) -> str:
    return sandbox.sandbox_url + path


def test_it_lists_patients_as_a_bare_array_with_count_headers(sandbox):
    response = sandbox.provider(PRACTICE_A).get(_url(sandbox, "/api/provider/patients"))
    assert response.status_code == 200
    assert isinstance(response.json(), list)
    assert len(response.json()) == 10  # Hint's default limit
    assert response.headers["X-Count"] == "10"
    every = sandbox.provider(PRACTICE_A).get(
        _url(sandbox, "/api/provider/patients"), params={"limit": 100}
    )
    assert response.headers["X-Total-Count"] == str(len(every.json())) == every.headers["X-Count"]
    assert int(response.headers["X-Total-Count"]) >= 50


def test_it_paginates_with_limit_and_offset(sandbox):
    session = sandbox.provider(PRACTICE_A)
    url = _url(sandbox, "/api/provider/patients")
    every = session.get(url, params={"limit": 100}).json()
    first = session.get(url, params={"limit": 30}).json()
    rest = session.get(url, params={"limit": 30, "offset": 30}).json()
    assert len(first) == 30 and len(rest) == min(30, len(every) - 30)
    assert [p["id"] for p in first + rest] == [p["id"] for p in every][: len(first) + len(rest)]


def test_it_sorts_by_one_field_either_way(sandbox):
    session = sandbox.provider(PRACTICE_A)
    names = [
        p["last_name"]
        for p in session.get(
            _url(sandbox, "/api/provider/patients"), params={"sort": "-last_name", "limit": 50}
        ).json()
    ]
    assert names == sorted(names, reverse=True)
    bad = session.get(_url(sandbox, "/api/provider/patients"), params={"sort": "password"})
    assert bad.status_code == 422
    assert bad.json()["status"] == 422


def test_string_filters_ignore_case(sandbox):
    session = sandbox.provider(PRACTICE_A)
    one = session.get(_url(sandbox, "/api/provider/patients"), params={"limit": 1}).json()[0]
    found = session.get(
        _url(sandbox, "/api/provider/patients"),
        params={"last_name": one["last_name"].upper(), "limit": 100},
    ).json()
    assert one["id"] in {p["id"] for p in found}
    assert all(p["last_name"] == one["last_name"] for p in found)
    by_email = session.get(
        _url(sandbox, "/api/provider/patients"), params={"email": one["email"].upper()}
    ).json()
    assert [p["id"] for p in by_email] == [one["id"]]
    by_dob = session.get(_url(sandbox, "/api/provider/patients"), params={"dob": one["dob"]}).json()
    assert one["id"] in {p["id"] for p in by_dob}


def test_updated_after_works_in_both_documented_encodings(sandbox):
    session = sandbox.provider(PRACTICE_A)
    every = session.get(
        _url(sandbox, "/api/provider/patients"), params={"limit": 100, "sort": "updated_at"}
    ).json()
    pivot = every[len(every) // 2]["updated_at"]
    expected = {p["id"] for p in every if p["updated_at"] > pivot}
    brackets = session.get(
        _url(sandbox, "/api/provider/patients"), params={"updated_at[gt]": pivot, "limit": 100}
    ).json()
    as_json = session.get(
        _url(sandbox, "/api/provider/patients"),
        params={"updated_at": json.dumps({"gt": pivot}), "limit": 100},
    ).json()
    assert {p["id"] for p in brackets} == expected == {p["id"] for p in as_json}
    assert expected


def test_archived_patients_appear_only_when_asked(sandbox):
    created = sandbox.trigger(PRACTICE_B, "create", fields={"last_name": "Archivist"})
    sandbox.trigger(PRACTICE_B, "deactivate", patient_id=created["patient_id"])
    session = sandbox.provider(PRACTICE_B)
    url = _url(sandbox, "/api/provider/patients")
    default = session.get(url, params={"last_name": "Archivist"}).json()
    archived = session.get(url, params={"last_name": "Archivist", "filter": "archived"}).json()
    every = session.get(url, params={"last_name": "Archivist", "filter": "all"}).json()
    assert created["patient_id"] not in {p["id"] for p in default}
    assert [p["id"] for p in archived] == [created["patient_id"]]
    assert created["patient_id"] in {p["id"] for p in every}


def test_a_patient_has_hints_shape(sandbox):
    session = sandbox.provider(PRACTICE_A)
    patient = session.get(_url(sandbox, "/api/provider/patients"), params={"limit": 1}).json()[0]
    for name in (
        "id",
        "first_name",
        "last_name",
        "dob",
        "sex",
        "gender_identity",
        "email",
        "phones",
        "practitioner",
        "health_insurance_payer_name",
        "hipaa_authorization_accepted",
        "patient_agreement_accepted",
        "membership_status",
        "integration_record_id",
        "provider_web_link",
        "created_at",
        "updated_at",
    ):
        assert name in patient
    assert patient["phones"][0]["type"] in ("mobile", "home", "office")
    assert set(patient["practitioner"]) == {"id", "name"}
    assert patient["provider_web_link"] == f"{sandbox.sandbox_url}/patients/{patient['id']}/"


def test_create_get_patch_and_delete_by_hint_id_or_integration_record_id(sandbox):
    session = sandbox.provider(PRACTICE_A)
    url = _url(sandbox, "/api/provider/patients")
    created = session.post(
        url,
        json={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "dob": "1985-12-10",
            "phones": [{"type": "home", "number": "(303) 555-0100"}],
        },
    )
    assert created.status_code == 201
    patient_id = created.json()["id"]
    patched = session.patch(f"{url}/{patient_id}", json={"integration_record_id": "contact-77"})
    assert patched.json()["integration_record_id"] == "contact-77"
    assert session.put(f"{url}/contact-77", json={"email": "ada@example.com"}).status_code == 200
    assert session.get(f"{url}/contact-77").json()["email"] == "ada@example.com"
    assert session.delete(f"{url}/{patient_id}").status_code == 200
    assert session.get(f"{url}/{patient_id}").status_code == 404


def test_invalid_patients_are_refused_with_hints_error_body(sandbox):
    session = sandbox.provider(PRACTICE_A)
    url = _url(sandbox, "/api/provider/patients")
    blank = session.post(url, json={"first_name": "", "last_name": "X"})
    assert blank.status_code == 422
    assert blank.json() == {
        "status": 422,
        "message": "Validation failed: First name can't be blank",
    }
    assert (
        session.post(url, data=b"{nope", headers={"Content-Type": "application/json"}).status_code
        == 400
    )
    assert (
        session.post(url, json={"first_name": "A", "last_name": "B", "sex": "x"}).status_code == 422
    )


def test_practices_never_see_each_others_patients(sandbox):
    b_patient = sandbox.patients(PRACTICE_B, limit=1)[0]
    a_session = sandbox.provider(PRACTICE_A)
    response = a_session.get(_url(sandbox, f"/api/provider/patients/{b_patient['id']}"))
    assert response.status_code == 404
    assert (
        a_session.patch(
            _url(sandbox, f"/api/provider/patients/{b_patient['id']}"), json={"first_name": "X"}
        ).status_code
        == 404
    )


def test_matching_finds_the_patient_by_name_and_dob(sandbox):
    patient = sandbox.patients(PRACTICE_A, limit=1)[0]
    response = sandbox.provider(PRACTICE_A).post(
        _url(sandbox, "/api/provider/patients/matching"),
        json={
            "first_name": patient["first_name"].lower(),
            "last_name": patient["last_name"],
            "dob": patient["dob"],
        },
    )
    assert response.status_code == 200
    assert patient["id"] in {p["id"] for p in response.json()}


def test_partner_interactions_keep_their_integration_record_id(sandbox):
    patient = sandbox.patients(PRACTICE_A, limit=1)[0]
    session = sandbox.provider(PRACTICE_A)
    base = _url(sandbox, f"/api/provider/patients/{patient['id']}/interactions/partner")
    created = session.post(
        base, json={"status": "draft", "title": "Visit", "integration_record_id": "note-9"}
    )
    assert created.status_code == 201
    interaction = created.json()
    assert interaction["type"] == "partner" and interaction["id"]
    signed = session.patch(f"{base}/{interaction['id']}", json={"status": "signed"})
    assert signed.json()["status"] == "signed"
    listed = session.get(
        _url(sandbox, "/api/provider/interactions"),
        params={"patient_id": patient["id"], "type": "partner"},
    ).json()
    mine = [i for i in listed if i["id"] == interaction["id"]]
    assert mine[0]["integration_record_id"] == "note-9"
    assert session.post(base, json={"status": "bogus"}).status_code == 422


def test_the_partner_key_is_refused_with_428(sandbox):
    response = requests.get(
        _url(sandbox, "/api/provider/patients"),
        headers={"Authorization": f"Bearer {sandbox.secrets['HINT_API_KEY']}"},
    )
    assert response.status_code == 428
    assert response.json() == {"status": 428, "message": "This action requires a Practice"}


def test_unknown_and_missing_tokens_are_refused_with_401(sandbox):
    url = _url(sandbox, "/api/provider/patients")
    assert requests.get(url, headers={"Authorization": "Bearer made-up"}).status_code == 401
    assert requests.get(url).status_code == 401


def test_a_burst_above_the_rate_limit_gets_429_with_retry_after(sandbox):
    session = sandbox.provider(PRACTICE_A)
    url = _url(sandbox, "/api/provider/patients")
    with (
        sandbox.faults(rate_limit_per_second=5),
        concurrent.futures.ThreadPoolExecutor(4) as pool,
    ):
        answers = list(pool.map(lambda _: session.get(url, params={"limit": 1}), range(20)))
    limited = [r for r in answers if r.status_code == 429]
    assert limited, [r.status_code for r in answers]
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert limited[0].json()["status"] == 429
    assert any(r.status_code == 200 for r in answers)


def test_injected_errors_answer_500(sandbox):
    session = sandbox.provider(PRACTICE_A)
    with sandbox.faults(fault_error_rate=1.0):
        response = session.get(_url(sandbox, "/api/provider/patients"))
    assert response.status_code == 500
    assert session.get(_url(sandbox, "/api/provider/patients")).status_code == 200
