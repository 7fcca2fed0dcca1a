"""`practice_api`: Hint's API with the practice token; a refused token disconnects the practice."""

from typing import Any

import pytest

from handshake.hint_access import NotInstalled, practice_api
from handshake.models import Practice
from hintpartner.hint import errors

pytestmark = pytest.mark.django_db


def test_it_calls_hint_with_the_practice_token(
    practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    mocked_hint.get(f"{hint_url}/api/provider/patients/pat-1", json={"id": "pat-1"})
    assert practice_api(practice_a).patient_get(patient_id="pat-1") == {"id": "pat-1"}
    assert mocked_hint.calls[0].request.headers["Authorization"] == "Bearer practice-a-token"


def test_a_refused_token_disconnects_the_practice_and_still_raises(
    practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    mocked_hint.get(f"{hint_url}/api/provider/patients/pat-1", status=401, json={})
    with pytest.raises(errors.HintUnauthorized):
        practice_api(practice_a).patient_get(patient_id="pat-1")
    assert not Practice.objects.connected().filter(pk=practice_a.pk).exists()


def test_a_refusal_while_paging_disconnects_the_practice_too(
    practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    mocked_hint.get(f"{hint_url}/api/provider/patients", status=401, json={})
    pages = practice_api(practice_a).patients_iter()
    with pytest.raises(errors.HintUnauthorized):
        list(pages)
    practice_a.refresh_from_db()
    assert practice_a.installation_status == Practice.InstallationStatus.DISCONNECTED


def test_other_failures_leave_the_practice_connected(
    practice_a: Practice, mocked_hint: Any, hint_url: str
) -> None:
    mocked_hint.get(f"{hint_url}/api/provider/patients/pat-1", status=404, json={})
    with pytest.raises(errors.HintNotFound):
        practice_api(practice_a).patient_get(patient_id="pat-1")
    assert Practice.objects.connected().filter(pk=practice_a.pk).exists()


def test_a_practice_without_a_token_is_not_installed(practice_a: Practice) -> None:
    Practice.objects.filter(pk=practice_a.pk).update(token="")
    with pytest.raises(NotInstalled):
        practice_api(practice_a)
