"""The Hint client: auth, retries, rate limit, pagination, typed errors, no token leaks."""

import json
import logging

import pytest
import requests
import responses
from django.test import override_settings

from hintpartner.hint import api, client, errors

TOKEN = "practice-token-123"
PATIENTS = "https://api.hint.test/api/provider/patients"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(client, "_sleep", waits.append)
    return waits


def test_it_sends_the_bearer_token_and_reads_json(mocked_hint: responses.RequestsMock) -> None:
    mocked_hint.get(PATIENTS + "/pat-1", json={"id": "pat-1", "first_name": "Ada"})
    patient = api.patient_get(token=TOKEN, patient_id="pat-1")
    assert patient["first_name"] == "Ada"
    assert mocked_hint.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_it_honours_retry_after_on_429(mocked_hint: responses.RequestsMock, no_sleep: list) -> None:
    mocked_hint.get(PATIENTS + "/pat-1", status=429, headers={"Retry-After": "3"})
    mocked_hint.get(PATIENTS + "/pat-1", json={"id": "pat-1"})
    assert api.patient_get(token=TOKEN, patient_id="pat-1") == {"id": "pat-1"}
    assert 3.0 in no_sleep
    assert len(mocked_hint.calls) == 2


def test_it_gives_up_with_rate_limited_after_every_retry(
    mocked_hint: responses.RequestsMock,
) -> None:
    mocked_hint.get(PATIENTS + "/pat-1", status=429)
    with pytest.raises(errors.HintRateLimited):
        api.patient_get(token=TOKEN, patient_id="pat-1")
    assert len(mocked_hint.calls) == 5  # one try and HINT_MAX_RETRIES (4) retries


def test_a_post_is_retried_after_429_because_hint_did_not_process_it(
    mocked_hint: responses.RequestsMock,
) -> None:
    mocked_hint.post(PATIENTS, status=429)
    mocked_hint.post(PATIENTS, json={"id": "pat-9"}, status=201)
    assert api.patient_create(token=TOKEN, fields={"first_name": "A", "last_name": "B"}) == {
        "id": "pat-9"
    }


def test_it_retries_a_get_after_503(mocked_hint: responses.RequestsMock) -> None:
    mocked_hint.get(PATIENTS + "/pat-1", status=503)
    mocked_hint.get(PATIENTS + "/pat-1", status=502)
    mocked_hint.get(PATIENTS + "/pat-1", json={"id": "pat-1"})
    assert api.patient_get(token=TOKEN, patient_id="pat-1")["id"] == "pat-1"


def test_it_does_not_retry_an_unsafe_post_after_503(mocked_hint: responses.RequestsMock) -> None:
    mocked_hint.post(PATIENTS, status=503)
    with pytest.raises(errors.HintUnavailable):
        api.patient_create(token=TOKEN, fields={"first_name": "A", "last_name": "B"})
    assert len(mocked_hint.calls) == 1


def test_a_timeout_on_a_post_is_reported_as_uncertain(mocked_hint: responses.RequestsMock) -> None:
    mocked_hint.post(PATIENTS, body=requests.ReadTimeout("slow"))
    with pytest.raises(errors.HintTimeout) as caught:
        api.patient_create(token=TOKEN, fields={"first_name": "A", "last_name": "B"})
    assert caught.value.uncertain
    assert len(mocked_hint.calls) == 1


def test_the_matching_post_is_retried_because_it_is_a_read(
    mocked_hint: responses.RequestsMock,
) -> None:
    mocked_hint.post(PATIENTS + "/matching", status=503)
    mocked_hint.post(PATIENTS + "/matching", json=[{"id": "pat-1"}])
    assert api.patient_matching(token=TOKEN, demographics={"first_name": "A"}) == [{"id": "pat-1"}]


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"status": 401, "message": "Unauthorized"}, errors.HintUnauthorized),
        (404, {"status": 404, "message": "Not found"}, errors.HintNotFound),
        (
            422,
            {"status": 422, "message": "Validation failed: First name can't be blank"},
            errors.HintBadRequest,
        ),
        (428, {"error": {"message": "This action requires a Practice"}}, errors.HintWrongKey),
        (500, {"message": "boom"}, errors.HintUnavailable),
    ],
)
def test_it_raises_typed_errors_with_hints_explanation(
    mocked_hint: responses.RequestsMock, status: int, body: dict, error: type
) -> None:
    mocked_hint.get(PATIENTS + "/pat-1", status=status, json=body)
    with pytest.raises(error) as caught:
        api.patient_get(token=TOKEN, patient_id="pat-1")
    message = body.get("message") or body["error"]["message"]
    assert message in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_a_2xx_that_is_not_json_is_an_invalid_response(mocked_hint: responses.RequestsMock) -> None:
    mocked_hint.get(PATIENTS + "/pat-1", body="<html>oops</html>")
    with pytest.raises(errors.HintInvalidResponse):
        api.patient_get(token=TOKEN, patient_id="pat-1")


def test_pagination_walks_every_page_and_stops_on_a_short_one(
    mocked_hint: responses.RequestsMock,
) -> None:
    def page(request: requests.PreparedRequest) -> tuple[int, dict, str]:
        params = dict(p.split("=") for p in request.url.split("?")[1].split("&"))
        offset, limit = int(params["offset"]), int(params["limit"])
        ids = [f"pat-{i}" for i in range(offset, min(offset + limit, 250))]
        return 200, {"X-Total-Count": "250"}, json.dumps([{"id": i} for i in ids])

    mocked_hint.add_callback(responses.GET, PATIENTS, callback=page)
    patients = list(api.patients_iter(token=TOKEN))
    assert [p["id"] for p in patients] == [f"pat-{i}" for i in range(250)]
    assert len(mocked_hint.calls) == 3
    assert "limit=100" in mocked_hint.calls[0].request.url


def _capped_pages(total: int | None, cap: int):
    """A list endpoint that never returns more than `cap` rows, whatever `limit` asks."""

    def page(request: requests.PreparedRequest) -> tuple[int, dict, str]:
        params = dict(p.split("=") for p in request.url.split("?")[1].split("&"))
        offset, limit = int(params["offset"]), min(int(params["limit"]), cap)
        ids = [f"pat-{i}" for i in range(offset, min(offset + limit, total or 120))]
        headers = {} if total is None else {"X-Total-Count": str(total)}
        return 200, headers, json.dumps([{"id": i} for i in ids])

    return page


def test_pagination_follows_x_total_count_past_pages_hint_capped_below_the_limit(
    mocked_hint: responses.RequestsMock,
) -> None:
    mocked_hint.add_callback(responses.GET, PATIENTS, callback=_capped_pages(230, cap=50))
    patients = list(api.patients_iter(token=TOKEN))
    assert [p["id"] for p in patients] == [f"pat-{i}" for i in range(230)]
    offsets = [c.request.url.split("offset=")[1].split("&")[0] for c in mocked_hint.calls]
    assert offsets == ["0", "50", "100", "150", "200"]


def test_without_x_total_count_a_short_page_ends_the_walk(
    mocked_hint: responses.RequestsMock,
) -> None:
    mocked_hint.add_callback(responses.GET, PATIENTS, callback=_capped_pages(None, cap=100))
    assert len(list(api.patients_iter(token=TOKEN))) == 120
    assert len(mocked_hint.calls) == 2


def test_an_empty_page_ends_the_walk_even_when_the_total_says_more(
    mocked_hint: responses.RequestsMock,
) -> None:
    mocked_hint.get(PATIENTS, json=[{"id": "pat-0"}], headers={"X-Total-Count": "5"})
    mocked_hint.get(PATIENTS, json=[], headers={"X-Total-Count": "5"})
    assert [p["id"] for p in api.patients_iter(token=TOKEN)] == ["pat-0"]
    assert len(mocked_hint.calls) == 2


def test_the_partner_key_is_never_sent_to_the_provider_api(
    mocked_hint: responses.RequestsMock, settings: object
) -> None:
    with pytest.raises(errors.HintWrongKey):
        api.patient_get(token=settings.HINT_API_KEY, patient_id="pat-1")
    assert len(mocked_hint.calls) == 0


def test_partner_calls_use_the_partner_key_and_the_marketplace_header(
    mocked_hint: responses.RequestsMock, settings: object
) -> None:
    mocked_hint.post(
        "https://api.hint.test/api/partner/installations/connect",
        json={
            "id": "inst-1",
            "status": "active",
            "practice": {"id": "pra-1", "name": "Clinic"},
            "product": {"id": "ppro-1"},
            "api_keys": [{"id": "k", "token": "the-practice-token"}],
        },
    )
    installation = api.installation_connect(code="one-time")
    sent = mocked_hint.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {settings.HINT_API_KEY}"
    assert sent.headers["Hint-Version"] == "marketplace_endpoints"
    assert installation.token == "the-practice-token"
    assert installation.practice_id == "pra-1"
    assert "the-practice-token" not in repr(installation)


def test_the_older_oauth_answer_gives_the_token_from_access_token() -> None:
    installation = api.installation_from_answer(
        {"id": "i", "status": "connected", "access_token": "tok", "practice": {"id": "prc-1"}}
    )
    assert installation.token == "tok"
    assert installation.status == "active"


def test_tokens_never_reach_the_logs(
    mocked_hint: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked_hint.get(PATIENTS + "/pat-1", status=429, headers={"Retry-After": "0"})
    mocked_hint.get(PATIENTS + "/pat-1", status=401, json={"message": "revoked"})
    with pytest.raises(errors.HintUnauthorized):
        api.patient_get(token=TOKEN, patient_id="pat-1")
    assert TOKEN not in caplog.text


@override_settings(HINT_RATE_LIMIT_PER_SECOND=10.0)
def test_the_client_spaces_requests_to_stay_under_the_rate_limit(
    mocked_hint: responses.RequestsMock, no_sleep: list[float]
) -> None:
    mocked_hint.get(PATIENTS + "/pat-1", json={"id": "pat-1"})
    for _ in range(5):
        api.patient_get(token="fresh-token-for-limit", patient_id="pat-1")
    # Five calls at 10/s with the clock standing still: each later call waits for its own slot,
    # 0.1 s after the one before.
    assert no_sleep == pytest.approx([0.1, 0.2, 0.3, 0.4], abs=0.05)
